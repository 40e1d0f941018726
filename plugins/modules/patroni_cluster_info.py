# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: read a Patroni cluster's state (members, roles, lag, leader) from the REST API or Consul."""

from __future__ import annotations

DOCUMENTATION = r"""
module: patroni_cluster_info
short_description: Read a Patroni cluster's members, roles, states, timeline and lag
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - Reads C(GET /cluster) from the first member in O(api_url) that answers and returns a stable view
    of it - the leader or standby leader, the synchronous standbys, each member's role, state,
    timeline, lag in bytes and pending restart, whether the cluster is paused, and whether it is a
    standby cluster.
  - When no member's REST API answers and O(consul_url) is set, rebuilds the same view from
    Patroni's keys in Consul (with py-consul), so a DBA can still see who holds the leader key.
  - Read-only; works in check mode.
options:
  consul_url:
    description:
      - HTTPS API of a Consul agent, used only when no REST API answers, for example V(https://127.0.0.1:8501).
      - Needs the C(py-consul) Python library where the module runs.
    type: str
  consul_token:
    description: Consul ACL token with read access to Patroni's keys. Never logged.
    type: str
  consul_ca_path:
    description: CA of the Consul agent's certificate.
    type: path
  consul_datacenter:
    description: Consul datacenter to read from; the agent's own by default.
    type: str
  scope:
    description: Patroni scope (cluster name), for the Consul fallback.
    type: str
    default: hello
  namespace:
    description: Patroni namespace (key prefix), for the Consul fallback.
    type: str
    default: /service/
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
"""

EXAMPLES = r"""
- name: Read the cluster
  hello.platform.patroni_cluster_info:
    api_url: "{{ groups['postgres'] | map('extract', hostvars, ['ansible_facts', 'default_ipv4', 'address'])
                 | map('regex_replace', '^(.*)$', 'https://\\1:8008') }}"
    ca_path: /etc/hello-pki/ca.crt
  register: cluster

- name: Show the leader and the lag of each replica
  ansible.builtin.debug:
    msg: "{{ cluster.leader }}; {{ cluster.members | items2dict(key_name='name', value_name='lag') }}"

- name: Read region B's standby cluster, falling back to Consul when no REST API answers
  hello.platform.patroni_cluster_info:
    api_url: [https://10.1.1.11:8008]
    ca_path: /etc/hello-pki/ca.crt
    consul_url: https://127.0.0.1:8501
    consul_token: "{{ patroni_consul_token }}"
    consul_ca_path: /etc/hello-pki/ca.crt
"""

RETURN = r"""
source:
  description: Where the answer came from - the URL of the member that answered, or V(consul).
  returned: always
  type: str
scope:
  description: Cluster name.
  returned: always
  type: str
leader:
  description: Name of the leader (read-write primary); null when there is none (or in a standby cluster).
  returned: always
  type: str
standby_leader:
  description: Name of the standby leader in a standby cluster; null otherwise.
  returned: always
  type: str
is_standby_cluster:
  description: Whether the cluster replicates from another cluster (it has a standby leader, no leader).
  returned: always
  type: bool
sync_standby:
  description: Names of the synchronous standbys.
  returned: always
  type: list
  elements: str
paused:
  description: Whether the cluster is in maintenance mode.
  returned: always
  type: bool
timeline:
  description: The leader's timeline.
  returned: always
  type: int
pending_restart:
  description: Members whose PostgreSQL waits for a restart to apply a parameter.
  returned: always
  type: list
  elements: str
scheduled_switchover:
  description: A scheduled switchover, as Patroni reports it; null when none.
  returned: always
  type: dict
members:
  description: One entry per member.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Member name., type: str}
    role: {description: "V(leader), V(sync_standby), V(replica), V(standby_leader) (Patroni's words).", type: str}
    state: {description: "V(running), V(streaming), V(stopped), V(starting), ...", type: str}
    host: {description: PostgreSQL host., type: str}
    port: {description: PostgreSQL port., type: int}
    api_url: {description: The member's REST API base URL., type: str}
    timeline: {description: Timeline., type: int}
    lag: {description: Replication lag in bytes; null when unknown or for the leader., type: int}
    receive_lag: {description: Received-but-not-replayed lag in bytes (Patroni 4); null when unknown., type: int}
    replay_lag: {description: Replay lag in bytes (Patroni 4); null when unknown., type: int}
    pending_restart: {description: Whether a restart is pending., type: bool}
    tags: {description: The member's tags., type: dict}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hello.platform.plugins.module_utils.patroni import (
    PatroniClient,
    PatroniError,
    cluster_from_consul,
    patroni_argument_spec,
    summarize,
)

try:
    import consul  # py-consul, the maintained fork of python-consul
    HAS_CONSUL = True
except ImportError:  # only needed for the fallback
    HAS_CONSUL = False


def consul_client(params):
    from urllib.parse import urlsplit
    url = urlsplit(params["consul_url"])
    return consul.Consul(host=url.hostname, port=url.port or (8501 if url.scheme == "https" else 8500),
                         scheme=url.scheme or "https", token=params.get("consul_token"),
                         verify=params.get("consul_ca_path") or True)


def main():
    spec = patroni_argument_spec()
    spec.update(
        consul_url=dict(type="str"),
        consul_token=dict(type="str", no_log=True),
        consul_ca_path=dict(type="path"),
        consul_datacenter=dict(type="str"),
        scope=dict(type="str", default="hello"),
        namespace=dict(type="str", default="/service/"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        client = PatroniClient.from_params(module.params)
        try:
            source, cluster = client.cluster()
        except PatroniError as rest_error:
            if not module.params["consul_url"]:
                raise
            if not HAS_CONSUL:
                module.fail_json(msg="%s; the Consul fallback needs py-consul: %s" % (
                    rest_error, missing_required_lib("py-consul")))
            source = "consul"
            cluster = cluster_from_consul(consul_client(module.params), module.params["scope"],
                                          module.params["namespace"], module.params["consul_datacenter"])
        summary = summarize(cluster)
    except PatroniError as e:
        module.fail_json(msg="patroni_cluster_info: %s" % e)
    module.exit_json(changed=False, source=source, **summary)


if __name__ == "__main__":
    main()
