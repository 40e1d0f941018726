# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: restart one member's PostgreSQL through Patroni, only when a restart is pending."""

from __future__ import annotations

DOCUMENTATION = r"""
module: patroni_restart
short_description: Restart one Patroni member's PostgreSQL through the REST API
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - Restarts PostgreSQL on O(member) through Patroni (C(POST /restart) on that member), by default only
    when the member reports a pending restart, and waits until it runs again without one.
  - Restarting the leader restarts it in place (writes stop until it is back); to avoid that,
    switch over first (M(hello.platform.patroni_switchover)), as C(playbooks/rolling_restart.yml) does.
  - A synchronous standby is waited for until it is synchronous again, so a switchover can follow.
  - In check mode, says whether it would restart.
options:
  member:
    description: Name of the member to restart.
    type: str
    required: true
  only_if_pending:
    description: Restart only when the member reports a pending restart.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the restart and for the member to run again.
    type: int
    default: 300
extends_documentation_fragment:
  - hello.platform.patroni
  - hello.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
    details: With O(only_if_pending=true), a member without a pending restart is left alone.
"""

EXAMPLES = r"""
- name: Apply restart-pending parameters on a replica
  hello.platform.patroni_restart:
    api_url: [https://10.0.1.11:8008, https://10.0.1.12:8008]
    ca_path: /etc/hello-pki/ca.crt
    username: patroni
    password: "{{ patroni_restapi_password }}"
    member: dc1-db-2
"""

RETURN = r"""
role:
  description: The member's role when it was restarted (or would be).
  returned: always
  type: str
elapsed:
  description: Seconds the restart took until the member ran again (0 when nothing was done).
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hello.platform.plugins.module_utils.patroni import (
    PatroniClient,
    PatroniError,
    member,
    patroni_argument_spec,
    summarize,
)


def main():
    spec = patroni_argument_spec()
    spec.update(
        member=dict(type="str", required=True),
        only_if_pending=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    result = dict(changed=False, role=None, elapsed=0.0)
    try:
        client = PatroniClient.from_params(p)
        summary = summarize(client.cluster()[1])
        m = member(summary, p["member"])
        if m is None:
            raise PatroniError("there is no member named '%s'; members: %s" % (
                p["member"], ", ".join(x["name"] for x in summary["members"])))
        result["role"] = m["role"]
        if p["only_if_pending"] and not m["pending_restart"]:
            module.exit_json(msg="%s has no pending restart" % p["member"], **result)
        result["changed"] = True
        if module.check_mode:
            module.exit_json(msg="would restart %s (%s)" % (p["member"], m["role"]), **result)
        started = time.monotonic()
        body = {"restart_pending": True} if p["only_if_pending"] else {}
        status, answer = client.post(m["api_url"], "/restart", body, timeout=p["wait_timeout"])
        if status != 200:
            raise PatroniError("Patroni on %s refused the restart: HTTP %s %s" % (p["member"], status, answer))

        was_sync = p["member"] in summary["sync_standby"]

        def back(s):
            # Running again, nothing pending, and synchronous again if it was (so a switchover can follow).
            x = member(s, p["member"])
            return (x is not None and x["state"] in ("running", "streaming") and not x["pending_restart"]
                    and (not was_sync or p["member"] in s["sync_standby"]))
        client.wait_for(back, p["wait_timeout"])
        result["elapsed"] = round(time.monotonic() - started, 3)
    except PatroniError as e:
        module.fail_json(msg="patroni_restart: %s" % e, **result)
    module.exit_json(msg="restarted %s in %.1f s" % (p["member"], result["elapsed"]), **result)


if __name__ == "__main__":
    main()
