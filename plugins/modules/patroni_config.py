# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: Patroni's dynamic configuration - compare, then PATCH only the difference."""

from __future__ import annotations

DOCUMENTATION = r"""
module: patroni_config
short_description: Set Patroni's dynamic (cluster-wide) configuration
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - Reads the dynamic configuration (C(GET /config)) from the first member that answers, compares it
    with O(settings) recursively, and sends only what differs (C(PATCH /config)). Keys you do not set
    are kept.
  - A value of V(null) removes a key, which is how a standby cluster is promoted (C(standby_cluster=null)).
  - In check mode, returns the change it would send. With C(--diff), shows the configuration before and after.
  - Patroni applies the change on every member's next HA loop (at most C(loop_wait) seconds later).
    Parameters that need a restart then show as pending restart (see M(hello.platform.patroni_cluster_info)).
options:
  settings:
    description:
      - 'The dynamic configuration you want, or the part of it you manage, for example
        C({ttl: 30, postgresql: {parameters: {work_mem: 16MB}}}).'
    type: dict
    required: true
extends_documentation_fragment:
  - hello.platform.patroni
  - hello.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Raise work_mem on every member
  hello.platform.patroni_config:
    api_url: [https://10.0.1.11:8008, https://10.0.1.12:8008]
    ca_path: /etc/hello-pki/ca.crt
    username: patroni
    password: "{{ patroni_restapi_password }}"
    settings:
      postgresql:
        parameters:
          work_mem: 16MB

- name: Promote a standby cluster (region B takes writes)
  hello.platform.patroni_config:
    api_url: [https://10.1.1.11:8008]
    ca_path: /etc/hello-pki/ca.crt
    username: patroni
    password: "{{ patroni_restapi_password }}"
    settings:
      standby_cluster: null
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) sent with PATCH; empty when nothing differs.
  returned: always
  type: dict
config:
  description: The dynamic configuration afterwards (in check mode, as it would be).
  returned: always
  type: dict
source:
  description: The member whose REST API answered.
  returned: always
  type: str
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hello.platform.plugins.module_utils.patroni import (
    PatroniClient,
    PatroniError,
    config_changes,
    patroni_argument_spec,
)


def merged(current, changes):
    """What Patroni's PATCH makes of `current` (recursive merge; None removes)."""
    out = copy.deepcopy(current)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def main():
    spec = patroni_argument_spec()
    spec.update(settings=dict(type="dict", required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        client = PatroniClient.from_params(module.params)
        source, current = client.first("GET", "/config")
        if not isinstance(current, dict):
            raise PatroniError("GET %s/config did not return a JSON object: %s" % (source, current))
        changes = config_changes(current, module.params["settings"])
        after = merged(current, changes)
        result = dict(changed=bool(changes), changes=changes, config=after, source=source)
        if changes:
            result["diff"] = dict(before=current, after=after)
        if changes and not module.check_mode:
            result["config"] = client.patch_config(changes, endpoint=source)
    except PatroniError as e:
        module.fail_json(msg="patroni_config: %s. Nothing was changed." % e)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
