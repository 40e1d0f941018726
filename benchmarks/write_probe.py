# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write probe: writes on the path clients use and records every acknowledged write.

Connects like the hello service does (libpq, the DB hosts as a multi-host list with
target_session_attrs=read-write, as app_user over TLS) and runs the seed's MERGE into
hello.birthdays every --interval seconds, with a new username per write (letters only, as the
service requires). Each acknowledged write is recorded with its time. On a connection error it
reconnects at once (the leader may have moved) and keeps trying until --duration is over.

At the end it re-reads which acknowledged usernames exist (lost = acknowledged but missing) and
prints one JSON line: writes acknowledged, lost, the longest gap between two acknowledged writes
(the write outage a client saw), when that gap started, and errors seen. With --cleanup it
deletes its rows afterwards (needs a role that may delete; app_user may not, so run as the owner).

Needs psycopg2 (Debian: python3-psycopg2). The password comes from PGPASSWORD.
"""

import argparse
import json
import string
import sys
import time

import psycopg2

MERGE = ("MERGE INTO hello.birthdays trgt USING (VALUES (%(u)s, %(b)s::date)) AS src(username, birthday) "
         "ON trgt.username = src.username "
         "WHEN MATCHED THEN UPDATE SET birthday = src.birthday "
         "WHEN NOT MATCHED THEN INSERT (username, birthday) VALUES (src.username, src.birthday)")


def name(prefix, n):
    """Sequence number -> letters only (a..z digits), e.g. probeq + 'baa'."""
    letters = string.ascii_lowercase
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = letters[r] + out
        if n == 0:
            return prefix + out


def connect(args):
    return psycopg2.connect(host=args.hosts, port=args.port, dbname="hello", user=args.user, sslmode=args.sslmode,
                            target_session_attrs="read-write", connect_timeout=2, application_name="write_probe")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", required=True, help="comma-separated DB hosts (libpq multi-host)")
    ap.add_argument("--port", default="5432")
    ap.add_argument("--user", default="app_user")
    ap.add_argument("--sslmode", default="require")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds to write for")
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between writes")
    ap.add_argument("--prefix", default="probe", help="username prefix (letters only)")
    ap.add_argument("--cleanup", action="store_true", help="delete the probe's rows at the end")
    args = ap.parse_args()

    acked = []          # (username, time acknowledged)
    errors = {}
    conn = None
    n = 0
    start = time.time()
    while time.time() - start < args.duration:
        try:
            if conn is None:
                conn = connect(args)
                conn.autocommit = True
            user = name(args.prefix, n)
            with conn.cursor() as cur:
                cur.execute(MERGE, {"u": user, "b": "2000-01-01"})
            acked.append((user, time.time()))
            n += 1
        except psycopg2.Error as e:
            key = (str(e).strip().splitlines() or ["?"])[0][:120]
            errors[key] = errors.get(key, 0) + 1
            try:
                if conn is not None:
                    conn.close()
            except psycopg2.Error:
                pass
            conn = None
            time.sleep(0.05)
            continue
        time.sleep(args.interval)

    # Which acknowledged writes survived? Read on the current leader.
    deadline = time.time() + 60
    while True:
        try:
            conn = connect(args)
            break
        except psycopg2.Error:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
    with conn.cursor() as cur:
        cur.execute("SELECT username FROM hello.birthdays WHERE username LIKE %s", (args.prefix + "%",))
        present = {r[0] for r in cur.fetchall()}
        lost = [write[0] for write in acked if write[0] not in present]
        if args.cleanup:
            cur.execute("DELETE FROM hello.birthdays WHERE username LIKE %s", (args.prefix + "%",))
    conn.commit()
    conn.close()

    times = [start] + [write[1] for write in acked]
    gaps = [(b - a, a) for a, b in zip(times, times[1:])]
    gap, gap_start = max(gaps) if gaps else (0.0, start)
    print(json.dumps({
        "acknowledged": len(acked), "lost": len(lost), "lost_usernames": lost[:20],
        "max_gap_s": round(gap, 3), "max_gap_started_s": round(gap_start - start, 3),
        "duration_s": round(time.time() - start, 3), "errors": errors,
    }))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
