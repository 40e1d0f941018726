# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for module_utils/patroni.py: the decisions, the error messages, the client's plumbing."""

from __future__ import annotations

import io
import json
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.hello.platform.plugins.module_utils import patroni as p

# GET /cluster of Patroni 4.1 for a two-member cluster in synchronous mode (shape taken from a live lab cluster).
CLUSTER = {
    "members": [
        {"name": "db-1", "role": "leader", "state": "running", "api_url": "https://10.0.0.1:8008/patroni",
         "host": "10.0.0.1", "port": 5432, "timeline": 3},
        {"name": "db-2", "role": "sync_standby", "state": "streaming", "api_url": "https://10.0.0.2:8008/patroni",
         "host": "10.0.0.2", "port": 5432, "timeline": 3, "receive_lag": 0, "replay_lag": 0, "lag": 0},
        {"name": "db-3", "role": "replica", "state": "streaming", "api_url": "https://10.0.0.3:8008/patroni",
         "host": "10.0.0.3", "port": 5432, "timeline": 3, "lag": 4096, "pending_restart": True},
    ],
    "scope": "hello",
}


def cluster(**changes):
    data = json.loads(json.dumps(CLUSTER))
    for name, fields in changes.items():
        for m in data["members"]:
            if m["name"] == name.replace("_", "-"):
                m.update(fields)
    return data


def test_base_url_strips_paths_and_refuses_other_schemes():
    assert p.base_url("https://10.0.0.1:8008/patroni") == "https://10.0.0.1:8008"
    assert p.base_url(" https://h:8008/ ") == "https://h:8008"
    with pytest.raises(p.PatroniError, match="not a Patroni REST API URL"):
        p.base_url("10.0.0.1:8008")


def test_summarize_reports_leader_sync_lag_and_pending_restart():
    s = p.summarize(CLUSTER)
    assert s["leader"] == "db-1" and s["standby_leader"] is None and not s["is_standby_cluster"]
    assert s["sync_standby"] == ["db-2"]
    assert s["timeline"] == 3
    assert s["pending_restart"] == ["db-3"]
    assert [m["lag"] for m in s["members"]] == [None, 0, 4096]
    assert s["members"][0]["api_url"] == "https://10.0.0.1:8008"
    assert s["paused"] is False


def test_summarize_standby_cluster_and_unknown_lag():
    s = p.summarize({"members": [
        {"name": "b-1", "role": "standby_leader", "state": "streaming", "timeline": 3},
        {"name": "b-2", "role": "replica", "state": "streaming", "lag": "unknown"}]})
    assert s["is_standby_cluster"] and s["leader"] is None and s["standby_leader"] == "b-1"
    assert s["members"][1]["lag"] is None
    assert s["timeline"] == 3


def test_choose_candidate_prefers_the_synchronous_standby():
    assert p.choose_candidate(p.summarize(CLUSTER)) == "db-2"


def test_choose_candidate_takes_the_least_lag_when_no_sync_standby():
    data = cluster(db_2={"role": "replica", "lag": 9000})
    assert p.choose_candidate(p.summarize(data)) == "db-3"


def test_choose_candidate_returns_the_leader_itself_for_no_change():
    assert p.choose_candidate(p.summarize(CLUSTER), "db-1") == "db-1"


@pytest.mark.parametrize("data, candidate, max_lag, message", [
    (cluster(), "db-9", None, "there is no member named 'db-9'; members: db-1, db-2, db-3"),
    (cluster(db_3={"lag": 50 << 20}), "db-3", 1 << 20, "member 'db-3' lags 52428800 bytes behind the leader, more than max_lag_bytes=1048576"),
    (cluster(db_3={"lag": "unknown"}), "db-3", 1 << 20, "lags an unknown number of bytes"),
    (cluster(db_2={"state": "stopped"}), "db-2", None, "member 'db-2' cannot take over: role sync_standby, state stopped"),
    (cluster(db_2={"tags": {"nofailover": True}}), "db-2", None, "tagged nofailover"),
    (dict(cluster(), pause=True), None, None, "the cluster is paused"),
    (cluster(db_1={"role": "replica", "state": "stopped"}), None, None, "the cluster has no leader"),
    (cluster(db_2={"state": "stopped"}, db_3={"state": "starting"}), None, None, "no healthy candidate"),
    (cluster(db_2={"lag": 10 << 20}, db_3={"lag": 10 << 20}), None, 1 << 20, "no healthy candidate"),
])
def test_choose_candidate_refuses_with_a_reason(data, candidate, max_lag, message):
    with pytest.raises(p.PatroniError) as e:
        p.choose_candidate(p.summarize(data), candidate, max_lag)
    assert message in str(e.value)


def test_choose_candidate_in_synchronous_mode_takes_only_a_sync_standby():
    s = p.summarize(CLUSTER)
    assert p.choose_candidate(s, synchronous=True) == "db-2"
    with pytest.raises(p.PatroniError, match="'db-3' is not a synchronous standby .now: db-2.*choose db-2"):
        p.choose_candidate(s, "db-3", synchronous=True)
    no_sync = p.summarize(cluster(db_2={"role": "replica"}))
    with pytest.raises(p.PatroniError, match="no healthy candidate: no synchronous standby"):
        p.choose_candidate(no_sync, synchronous=True)


