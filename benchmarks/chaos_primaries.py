# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Were there ever two writable primaries? Reads the chaos suite's per-node polls and tells.

During each fault of the chaos suite (molecule/chaos) every DB host runs a poller that asks its own
PostgreSQL, every 0.2 s, ``SELECT pg_is_in_recovery(), timeline_id FROM pg_control_checkpoint()``
and writes one line per answer: ``<epoch seconds> <t|f>,<timeline>`` (anything else after the time,
such as psql's error while the server is down, counts as not writable).

A node counts as writable from a sample that says ``f`` until its next sample, whatever that says
(so a node is assumed writable until it is seen not to be). A node that disappears (killed) stops
being writable at its last sample; so does one whose next sample comes more than 2 s later (the
poller was down with its host and was started again with it). The program sweeps all nodes' writable intervals and prints one
JSON object: the most nodes writable at the same moment (``max_writable``), every overlap with its
hosts and bounds, the writable hosts, each host's first and last timeline seen and its sample count.

Usage: python3 chaos_primaries.py HOST=FILE [HOST=FILE ...]   (standard library only)
"""

import json
import sys


def parse(text):
    """[(time, writable, timeline or None)] of one node's poll log, in time order."""
    out = []
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        try:
            when = float(parts[0])
        except ValueError:
            continue
        answer = parts[1].strip() if len(parts) > 1 else ""
        fields = answer.split(",")
        writable = fields[0] == "f" and len(fields) == 2
        timeline = int(fields[1]) if len(fields) == 2 and fields[1].isdigit() else None
        out.append((when, writable, timeline))
    out.sort(key=lambda s: s[0])
    return out


# A pause between two samples longer than this means the poller was not running (its host was
# killed or stopped and started again, and the poller restarted with it).
MAX_SAMPLE_GAP = 2.0


def writable_intervals(samples, max_gap=MAX_SAMPLE_GAP):
    """[(from, to)] during which the node may have been writable."""
    out = []
    for i, (when, writable, dummy) in enumerate(samples):
        if not writable:
            continue
        end = samples[i + 1][0] if i + 1 < len(samples) else when
        if end - when > max_gap:
            end = when
        if out and out[-1][1] >= when:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((when, end))
    return out


def overlaps(intervals_by_host):
    """Sweep: [(from, to, [hosts])] where two or more hosts were writable at once, and the maximum."""
    events = []
    for host, intervals in intervals_by_host.items():
        for start, end in intervals:
            if end > start:
                events.append((start, 1, host))
                events.append((end, -1, host))
    # At equal times, ends before starts: touching intervals do not overlap.
    events.sort(key=lambda e: (e[0], e[1]))
    active = set()
    best = 1 if any(intervals_by_host.values()) else 0
    found = []
    current = None
    for when, kind, host in events:
        if kind == 1:
            active.add(host)
        else:
            active.discard(host)
        if len(active) >= 2:
            best = max(best, len(active))
            if current is None:
                current = [when, when, set(active)]
            else:
                current[2] |= active
        elif current is not None:
            current[1] = when
            found.append((current[0], current[1], sorted(current[2])))
            current = None
    return best, found


def analyse(logs):
    """logs: {host: poll log text} -> the report."""
    samples = {host: parse(text) for host, text in logs.items()}
    intervals = {host: writable_intervals(s) for host, s in samples.items()}
    best, found = overlaps(intervals)
    timelines = {}
    for host, s in samples.items():
        seen = [sample[2] for sample in s if sample[2] is not None]
        timelines[host] = [seen[0], seen[-1]] if seen else []
    return {
        "max_writable": best,
        "overlaps": [{"from": round(a, 3), "to": round(b, 3), "seconds": round(b - a, 3), "hosts": h} for a, b, h in found],
        "writable_hosts": sorted(h for h, i in intervals.items() if i),
        "timelines": timelines,
        "samples": {host: len(s) for host, s in samples.items()},
    }


def main(argv):
    logs = {}
    for arg in argv:
        host, sep, path = arg.partition("=")
        if not sep:
            sys.stderr.write("usage: chaos_primaries.py HOST=FILE [HOST=FILE ...]\n")
            return 2
        with open(path, encoding="utf-8", errors="replace") as f:
            logs[host] = f.read()
    print(json.dumps(analyse(logs), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
