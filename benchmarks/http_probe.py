# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP probe: a client of the hello service that records every response.

Each of --concurrency threads keeps one keep-alive connection to --url (normally the load
balancer) and loops: PUT /hello/<new name> with a date of birth, then GET it back and check the
message. Every response is counted by status; a connection error or timeout counts as an error
(the thread reconnects at once). A PUT answered 204 is an acknowledged write.

It runs for --duration seconds, or until --stop-file exists (so a test can start it, do something
disruptive, then stop it). At the end it re-reads every acknowledged user through the same URL
(lost = acknowledged but not found) and prints one JSON line: requests, ok, non_2xx, errors,
statuses, the longest time without a successful request (max_gap_s), the longest time without an
acknowledged write with its start and end in epoch seconds (max_write_gap_*, so that a caller can set
it against the moment it injected a fault; no end = writes had not come back when the probe stopped),
the first few failures, and requests/s. Exit status 0 whatever happened; the caller judges the numbers.

Standard library only (runs on any controller). TLS is verified against --cafile.
"""

import argparse
import http.client
import json
import os
import ssl
import string
import threading
import time
import urllib.parse


def letters(n):
    """Sequence number -> letters only (the service accepts A-Z and a-z)."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = string.ascii_lowercase[r] + out
        if n == 0:
            return out


