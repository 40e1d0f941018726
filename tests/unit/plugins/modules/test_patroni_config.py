# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for patroni_config's merge, which must match what Patroni's PATCH does."""

from __future__ import annotations

from ansible_collections.hello.platform.plugins.module_utils.patroni import config_changes
from ansible_collections.hello.platform.plugins.modules.patroni_config import merged

CURRENT = {"ttl": 30, "standby_cluster": {"host": "a", "port": 5432},
           "postgresql": {"use_slots": True, "parameters": {"work_mem": "8MB", "max_connections": 200}}}


def test_merge_changes_only_what_is_given():
    changes = config_changes(CURRENT, {"postgresql": {"parameters": {"work_mem": "16MB"}}})
    after = merged(CURRENT, changes)
    assert after["postgresql"]["parameters"] == {"work_mem": "16MB", "max_connections": 200}
    assert after["postgresql"]["use_slots"] is True and after["ttl"] == 30
    assert CURRENT["postgresql"]["parameters"]["work_mem"] == "8MB"  # input untouched


def test_null_removes_a_key_and_is_then_idempotent():
    changes = config_changes(CURRENT, {"standby_cluster": None})
    after = merged(CURRENT, changes)
    assert "standby_cluster" not in after
    assert config_changes(after, {"standby_cluster": None}) == {}


def test_a_dict_replaces_a_scalar():
    assert merged({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
