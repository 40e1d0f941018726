# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: unplanned Patroni failover to a named member when the leader is gone."""

from __future__ import annotations

DOCUMENTATION = r"""
module: patroni_failover
short_description: Make a named member lead a Patroni cluster whose leader is down
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - For an unplanned change - the leader is down or unusable. Patroni normally promotes a replica
    by itself within C(ttl) seconds; this module makes sure O(candidate) leads, asking Patroni for a
    failover (C(POST /failover)) only when it does not lead yet, then waits until it runs as leader.
  - 'Refuses, changing nothing, when: a healthy leader is running (use M(hello.platform.patroni_switchover),
    or set O(force)); the candidate does not exist or is not a running replica; the cluster is paused
    and O(force) is not set.'
  - When O(candidate) already leads (Patroni failed over by itself), reports no change.
  - In check mode, says what would happen.
options:
  candidate:
    description: Member that should lead.
    type: str
    required: true
  force:
    description:
      - Fail over even though a leader is running or the cluster is paused. A running leader is
        demoted without waiting for the candidate to catch up; transactions it has not replicated are lost.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait until the candidate leads (Patroni may still be promoting it).
    type: int
    default: 120
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
    details: When the candidate already leads, nothing is done.
"""

EXAMPLES = r"""
- name: Make dc1-db-2 lead; dc1-db-1 is down
  hello.platform.patroni_failover:
    api_url: [https://10.0.1.12:8008]
    ca_path: /etc/hello-pki/ca.crt
    username: patroni
    password: "{{ patroni_restapi_password }}"
    candidate: dc1-db-2
  register: failover
"""

RETURN = r"""
old_leader:
  description: The leader before, or null when there was none.
  returned: always
  type: str
new_leader:
  description: The leader after (in check mode, the candidate).
  returned: always
  type: str
elapsed:
  description: Seconds from the request until the candidate ran as leader (0 when nothing was done).
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
    REPLICA_STATES,
    PatroniClient,
    PatroniError,
    member,
    patroni_argument_spec,
    summarize,
)


def refusal(summary, candidate, force):
    """Why a failover to `candidate` must not be requested; None when it may."""
    m = member(summary, candidate)
    if m is None:
        return "there is no member named '%s'; members: %s" % (candidate, ", ".join(x["name"] for x in summary["members"]))
    if summary["leader"] == candidate:
        return None
    if m["state"] not in REPLICA_STATES:
        return "member '%s' cannot take over: role %s, state %s" % (candidate, m["role"], m["state"])
    if force:
        return None
    if summary["paused"]:
        return "the cluster is paused (maintenance mode); resume it or set force=true"
    leader = member(summary, summary["leader"]) if summary["leader"] else None
    if leader is not None and leader["state"] == "running":
        return ("the leader %s is running: use hello.platform.patroni_switchover for a planned change, "
                "or set force=true to fail over anyway" % leader["name"])
    return None


def main():
    spec = patroni_argument_spec()
    spec.update(
        candidate=dict(type="str", required=True),
        force=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=120),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    result = dict(changed=False, old_leader=None, new_leader=None, elapsed=0.0)
    requested = False
    try:
        client = PatroniClient.from_params(p)
        source, cluster = client.cluster()
        summary = summarize(cluster)
        result.update(old_leader=summary["leader"], new_leader=summary["leader"], cluster=summary)
        reason = refusal(summary, p["candidate"], p["force"])
        if reason:
            raise PatroniError(reason)
        if summary["leader"] == p["candidate"]:
            module.exit_json(msg="%s already leads; nothing to do" % p["candidate"], **result)
        result.update(changed=True, new_leader=p["candidate"],
                      diff=dict(before=dict(leader=summary["leader"]), after=dict(leader=p["candidate"])))
        if module.check_mode:
            module.exit_json(msg="would fail over from %s to %s" % (summary["leader"], p["candidate"]), **result)
        target = member(summary, p["candidate"])["api_url"] or source
        started = time.monotonic()
        status, answer = client.post(target, "/failover", dict(candidate=p["candidate"]), timeout=p["wait_timeout"])
        # 412 "failover is not possible: ... already the leader" can race with Patroni's own promotion.
        requested = status == 200
        if status != 200:
            latest = summarize(client.cluster()[1])
            if latest["leader"] != p["candidate"]:
                raise PatroniError("Patroni on %s refused the failover to %s: HTTP %s %s" % (
                    target, p["candidate"], status, answer))
        summary = client.wait_for(
            lambda s: s["leader"] == p["candidate"] and member(s, p["candidate"])["state"] == "running", p["wait_timeout"])[0]
        result.update(elapsed=round(time.monotonic() - started, 3), cluster=summary)
    except PatroniError as e:
        if requested:
            module.fail_json(msg="patroni_failover: Patroni accepted the failover to %s, but waiting for it failed: %s. "
                                 "Check the cluster with patronictl list." % (p["candidate"], e), **result)
        result["changed"] = False
        module.fail_json(msg="patroni_failover: %s. Nothing was changed." % e, **result)
    module.exit_json(msg="%s leads after %.1f s" % (p["candidate"], result["elapsed"]), **result)


if __name__ == "__main__":
    main()
