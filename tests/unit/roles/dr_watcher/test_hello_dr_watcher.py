# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the region-failure watcher's decision (roles/dr_watcher/files/hello-dr-watcher).

The decision is a pure function of the observers' latest observations and the clock, so every case
of docs/operations.md's table is tested here without servers; the Consul coordination runs against a real
Consul agent in tests/integration/dr_watcher/, and the whole watcher in the lab.
"""

import importlib.machinery
import importlib.util
import json
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[4]
SCRIPT = REPO / "roles" / "dr_watcher" / "files" / "hello-dr-watcher"
_loader = importlib.machinery.SourceFileLoader("hello_dr_watcher", str(SCRIPT))
_spec = importlib.util.spec_from_loader("hello_dr_watcher", _loader)
watcher = importlib.util.module_from_spec(_spec)
_loader.exec_module(watcher)

Obs = watcher.Observation
NOW = 1_000_000.0
LIMITS = {"min_observers": 2, "promote_after": 120, "max_age": 20}


def down(name, since, at=NOW):
    return Obs(observer=name, time=at, entry_up=False, leader_up=False, down_since=since)


def up(name, entry=True, leader=True, at=NOW):
    return Obs(observer=name, time=at, entry_up=entry, leader_up=leader)


def test_healthy_when_the_leader_answers():
    d = watcher.decide([up("b1"), up("b2")], NOW, **LIMITS)
    assert d.state == "healthy"
    assert "b1" in d.reason and "b2" in d.reason


def test_waiting_until_every_observer_has_seen_the_outage_long_enough():
    # b2 lost region A only 30 s ago: the outage counts from the most recent start.
    d = watcher.decide([down("b1", NOW - 300), down("b2", NOW - 30)], NOW, **LIMITS)
    assert d.state == "waiting"
    assert d.down_for == pytest.approx(30)


def test_promote_when_all_fresh_observers_lost_region_a_long_enough():
    d = watcher.decide([down("b1", NOW - 121), down("b2", NOW - 120)], NOW, **LIMITS)
    assert d.state == "promote"
    assert [o.observer for o in d.observers] == ["b1", "b2"]


def test_refused_while_any_observer_reaches_the_leader():
    d = watcher.decide([down("b1", NOW - 600), down("b2", NOW - 600), up("b3", entry=False, leader=True)], NOW, **LIMITS)
    assert d.state == "refused"
    assert "b3" in d.reason


def test_degraded_when_the_leader_is_gone_but_the_entry_point_answers():
    d = watcher.decide([down("b1", NOW - 600), up("b2", entry=True, leader=False)], NOW, **LIMITS)
    assert d.state == "degraded"


def test_one_observer_never_decides():
    d = watcher.decide([down("b1", NOW - 600)], NOW, **LIMITS)
    assert d.state == "observers-missing"


def test_stale_observations_do_not_count():
    # b2's last word is 60 s old (its host may be cut off too): only b1 is fresh.
    d = watcher.decide([down("b1", NOW - 600), down("b2", NOW - 600, at=NOW - 60)], NOW, **LIMITS)
    assert d.state == "observers-missing"
    assert "stale: b2" in d.reason


def test_a_stale_observer_that_saw_the_leader_does_not_block_forever():
    d = watcher.decide([down("b1", NOW - 600), down("b2", NOW - 600), up("b3", at=NOW - 300)], NOW, **LIMITS)
    assert d.state == "promote"


def test_observations_from_the_future_are_not_fresh():
    d = watcher.decide([down("b1", NOW - 600), down("b2", NOW - 600, at=NOW + 30)], NOW, **LIMITS)
    assert d.state == "observers-missing"


def test_nothing_to_do_when_region_b_is_not_a_standby_cluster():
    d = watcher.decide([down("b1", NOW - 600), down("b2", NOW - 600)], NOW, region_b_standby=False, **LIMITS)
    assert d.state == "not-standby"


def test_passive_after_a_promotion():
    d = watcher.decide([down("b1", NOW - 600), down("b2", NOW - 600)], NOW, promoted=True, **LIMITS)
    assert d.state == "promoted"


def test_observe_next_keeps_the_start_of_an_outage_and_forgets_it_on_recovery():
    first = watcher.observe_next(None, NOW, "b1", entry_up=False, leader_up=False)
    assert first.down_since == NOW
    second = watcher.observe_next(first, NOW + 5, "b1", entry_up=False, leader_up=False)
    assert second.down_since == NOW
    back = watcher.observe_next(second, NOW + 10, "b1", entry_up=True, leader_up=False)
    assert back.down_since is None
    again = watcher.observe_next(back, NOW + 15, "b1", entry_up=False, leader_up=False)
    assert again.down_since == NOW + 15


def test_observation_json_round_trip():
    obs = down("dc2-db-1", NOW - 10)
    assert Obs.from_json(obs.to_json()) == obs
    with pytest.raises((ValueError, KeyError)):
        Obs.from_json(json.dumps({"observer": "x"}))


@pytest.mark.parametrize("state,name,severity", [
    ("waiting", "HelloDrWatcherRegionAUnreachable", "critical"),
    ("refused", "HelloDrWatcherPromotionRefused", "warning"),
    ("promoted", "HelloDrWatcherPromoted", "critical"),
    ("promote-failed", "HelloDrWatcherPromotionFailed", "critical"),
    ("observers-missing", "HelloDrWatcherObserversMissing", "warning"),
    ("degraded", "HelloDrWatcherRegionADegraded", "warning"),
])
def test_every_state_but_healthy_alerts(state, name, severity):
    payload = watcher.alert_payload(state, "why", NOW, datacenter="dc2", node="dc2-db-1", interval=5)
    assert len(payload) == 1
    assert payload[0]["labels"] == {"alertname": name, "severity": severity, "datacenter": "dc2", "instance": "dc2-db-1",
                                    "service": "hello-dr-watcher"}
    assert payload[0]["annotations"]["description"] == "why"


def test_alerts_expire_three_rounds_after_the_last_one_except_a_promotion():
    waiting = watcher.alert_payload("waiting", "", 0, datacenter="dc2", node="n", interval=5)
    assert waiting[0]["endsAt"] == "1970-01-01T00:00:15Z"
    promoted = watcher.alert_payload("promoted", "", 0, datacenter="dc2", node="n", interval=5)
    assert promoted[0]["endsAt"] == "1970-01-01T01:00:00Z"


@pytest.mark.parametrize("state", ["healthy", "not-standby"])
def test_quiet_states_send_nothing(state):
    assert watcher.alert_payload(state, "", NOW, datacenter="dc2", node="n", interval=5) is None


def _config(tmp_path, **overrides):
    cfg = {"node": "dc2-db-1", "datacenter": "dc2", "region_a": {"entry_urls": ["https://a"], "patroni_urls": ["https://a:8008"]},
           "region_b_patroni_urls": ["https://b:8008"], "consul": {"url": "https://127.0.0.1:8501"}}
    cfg.update(overrides)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def test_config_defaults(tmp_path):
    cfg = watcher.load_config(_config(tmp_path))
    assert (cfg["interval"], cfg["promote_after"], cfg["min_observers"], cfg["max_observation_age"], cfg["promote"]) == (5, 120, 2, 20, True)


@pytest.mark.parametrize("overrides,message", [
    ({"min_observers": 1}, "min_observers must be at least 2"),
    ({"region_a": {"entry_urls": [], "patroni_urls": ["x"]}}, "region_a.entry_urls"),
    ({"patroni": {"cert_file": "/etc/c.crt"}}, "cert_file and patroni.key_file go together"),
])
def test_bad_config_is_refused(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        watcher.load_config(_config(tmp_path, **overrides))


def test_bad_config_exits_2_and_says_why(tmp_path, capsys):
    assert watcher.main([str(_config(tmp_path, min_observers=1))]) == 2
    assert "min_observers must be at least 2" in capsys.readouterr().err


def test_comment_lines_on_top_and_check_mode(tmp_path, capsys):
    path = _config(tmp_path)
    path.write_text("#\n# Ansible managed\n#\n" + path.read_text())
    assert watcher.main(["--check", str(path)]) == 0
    assert "configuration OK" in capsys.readouterr().out


def test_not_json_is_refused(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text("# comment\nnode: yaml\n")
    assert watcher.main(["--check", str(path)]) == 2
    assert "not JSON" in capsys.readouterr().err


def _closed_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_http_tells_nothing_there_from_a_tls_failure(tmp_path):
    """A closed port is -1 (nothing answered); a TLS server with a certificate we do not trust is -2
    (it answered): region A's entry point behind a certificate the watcher cannot verify is still there."""
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(crt), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        http = watcher.Http(None, 2)
        assert http.request("GET", f"https://127.0.0.1:{server.server_address[1]}/")[0] == -2
        assert http.request("GET", f"https://127.0.0.1:{_closed_port()}/")[0] == -1
        # Trusting the certificate, the same server answers (501: the handler has no GET).
        assert watcher.Http(str(crt), 2).request("GET", f"https://127.0.0.1:{server.server_address[1]}/")[0] == 501
    finally:
        server.shutdown()


def test_http_presents_its_client_certificate_when_the_server_asks(tmp_path):
    """Patroni's unsafe endpoints (verify_client: optional) want a client certificate: a server that
    requires one refuses the watcher without it and answers it with the configured pair."""
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    def pair(name, subject, *extra):
        key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", subject, *extra],
                       check=True, capture_output=True)
        return key, crt

    server_key, server_crt = pair("server", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    client_key, client_crt = pair("client", "/CN=dr-watcher")
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(server_crt), str(server_key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(str(client_crt))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    try:
        assert watcher.Http(str(server_crt), 2).request("GET", url)[0] < 0
        with_cert = watcher.Http(str(server_crt), 2, str(client_crt), str(client_key))
        assert with_cert.request("PATCH", url, "{}")[0] == 501
    finally:
        server.shutdown()
