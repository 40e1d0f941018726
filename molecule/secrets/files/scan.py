# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Look for known secret values in logs, without ever printing one.

Reads the values from standard input, one per line (their names stay with the caller, which
matches them by line number), and scans:
  --journal     every journald entry of every boot, all fields (``journalctl -o json``), so a secret
                in a process's command line (_CMDLINE) counts as well as one in MESSAGE;
  --processes   the command lines of the running processes (what ``ps`` shows every local user);
  PATH ...      files, and directories recursively (binary files and ``--exclude`` paths skipped).
Prints one JSON object: ``findings`` (value index, source, line number; at most 50) and ``scanned``
(how much was read, so a caller can tell a clean result from an empty scan).
"""

import argparse
import json
import os
import re
import subprocess
import sys

MAX_FINDINGS = 50


def build_pattern(values):
    """One regular expression matching any of the values; the longest first."""
    ordered = sorted(set(values), key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered))


def scan_lines(lines, source, pattern, index, findings):
    count = 0
    for number, line in enumerate(lines, 1):
        count += 1
        if len(findings) >= MAX_FINDINGS:
            continue
        for match in pattern.finditer(line):
            findings.append({"secret": index[match.group(0)], "source": source, "line": number})
    return count


def scan_file(path, pattern, index, findings, scanned):
    try:
        with open(path, "rb") as handle:
            head = handle.read(8192)
            if b"\0" in head:
                scanned["binary_files_skipped"] += 1
                return
            handle.seek(0)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        scanned["unreadable"] += 1
        return
    scanned["files"] += 1
    scanned["bytes"] += len(text)
    scanned["lines"] += scan_lines(text.splitlines(), path, pattern, index, findings)


def walk(paths, excludes):
    for root in paths:
        if os.path.isfile(root):
            yield root
            continue
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = [d for d in subdirs if os.path.join(directory, d) not in excludes]
            for name in sorted(files):
                path = os.path.join(directory, name)
                if path not in excludes and os.path.isfile(path) and not os.path.islink(path):
                    yield path


def main():
    parser = argparse.ArgumentParser(description="Look for known secret values in logs.")
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--journal", action="store_true")
    parser.add_argument("--processes", action="store_true")
    parser.add_argument("--exclude", action="append", default=[])
    args = parser.parse_args()

    values = [line for line in sys.stdin.read().split("\n") if line]
    if not values:
        print(json.dumps({"error": "no secret values on standard input"}))
        return 2
    index = {}
    for number, value in enumerate(values):
        index.setdefault(value, number)
    pattern = build_pattern(values)
    findings = []
    scanned = {"values": len(values), "files": 0, "bytes": 0, "lines": 0, "journal_entries": 0,
               "processes": 0, "binary_files_skipped": 0, "unreadable": 0}

    if args.journal:
        proc = subprocess.Popen(["journalctl", "--no-pager", "-o", "json"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, errors="replace")
        scanned["journal_entries"] = scan_lines(proc.stdout, "journal", pattern, index, findings)
        if proc.wait() != 0:
            print(json.dumps({"error": "journalctl exited with %d" % proc.returncode}))
            return 2

    if args.processes:
        own = str(os.getpid())
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid == own:
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as handle:
                    cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            scanned["processes"] += 1
            scan_lines([cmdline], "command line of process %s" % pid, pattern, index, findings)

    excludes = {os.path.normpath(p) for p in args.exclude}
    for path in walk([os.path.normpath(p) for p in args.paths if os.path.exists(p)], excludes):
        scan_file(path, pattern, index, findings, scanned)

    print(json.dumps({"findings": findings[:MAX_FINDINGS], "scanned": scanned}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
