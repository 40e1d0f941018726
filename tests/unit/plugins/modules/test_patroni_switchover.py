# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the patroni_switchover module's flow: what it sends, and what it refuses to send.

The client is replaced by a recorder so the tests can assert that refused and check-mode runs send
no request. The real behaviour against Patroni is tested in molecule/patroni (verify_switchover.yml).
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hello.platform.plugins.module_utils import patroni as p
from ansible_collections.hello.platform.plugins.modules import patroni_switchover as m

CLUSTER = {"scope": "hello", "members": [
    {"name": "db-1", "role": "leader", "state": "running", "api_url": "https://10.0.0.1:8008/patroni", "timeline": 1},
    {"name": "db-2", "role": "sync_standby", "state": "streaming", "api_url": "https://10.0.0.2:8008/patroni", "lag": 0},
]}
AFTER = {"scope": "hello", "members": [
    {"name": "db-2", "role": "leader", "state": "running", "api_url": "https://10.0.0.2:8008/patroni", "timeline": 2},
    {"name": "db-1", "role": "sync_standby", "state": "streaming", "api_url": "https://10.0.0.1:8008/patroni", "lag": 0},
]}


class Recorder(p.PatroniClient):
    """Answers /cluster from a script of documents and records POSTs."""

    def __init__(self, clusters, post_answer=(200, "Successfully switched over")):
        super().__init__(["https://10.0.0.1:8008"], request=object())
        self.clusters, self.posts, self.post_answer = list(clusters), [], post_answer

    def config(self):
        return {"synchronous_mode": True}

    def cluster(self):
        data = self.clusters[0] if len(self.clusters) == 1 else self.clusters.pop(0)
        return "https://10.0.0.1:8008", json.loads(json.dumps(data))

    def post(self, endpoint, path, body, timeout=None):
        self.posts.append((endpoint, path, body))
        return self.post_answer


def run(args, client, monkeypatch, capsys):
    monkeypatch.setattr(m.PatroniClient, "from_params", classmethod(lambda cls, params: client))
    args = dict(dict(api_url=["https://10.0.0.1:8008"], username="patroni", password="secret"), **args)
    with patch_module_args(args), pytest.raises(SystemExit):
        m.main()
    return json.loads(capsys.readouterr().out)


def test_switchover_posts_once_and_reports_old_and_new_leader(monkeypatch, capsys):
    client = Recorder([CLUSTER, AFTER])
    out = run(dict(candidate="db-2"), client, monkeypatch, capsys)
    assert out["changed"] and out["old_leader"] == "db-1" and out["new_leader"] == "db-2"
    assert client.posts == [("https://10.0.0.1:8008", "/switchover", {"leader": "db-1", "candidate": "db-2"})]
    assert out["diff"] == {"before": {"leader": "db-1"}, "after": {"leader": "db-2"}}
    assert "secret" not in json.dumps(out)


def test_check_mode_says_what_would_happen_and_sends_nothing(monkeypatch, capsys):
    client = Recorder([CLUSTER])
    out = run(dict(_ansible_check_mode=True), client, monkeypatch, capsys)
    assert out["changed"] and out["msg"] == "would switch over from db-1 to db-2"
    assert client.posts == []


def test_candidate_that_leads_already_changes_nothing(monkeypatch, capsys):
    client = Recorder([CLUSTER])
    out = run(dict(candidate="db-1"), client, monkeypatch, capsys)
    assert not out["changed"] and "already leads" in out["msg"] and client.posts == []


def test_unknown_candidate_fails_and_sends_nothing(monkeypatch, capsys):
    client = Recorder([CLUSTER])
    out = run(dict(candidate="db-9"), client, monkeypatch, capsys)
    assert out["failed"] and "no member named 'db-9'" in out["msg"] and "Nothing was changed" in out["msg"]
    assert not out["changed"] and client.posts == []


def test_refusal_by_patroni_is_reported_as_nothing_changed(monkeypatch, capsys):
    client = Recorder([CLUSTER], post_answer=(412, "candidate name does not match with sync_standby"))
    out = run(dict(candidate="db-2"), client, monkeypatch, capsys)
    assert out["failed"] and not out["changed"]
    assert "HTTP 412 candidate name does not match" in out["msg"]


def test_scheduled_switchover_returns_at_once(monkeypatch, capsys):
    client = Recorder([CLUSTER], post_answer=(202, "Switchover scheduled"))
    out = run(dict(scheduled_at="2026-12-01T03:00:00+00:00"), client, monkeypatch, capsys)
    assert out["changed"] and out["scheduled_at"] == "2026-12-01T03:00:00+00:00"
    assert client.posts[0][2]["scheduled_at"] == "2026-12-01T03:00:00+00:00"


def test_password_is_no_log():
    assert p.patroni_argument_spec()["password"]["no_log"] is True
