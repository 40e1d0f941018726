# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for patroni_failover's refusals (the real failover is tested in molecule/patroni)."""

from __future__ import annotations

import pytest

from ansible_collections.hello.platform.plugins.module_utils import patroni as p
from ansible_collections.hello.platform.plugins.modules import patroni_failover as m


def summary(leader_state="running", paused=False, replica_state="streaming"):
    return p.summarize({"pause": paused, "members": [
        {"name": "db-1", "role": "leader", "state": leader_state},
        {"name": "db-2", "role": "sync_standby", "state": replica_state, "lag": 0},
    ]})


LEADERLESS = p.summarize({"members": [
    {"name": "db-1", "role": "replica", "state": "stopped"},
    {"name": "db-2", "role": "replica", "state": "running", "lag": 0},
]})


@pytest.mark.parametrize("s, candidate, force, message", [
    (summary(), "db-2", False, "the leader db-1 is running: use hello.platform.patroni_switchover"),
    (summary(), "db-9", True, "there is no member named 'db-9'"),
    (summary(leader_state="stopped", replica_state="stopped"), "db-2", True, "cannot take over: role sync_standby, state stopped"),
    (summary(leader_state="stopped", paused=True), "db-2", False, "the cluster is paused"),
])
def test_refusals(s, candidate, force, message):
    assert message in m.refusal(s, candidate, force)


@pytest.mark.parametrize("s, candidate, force", [
    (summary(), "db-2", True),
    (summary(leader_state="stopped"), "db-2", False),
    (LEADERLESS, "db-2", False),
    (summary(), "db-1", False),  # already leads: allowed, the module reports no change
])
def test_allowed(s, candidate, force):
    assert m.refusal(s, candidate, force) is None
