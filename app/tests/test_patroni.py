# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patroni /cluster parsing and leader/replica selection (pure), and the REST client against a real
HTTP server (one URL down, bad answers)."""

from hello_service.patroni import PatroniClient, eligible_replicas, parse_cluster

from conftest import FakePatroni, free_port, member

EXAMPLE = {"members": [
    {"name": "db-1", "role": "leader", "state": "running", "api_url": "https://10.0.0.5:8008/patroni", "host": "10.0.0.5", "port": 5432,
     "timeline": 2},
    {"name": "db-2", "role": "sync_standby", "state": "streaming", "host": "10.0.0.6", "port": 5432, "timeline": 2, "lag": 0},
], "scope": "hello"}


def test_leader_of_the_example_payload():
    view = parse_cluster(EXAMPLE)
    assert view.leader.name == "db-1"
    assert view.leader.address == ("10.0.0.5", 5432)
    assert [m.name for m in view.replicas] == ["db-2"]
    assert view.reason == ""


def test_standby_leader_is_not_a_leader():
    view = parse_cluster({"members": [member("dr-1", "standby_leader", "10.1.0.5", 5432),
                                      member("dr-2", "replica", "10.1.0.6", 5432, lag=0)]})
    assert view.leader is None
    assert "standby_leader" in view.reason


def test_leader_not_running_is_not_a_leader():
    for state in ("stopped", "starting", "stopping", "crashed", "restarting", ""):
        view = parse_cluster({"members": [member("db-1", "leader", "h", 5432, state=state)]})
        assert view.leader is None, state
        assert view.reason.startswith("no leader")


def test_no_leader():
    assert parse_cluster({"members": [member("db-2", "replica", "h", 5432, lag=0)]}).leader is None
    assert parse_cluster({"members": []}).leader is None


def test_invalid_payloads():
    for payload in (None, [], "x", {}, {"members": "x"}, {"members": [None, 1, "x", {"role": "leader", "state": "running"}]},
                    {"members": [{"name": "a", "role": "leader", "state": "running", "host": "h", "port": "notaport"}]},
                    {"members": [{"name": "a", "role": "leader", "state": "running", "host": "h", "port": 0}]},
                    {"members": [{"name": "a", "role": "leader", "state": "running", "host": "h", "port": True}]}):
        assert parse_cluster(payload).leader is None


def test_port_defaults_and_strings():
    assert parse_cluster({"members": [{"name": "a", "role": "leader", "state": "running", "host": "h"}]}).leader.port == 5432
    assert parse_cluster({"members": [{"name": "a", "role": "leader", "state": "running", "host": "h", "port": "6432"}]}).leader.port == 6432


def test_two_leaders_prefer_the_newest_timeline_or_none():
    newer = parse_cluster({"members": [member("a", "leader", "h1", 5432, timeline=2), member("b", "leader", "h2", 5432, timeline=3)]})
    assert newer.leader.name == "b"
    tie = parse_cluster({"members": [member("a", "leader", "h1", 5432, timeline=3), member("b", "leader", "h2", 5432, timeline=3)]})
    assert tie.leader is None


def test_replica_lag_filtering():
    view = parse_cluster({"members": [
        member("l", "leader", "h0", 5432),
        member("r0", "replica", "h1", 5432, lag=0),
        member("r1", "sync_standby", "h2", 5432, lag=1000),
        member("r2", "replica", "h3", 5432, lag=10 ** 9),
        member("r3", "replica", "h4", 5432, state="stopped", lag=0),
        member("r4", "replica", "h5", 5432, state="running", lag=0),
        member("r5", "replica", "h6", 5432),                    # lag unknown
        {"name": "r6", "role": "replica", "state": "streaming", "host": "h7", "port": 5432, "lag": "unknown"},
        member("s", "standby_leader", "h8", 5432),
    ]})
    assert [m.name for m in eligible_replicas(view.replicas, 0)] == ["r0", "r4"]
    assert [m.name for m in eligible_replicas(view.replicas, 1000)] == ["r0", "r1", "r4"]
    assert [m.name for m in eligible_replicas(view.replicas, 10 ** 10)] == ["r0", "r1", "r2", "r4"]


def test_client_tries_the_next_url_and_sticks_to_the_one_that_answered():
    fake = FakePatroni()
    try:
        fake.set_members(member("db-1", "leader", "10.0.0.5", 5432))
        down = f"http://127.0.0.1:{free_port()}"
        client = PatroniClient([down, fake.url], timeout=0.5)
        payload, url, errors = client.fetch_cluster()
        assert url == fake.url and payload["members"][0]["name"] == "db-1"
        assert len(errors) == 1 and errors[0].startswith(down)
        payload, url, errors = client.fetch_cluster()
        assert url == fake.url and errors == []  # the working URL is tried first now
        client.close()
    finally:
        fake.close()


def test_client_skips_bad_answers():
    bad, good = FakePatroni(), FakePatroni()
    try:
        bad.status = 503
        good.set_members(member("db-1", "leader", "10.0.0.5", 5432))
        client = PatroniClient([bad.url, good.url], timeout=0.5)
        payload, url, errors = client.fetch_cluster()
        assert url == good.url and "HTTP 503" in errors[0]
        bad.status = 200
        bad.payload = {"no": "members"}
        client2 = PatroniClient([bad.url], timeout=0.5)
        assert client2.fetch_cluster()[0] is None
        client.close()
        client2.close()
    finally:
        bad.close()
        good.close()


def test_client_all_down():
    client = PatroniClient([f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"], timeout=0.3)
    payload, url, errors = client.fetch_cluster()
    assert payload is None and url is None and len(errors) == 2
    client.close()
