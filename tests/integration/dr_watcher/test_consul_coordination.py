# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The region-failure watcher's coordination through a real Consul agent (TLS, ACLs on, default
deny): observations published and read back from the KV store, one decider at a time through a
session lock, the lock passing to another observer when the decider's session ends.

Run by tests/integration/run.sh with the environment of testbed/local-consul.sh (CONSUL_HTTP_ADDR,
CONSUL_HTTP_TOKEN, CONSUL_CACERT). Region A and region B's Patroni are addresses nothing listens on
(so region A is "gone" and region B is no standby cluster: the watcher must not act); region A's
entry point is, in one test, a real HTTP server on loopback.
"""

import http.server
import importlib.machinery
import importlib.util
import json
import os
import pathlib
import socket
import threading
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
SCRIPT = REPO / "roles" / "dr_watcher" / "files" / "hello-dr-watcher"
_loader = importlib.machinery.SourceFileLoader("hello_dr_watcher", str(SCRIPT))
_spec = importlib.util.spec_from_loader("hello_dr_watcher", _loader)
watcher = importlib.util.module_from_spec(_spec)
_loader.exec_module(watcher)

ADDR = os.environ.get("CONSUL_HTTP_ADDR", "")
if not ADDR:
    raise RuntimeError("CONSUL_HTTP_ADDR is not set: run through tests/integration/run.sh (testbed/local-consul.sh)")
URL = ADDR if ADDR.startswith("http") else "https://" + ADDR
TOKEN = os.environ["CONSUL_HTTP_TOKEN"]
CA = os.environ["CONSUL_CACERT"]


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def prefix():
    name = f"hello-test/dr-watcher-{uuid.uuid4().hex[:8]}"
    yield name
    http = watcher.Http(CA, 5)
    http.request("DELETE", f"{URL}/v1/kv/{name}?recurse", headers={"X-Consul-Token": TOKEN})


def make(tmp_path, node, prefix, entry_url=None):
    token_file = tmp_path / f"{node}.token"
    token_file.write_text(TOKEN + "\n")
    cfg = {
        "node": node, "datacenter": "dc2", "interval": 1, "probe_timeout": 1,
        "region_a": {"entry_urls": [entry_url or f"https://127.0.0.1:{closed_port()}/"],
                     "patroni_urls": [f"https://127.0.0.1:{closed_port()}"]},
        "region_b_patroni_urls": [f"https://127.0.0.1:{closed_port()}"],
        "consul": {"url": URL, "ca_file": CA, "token_file": str(token_file), "prefix": prefix},
    }
    path = tmp_path / f"{node}.json"
    path.write_text(json.dumps(cfg))
    return watcher.Watcher(watcher.load_config(path))


def test_observations_are_shared_and_only_one_observer_decides(tmp_path, prefix):
    b1, b2 = make(tmp_path, "b1", prefix), make(tmp_path, "b2", prefix)
    first, second = b1.round(), b2.round()
    assert first["decider"] is True
    assert second["decider"] is False
    # Region B's Patroni does not answer, so it is no standby cluster: nothing to promote.
    assert first["state"] == "not-standby"
    seen = {o.observer: o for o in b1.consul.observations()}
    assert set(seen) == {"b1", "b2"}
    assert all(not o.entry_up and not o.leader_up and o.down_since is not None for o in seen.values())
    # The decider keeps the lock round after round.
    assert b1.round()["decider"] is True
    assert b2.round()["decider"] is False


def test_the_lock_passes_on_when_the_deciders_session_ends(tmp_path, prefix):
    b1, b2 = make(tmp_path, "b1", prefix), make(tmp_path, "b2", prefix)
    assert b1.round()["decider"] is True
    status, _body = b1.consul.http.request("PUT", f"{URL}/v1/session/destroy/{b1.consul.session}", "",
                                           {"X-Consul-Token": TOKEN})
    assert status == 200
    # The lock delay (5 s) keeps a released lock from being taken at once.
    deadline = 8
    taken = False
    for _attempt in range(deadline * 2):
        if b2.round()["decider"]:
            taken = True
            break
        threading.Event().wait(0.5)
    assert taken, "b2 never took the decider lock after b1's session ended"


def test_a_reachable_entry_point_is_seen(tmp_path, prefix):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # The handler answers 501 to GET: any answer means the entry point is reachable.
        b1 = make(tmp_path, "b1", prefix, entry_url=f"http://127.0.0.1:{server.server_address[1]}/")
        report = b1.round()
    finally:
        server.shutdown()
    assert report["observation"]["entry_up"] is True
    assert report["observation"]["down_since"] is None


def test_a_token_without_rights_is_an_error_that_says_so(tmp_path, prefix):
    b1 = make(tmp_path, "b1", prefix)
    b1.consul.headers = {"X-Consul-Token": str(uuid.uuid4())}
    with pytest.raises(RuntimeError, match=r"consul: PUT .*observations/b1: 403"):
        b1.round()
