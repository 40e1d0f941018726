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
statuses, the longest time without a successful request (max_gap_s), the first few failures, and
requests/s. Exit status 0 whatever happened; the caller judges the numbers.

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
        url = urllib.parse.urlsplit(args.url)
        self.https = url.scheme == "https"
        self.host = url.hostname
        self.port = url.port or (443 if self.https else 80)
        self.context = ssl.create_default_context(cafile=args.cafile) if self.https else None
        if self.https and args.insecure_hostname:
            self.context.check_hostname = False
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

    def connect(self):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.args.timeout, context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.args.timeout)

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
            name = "%s%s%s" % (self.args.prefix, letters(index), letters(n))
            n += 1
            for method, path, body in (("PUT", "/hello/" + name, json.dumps({"dateOfBirth": "1990-06-15"})),
                                       ("GET", "/hello/" + name, None)):
                try:
                    status, data = self.call(conn, method, path, body)
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = self.connect()
                    self.record(None, "%s %s" % (method, path), repr(exc))
                    break
                if method == "GET" and status == 200 and ("Hello, %s!" % name) not in data:
                    status = 299  # a 200 with the wrong message: counted apart from 200
                self.record(status, "%s %s" % (method, path), data)
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
        lost = self.verify()
        ok = sum(v for k, v in self.statuses.items() if k.startswith("2") and k != "299")
        return {
            "requests": self.requests, "ok": ok, "non_2xx": self.requests - self.errors - ok, "errors": self.errors,
            "statuses": self.statuses, "acknowledged_writes": len(self.acknowledged), "lost_writes": len(lost),
            "lost_examples": lost[:5], "max_gap_s": round(self.max_gap, 3),
            "max_gap_started_s": None if self.max_gap_at is None else round(self.max_gap_at, 3),
            "elapsed_s": round(elapsed, 3), "requests_per_s": round(self.requests / elapsed, 1) if elapsed else 0,
            "failures": self.failures,
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
