# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for patroni_restart's decisions (the restart itself runs in molecule/patroni)."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hello.platform.plugins.module_utils import patroni as p
from ansible_collections.hello.platform.plugins.modules import patroni_restart as m

CLUSTER = {"members": [
    {"name": "db-1", "role": "leader", "state": "running", "api_url": "https://10.0.0.1:8008/patroni"},
    {"name": "db-2", "role": "sync_standby", "state": "streaming", "api_url": "https://10.0.0.2:8008/patroni",
     "pending_restart": True},
]}


class Recorder(p.PatroniClient):
    def __init__(self):
        super().__init__(["https://10.0.0.1:8008"], request=object())
        self.posts = []

    def cluster(self):
        return "https://10.0.0.1:8008", json.loads(json.dumps(CLUSTER))

    def post(self, endpoint, path, body, timeout=None):
        self.posts.append((endpoint, path, body))
        return 200, "restarted"


def run(args, monkeypatch, capsys):
    client = Recorder()
    monkeypatch.setattr(m.PatroniClient, "from_params", classmethod(lambda cls, params: client))
    with patch_module_args(dict(dict(api_url=["https://10.0.0.1:8008"]), **args)), pytest.raises(SystemExit):
        m.main()
    return json.loads(capsys.readouterr().out), client


def test_member_without_pending_restart_is_left_alone(monkeypatch, capsys):
    out, client = run(dict(member="db-1"), monkeypatch, capsys)
    assert not out["changed"] and client.posts == [] and out["msg"] == "db-1 has no pending restart"


def test_check_mode_says_it_would_restart(monkeypatch, capsys):
    out, client = run(dict(member="db-2", _ansible_check_mode=True), monkeypatch, capsys)
    assert out["changed"] and out["msg"] == "would restart db-2 (sync_standby)" and client.posts == []


def test_unknown_member_fails_without_a_request(monkeypatch, capsys):
    out, client = run(dict(member="db-9"), monkeypatch, capsys)
    assert out["failed"] and "no member named 'db-9'" in out["msg"] and client.posts == []


def test_restart_goes_to_the_member_itself(monkeypatch, capsys):
    # The member still reports a pending restart in this fake, so waiting gives up quickly.
    out, client = run(dict(member="db-2", wait_timeout=0), monkeypatch, capsys)
    assert client.posts == [("https://10.0.0.2:8008", "/restart", {"restart_pending": True})]
    assert out["failed"] and "gave up after 0 s" in out["msg"]
