# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: planned Patroni switchover to a named or the best candidate, checked and waited for."""

from __future__ import annotations

DOCUMENTATION = r"""
module: patroni_switchover
short_description: Planned switchover of a Patroni cluster's leader, with pre-checks, waiting and timing
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - Moves the leader role of a running Patroni cluster to O(candidate), or to the best candidate
    (a synchronous standby first, then the replica with the least lag) when O(candidate) is not set.
  - 'Refuses, changing nothing, when: the cluster is paused; it has no leader (use a failover);
    the candidate does not exist, is not a streaming replica, is tagged C(nofailover), lags more
    than O(max_lag_bytes), or (in synchronous mode) is not a synchronous standby; no member qualifies.'
  - When O(candidate) already leads, reports no change.
  - Waits until the new leader runs (and, with O(wait_for_replica), until the old leader streams
    from it) and returns the time taken.
  - In check mode, says which member would lead, without acting.
  - With O(scheduled_at), asks Patroni to switch over at that time and returns at once.
options:
  candidate:
    description: Member that should lead. Unset picks the best candidate.
    type: str
  scheduled_at:
    description:
      - ISO 8601 time with a time zone, for example V(2026-12-01T03:00:00+00:00), at which Patroni
        performs the switchover. The module does not wait for it.
    type: str
  max_lag_bytes:
    description: A candidate lagging more than this many bytes behind the leader is refused.
    type: int
    default: 1048576
  wait_timeout:
    description: Seconds to wait for the new leader (and the old one as a replica).
    type: int
    default: 120
  wait_for_replica:
    description:
      - Also wait until the old leader streams from the new one and, in synchronous mode, is a
        synchronous standby again (so the cluster is redundant and a switchover back is possible).
    type: bool
    default: true
extends_documentation_fragment:
  - hello.platform.patroni
  - hello.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the leader before and after.
  idempotent:
    support: full
    details: Switching over to the member that already leads changes nothing.
"""

EXAMPLES = r"""
- name: Switch over to dc1-db-2
  hello.platform.patroni_switchover:
    api_url: [https://10.0.1.11:8008, https://10.0.1.12:8008]
    ca_path: /etc/hello-pki/ca.crt
    username: patroni
    password: "{{ patroni_restapi_password }}"
    candidate: dc1-db-2
  register: switchover

- name: Report the time without a leader
  ansible.builtin.debug:
    msg: "{{ switchover.old_leader }} -> {{ switchover.new_leader }} in {{ switchover.elapsed }} s"

- name: Switch over to the best candidate tonight at 03:00 UTC
  hello.platform.patroni_switchover:
    api_url: [https://10.0.1.11:8008]
    ca_path: /etc/hello-pki/ca.crt
    username: patroni
    password: "{{ patroni_restapi_password }}"
    scheduled_at: "2026-12-01T03:00:00+00:00"
"""

RETURN = r"""
old_leader:
  description: The leader before.
  returned: always
  type: str
new_leader:
  description: The leader after (in check mode or when scheduled, the one that would lead).
  returned: always
  type: str
scheduled_at:
  description: When the switchover is scheduled; null when it ran now.
  returned: always
  type: str
elapsed:
  description: Seconds from the switchover request until the new leader ran (0 when nothing was done).
  returned: always
  type: float
replica_elapsed:
  description: Seconds until the old leader streamed from the new one; null when not waited for.
  returned: always
  type: float
cluster:
  description: The cluster afterwards, as M(hello.platform.patroni_cluster_info) returns it.
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hello.platform.plugins.module_utils.patroni import (
    PatroniClient,
    PatroniError,
    choose_candidate,
    member,
    patroni_argument_spec,
    summarize,
)


def new_leader_runs(name):
    def check(summary):
        m = member(summary, name)
        return summary["leader"] == name and m is not None and m["state"] == "running"
    return check


def streams(name, synchronous):
    """The old leader replicates again (and, in synchronous mode, is a synchronous standby again)."""
    def check(summary):
        m = member(summary, name)
        return (m is not None and m["role"] not in ("leader", "master", "primary") and m["state"] == "streaming"
                and (not synchronous or name in summary["sync_standby"]))
    return check


def main():
    spec = patroni_argument_spec()
    spec.update(
        candidate=dict(type="str"),
        scheduled_at=dict(type="str"),
        max_lag_bytes=dict(type="int", default=1048576),
        wait_timeout=dict(type="int", default=120),
        wait_for_replica=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    requested = False
    result = dict(changed=False, old_leader=None, new_leader=None, scheduled_at=None, elapsed=0.0, replica_elapsed=None)
    try:
        client = PatroniClient.from_params(p)
        source, cluster = client.cluster()
        summary = summarize(cluster)
        old = summary["leader"]
        synchronous = bool((client.config() or {}).get("synchronous_mode", False))
        chosen = choose_candidate(summary, p["candidate"], p["max_lag_bytes"], synchronous)
        result.update(old_leader=old, new_leader=chosen, cluster=summary)
        if chosen == old:
            module.exit_json(msg="%s already leads; nothing to do" % old, **result)
        result.update(changed=True, scheduled_at=p["scheduled_at"],
                      diff=dict(before=dict(leader=old), after=dict(leader=chosen)))
        if module.check_mode:
            module.exit_json(msg="would switch over from %s to %s%s" % (
                old, chosen, (" at %s" % p["scheduled_at"]) if p["scheduled_at"] else ""), **result)

        body = dict(leader=old, candidate=chosen)
        if p["scheduled_at"]:
            body["scheduled_at"] = p["scheduled_at"]
        target = member(summary, old)["api_url"] or source
        started = time.monotonic()
        status, answer = client.post(target, "/switchover", body, timeout=p["wait_timeout"])
        requested = status in (200, 202)
        if status == 202:
            module.exit_json(msg="switchover from %s to %s scheduled at %s: %s" % (old, chosen, p["scheduled_at"], answer), **result)
        if status != 200:
            raise PatroniError("Patroni on %s refused the switchover from %s to %s: HTTP %s %s" % (
                old, old, chosen, status, answer))
        summary = client.wait_for(new_leader_runs(chosen), p["wait_timeout"])[0]
        result["elapsed"] = round(time.monotonic() - started, 3)
        if p["wait_for_replica"]:
            summary = client.wait_for(streams(old, synchronous), p["wait_timeout"])[0]
            result["replica_elapsed"] = round(time.monotonic() - started, 3)
        result["cluster"] = summary
    except PatroniError as e:
        if requested:
            module.fail_json(msg="patroni_switchover: Patroni accepted the switchover from %s to %s, but waiting for it "
                                 "failed: %s. Check the cluster with patronictl list." % (result["old_leader"], result["new_leader"], e),
                             **result)
        result["changed"] = False
        module.fail_json(msg="patroni_switchover: %s. Nothing was changed." % e, **result)
    module.exit_json(msg="switched over from %s to %s in %.1f s" % (result["old_leader"], result["new_leader"], result["elapsed"]), **result)


if __name__ == "__main__":
    main()