def test_config_changes_is_recursive_and_minimal():
    current = {"ttl": 30, "postgresql": {"parameters": {"work_mem": "8MB", "max_connections": 200}, "use_slots": True}}
    assert p.config_changes(current, {"ttl": 30, "postgresql": {"parameters": {"work_mem": "8MB"}}}) == {}
    assert p.config_changes(current, {"postgresql": {"parameters": {"work_mem": "16MB"}}}) == {
        "postgresql": {"parameters": {"work_mem": "16MB"}}}
    assert p.config_changes(current, {"loop_wait": 5}) == {"loop_wait": 5}


def test_config_changes_none_removes_only_existing_keys():
    assert p.config_changes({"standby_cluster": {"host": "a"}}, {"standby_cluster": None}) == {"standby_cluster": None}
    assert p.config_changes({}, {"standby_cluster": None}) == {}


class FakeResponse:
    def __init__(self, status, body):
        self.status, self.body = status, body

    def getcode(self):
        return self.status

    def read(self):
        return self.body


class FakeRequest:
    """Answers by URL: a (status, body) tuple, or an exception to raise."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def open(self, method, url, data=None, headers=None, timeout=None):
        self.calls.append((method, url, data))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        if status >= 400:
            raise HTTPError(url, status, "error", {}, io.BytesIO(body))
        return FakeResponse(status, body)


def test_client_uses_the_first_member_that_answers_and_names_the_others():
    request = FakeRequest({
        "https://a:8008/cluster": URLError("connection refused"),
        "https://b:8008/cluster": (200, json.dumps(CLUSTER).encode()),
    })
    client = p.PatroniClient(["https://a:8008", "https://b:8008/patroni"], request=request)
    endpoint, data = client.cluster()
    assert endpoint == "https://b:8008" and data["scope"] == "hello"


def test_client_error_lists_every_member_and_what_to_check():
    request = FakeRequest({
        "https://a:8008/cluster": URLError("connection refused"),
        "https://b:8008/cluster": (503, b'{"error": "no leader"}'),
    })
    with pytest.raises(p.PatroniError) as e:
        p.PatroniClient(["https://a:8008", "https://b:8008"], request=request).cluster()
    assert "GET https://a:8008/cluster: connection refused" in str(e.value)
    assert "HTTP 503" in str(e.value) and "systemctl status patroni" in str(e.value)


def test_client_post_returns_http_errors_as_status_and_text():
    request = FakeRequest({"https://a:8008/switchover": (412, b"candidate name does not match")})
    status, text = p.PatroniClient(["https://a:8008"], request=request).post("https://a:8008", "/switchover", {"leader": "x"})
    assert status == 412 and text == "candidate name does not match"
    assert json.loads(request.calls[0][2]) == {"leader": "x"}


def test_wait_for_gives_up_with_the_last_error():
    request = FakeRequest({"https://a:8008/cluster": URLError("timed out")})
    now = [0.0]
    client = p.PatroniClient(["https://a:8008"], request=request)
    with pytest.raises(p.PatroniError, match="gave up after 5 s: last error: .*timed out"):
        client.wait_for(lambda s: True, 5, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))


def test_wait_for_returns_when_the_predicate_holds():
    request = FakeRequest({"https://a:8008/cluster": (200, json.dumps(CLUSTER).encode())})
    summary, waited = p.PatroniClient(["https://a:8008"], request=request).wait_for(
        lambda s: s["leader"] == "db-1", 5, clock=lambda: 0.0, sleep=lambda s: None)
    assert summary["leader"] == "db-1" and waited == 0.0


class FakeKV:
    def __init__(self, items=None, error=None):
        self.items, self.error = items, error

    def get(self, key, recurse=False, dc=None):
        if self.error:
            raise self.error
        return 1, self.items


class FakeConsul:
    def __init__(self, kv):
        self.kv = kv


def kv(key, value):
    return {"Key": "service/hello/" + key, "Value": value.encode() if isinstance(value, str) else value}


def test_cluster_from_consul_rebuilds_roles_and_lag():
    items = [
        kv("leader", "db-1"),
        kv("sync", json.dumps({"leader": "db-1", "sync_standby": "db-2"})),
        kv("status", json.dumps({"optime": 5000})),
        kv("config", json.dumps({"ttl": 30})),
        kv("members/db-1", json.dumps({"role": "primary", "state": "running", "timeline": 2, "xlog_location": 5000,
                                       "api_url": "https://10.0.0.1:8008/patroni"})),
        kv("members/db-2", json.dumps({"role": "replica", "state": "running", "replication_state": "streaming",
                                       "timeline": 2, "xlog_location": 4000})),
        kv("initialize", "7712"),
    ]
    s = p.summarize(p.cluster_from_consul(FakeConsul(FakeKV(items)), "hello"))
    assert s["leader"] == "db-1" and s["sync_standby"] == ["db-2"]
    assert [(m["name"], m["role"], m["state"], m["lag"]) for m in s["members"]] == [
        ("db-1", "leader", "running", None), ("db-2", "sync_standby", "streaming", 1000)]


def test_cluster_from_consul_standby_leader_and_errors():
    items = [kv("leader", "b-1"), kv("config", json.dumps({"standby_cluster": {"host": "x"}})),
             kv("members/b-1", json.dumps({"role": "standby_leader", "state": "running"}))]
    assert p.summarize(p.cluster_from_consul(FakeConsul(FakeKV(items)), "hello"))["standby_leader"] == "b-1"
    with pytest.raises(p.PatroniError, match="Consul has no keys under service/hello/"):
        p.cluster_from_consul(FakeConsul(FakeKV(None)), "hello")
    with pytest.raises(p.PatroniError, match="Permission denied.*consul_token"):
        p.cluster_from_consul(FakeConsul(FakeKV(error=RuntimeError("Permission denied"))), "hello")