class Probe:
    def __init__(self, args):
        self.args = args
        # --url first, then each --fallback-url: the client's view of a global name with health-checked
        # failover (the seed's Route53 record): a URL whose connection failed, or that answered 503 (no
        # writable leader behind it), is avoided for --failover-hold seconds, then tried again first.
        self.urls = []
        for text in [args.url] + list(args.fallback_url or []):
            url = urllib.parse.urlsplit(text)
            https = url.scheme == "https"
            self.urls.append((https, url.hostname, url.port or (443 if https else 80)))
        self.context = ssl.create_default_context(cafile=args.cafile) if any(u[0] for u in self.urls) else None
        if self.context is not None and args.insecure_hostname:
            self.context.check_hostname = False
        self.down_since = {}
        self.served_by = {}
        self.lock = threading.Lock()
        self.statuses = {}
        self.errors = 0
        self.failures = []
        self.acknowledged = []
        self.requests = 0
        self.last_ok = None
        self.max_gap = 0.0
        self.max_gap_at = None
        self.started = time.time()
        # Acknowledged writes only (PUT answered 204): the write outage a client saw, in epoch seconds.
        self.last_write = None
        self.write_gap = (0.0, None, None)

    def pick(self):
        """Index of the first URL not marked down within the last --failover-hold seconds."""
        now = time.time()
        with self.lock:
            for i in range(len(self.urls)):
                if now - self.down_since.get(i, 0.0) >= self.args.failover_hold:
                    return i
        return 0

    def connect(self, index=None):
        index = self.pick() if index is None else index
        https, host, port = self.urls[index]
        if https:
            conn = http.client.HTTPSConnection(host, port, timeout=self.args.timeout, context=self.context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.args.timeout)
        conn.hello_url_index = index
        return conn

    def mark_down(self, conn):
        with self.lock:
            self.down_since[conn.hello_url_index] = time.time()

    def record(self, status, what, body=""):
        now = time.time()
        with self.lock:
            self.requests += 1
            if status is None:
                self.errors += 1
            else:
                self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if status is not None and 200 <= status < 300:
                gap = now - (self.last_ok or self.started)
                if gap > self.max_gap:
                    self.max_gap, self.max_gap_at = gap, (self.last_ok or self.started) - self.started
                self.last_ok = now
                if what.startswith("PUT ") and status == 204:
                    since = self.last_write or self.started
                    if now - since > self.write_gap[0]:
                        self.write_gap = (now - since, since, now)
                    self.last_write = now
            elif len(self.failures) < 10:
                self.failures.append({"t": round(now - self.started, 3), "request": what, "status": status, "detail": body[:200]})

    def call(self, conn, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        return resp.status, data

    def worker(self, index, stop):
        conn = self.connect()
        n = 0
        while not stop():
            if len(self.urls) > 1 and self.pick() != conn.hello_url_index:
                conn.close()
                conn = self.connect()
            name = "%s%s%s" % (self.args.prefix, letters(index), letters(n))
            n += 1
            for method, path, body in (("PUT", "/hello/" + name, json.dumps({"dateOfBirth": "1990-06-15"})),
                                       ("GET", "/hello/" + name, None)):
                try:
                    status, data = self.call(conn, method, path, body)
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    self.mark_down(conn)
                    self.record(None, "%s %s" % (method, path), repr(exc))
                    conn = self.connect()
                    break
                if method == "GET" and status == 200 and ("Hello, %s!" % name) not in data:
                    status = 299  # a 200 with the wrong message: counted apart from 200
                self.record(status, "%s %s" % (method, path), data)
                if status == 503 and len(self.urls) > 1:
                    # Unhealthy, as a health check of the global name sees it (the region has no
                    # writable leader): use the next URL for --failover-hold seconds.
                    self.mark_down(conn)
                    conn.close()
                    conn = self.connect()
                    break
                if 200 <= status < 300:
                    with self.lock:
                        key = "%s:%s" % self.urls[conn.hello_url_index][1:]
                        self.served_by[key] = self.served_by.get(key, 0) + 1
                if method == "PUT":
                    if status != 204:
                        break
                    with self.lock:
                        self.acknowledged.append(name)
            if self.args.interval:
                time.sleep(self.args.interval)
        conn.close()

    def run(self):
        deadline = self.started + self.args.duration

        def stop():
            if time.time() >= deadline:
                return True
            return bool(self.args.stop_file) and os.path.exists(self.args.stop_file)

        threads = [threading.Thread(target=self.worker, args=(i, stop), daemon=True) for i in range(self.args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - self.started
        if self.last_ok is not None and time.time() - self.last_ok > self.max_gap:
            self.max_gap, self.max_gap_at = time.time() - self.last_ok, self.last_ok - self.started
        # A trailing gap counts as an outage not over (no end) when it is longer than any before it
        # and than a second (every client's last write is a little before it stops).
        end = time.time()
        since = self.last_write or self.started
        if end - since > max(self.write_gap[0], 1.0):
            self.write_gap = (end - since, since, None)
        lost = self.verify()
        ok = sum(v for k, v in self.statuses.items() if k.startswith("2") and k != "299")
        return {
            "requests": self.requests, "ok": ok, "non_2xx": self.requests - self.errors - ok, "errors": self.errors,
            "statuses": self.statuses, "acknowledged_writes": len(self.acknowledged), "lost_writes": len(lost),
            "lost_examples": lost[:5], "max_gap_s": round(self.max_gap, 3),
            "max_gap_started_s": None if self.max_gap_at is None else round(self.max_gap_at, 3),
            "elapsed_s": round(elapsed, 3), "requests_per_s": round(self.requests / elapsed, 1) if elapsed else 0,
            "failures": self.failures, "started_at": round(self.started, 3),
            "max_write_gap_s": round(self.write_gap[0], 3),
            "max_write_gap_from": None if self.write_gap[1] is None else round(self.write_gap[1], 3),
            "max_write_gap_to": None if self.write_gap[2] is None else round(self.write_gap[2], 3),
            "last_write_at": None if self.last_write is None else round(self.last_write, 3),
            "served_by": self.served_by,
        }

    def verify(self):
        """Names whose PUT was acknowledged but whose GET does not answer 200 now.

        Read back by --concurrency threads, each with its own connection (thousands of names after
        a long run: one connection alone took minutes)."""
        lost = []
        names = list(self.acknowledged)
        chunks = [names[i::self.args.concurrency] for i in range(self.args.concurrency)]

        def check(chunk):
            conn = self.connect()
            for name in chunk:
                status = None
                for attempt in range(3):
                    try:
                        status, dummy = self.call(conn, "GET", "/hello/" + name)
                        break
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        self.mark_down(conn)
                        conn = self.connect()
                        time.sleep(0.5)
                if status != 200:
                    with self.lock:
                        lost.append(name)
            conn.close()

        threads = [threading.Thread(target=check, args=(chunk,), daemon=True) for chunk in chunks if chunk]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sorted(lost)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL, e.g. https://10.0.0.7")
    parser.add_argument("--fallback-url", action="append", help="used while --url does not connect or answers 503 (repeatable, in order)")
    parser.add_argument("--failover-hold", type=float, default=2.0,
                        help="seconds a URL whose connection failed is avoided before it is tried first again")
    parser.add_argument("--cafile", help="CA bundle that signs the load balancer's certificate")
    parser.add_argument("--insecure-hostname", action="store_true", help="do not check the certificate's host name")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run at most")
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.0, help="pause between two PUT+GET rounds of a thread")
    parser.add_argument("--timeout", type=float, default=15.0, help="per-request timeout")
    parser.add_argument("--prefix", default="probe", help="letters that start every user name")
    args = parser.parse_args()
    if not args.prefix.isalpha() or not args.prefix.isascii():
        parser.error("--prefix must be ASCII letters")
    result = Probe(args).run()
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
