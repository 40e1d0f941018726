"""TCP connection probes, all at once: which ports a host's firewall lets this host reach.

Usage: python3 probe.py TIMEOUT JSON   where JSON is a list of [address, port].
Prints a JSON object {"address:port": "open" | "refused" | "filtered"}:
open = connected, refused = the host answered with a reset (the firewall let the packet through,
nothing listens), filtered = no answer within TIMEOUT seconds (dropped).
"""

import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def probe(target, timeout):
    address, port = target
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address, int(port)))
        state = "open"
    except ConnectionRefusedError:
        state = "refused"
    except (TimeoutError, socket.timeout):
        state = "filtered"
    except OSError as exc:
        state = "error: %s" % exc
    finally:
        sock.close()
    return "%s:%s" % (address, port), state


def main():
    timeout = float(sys.argv[1])
    targets = json.loads(sys.argv[2])
    with ThreadPoolExecutor(max_workers=min(256, max(1, len(targets)))) as pool:
        results = dict(pool.map(lambda t: probe(t, timeout), targets))
    json.dump(results, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
