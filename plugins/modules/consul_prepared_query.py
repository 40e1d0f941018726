# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: a Consul prepared query (the platform's global names) - compare, then create, update or delete."""

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_prepared_query
short_description: Manage a Consul prepared query, such as a global name with datacenter failover
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - Finds the prepared query by O(name) (C(GET /v1/query)), compares the fields this module manages
    with the options and creates (C(POST /v1/query)), updates (C(PUT /v1/query/<id>)) or deletes
    (C(DELETE /v1/query/<id>)) it only when they differ.
  - A query named V(hello) answers DNS as C(hello.query.consul) and HTTP as C(GET /v1/query/hello/execute)
    with the healthy instances of O(service) in the agent's datacenter or, when there are none, those of the
    first datacenter in O(failover_datacenters) that has some.
  - 'Managed fields: C(Service.Service), C(Service.Tags) (compared as a set), C(Service.OnlyPassing),
    C(Service.Failover.Datacenters) (compared in order), C(Service.Failover.NearestN), C(DNS.TTL) and
    C(Token). An option that is not set resets its field to Consul''s default (no tags, no failover, no
    DNS TTL, no stored token). Other fields of an existing query (C(Session), C(Template), C(Service.Near),
    C(Service.NodeMeta), C(Service.Failover.Targets) and the like) are kept as they are.'
  - In check mode, returns what would change without changing it. With C(--diff), shows the managed
    fields before and after. Tokens never appear in the output; a stored token shows as V(<hidden>).
options:
  name:
    description: Name of the prepared query; it is also the DNS label (C(<name>.query.consul)).
    type: str
    required: true
  state:
    description: Whether the query should exist.
    type: str
    choices: [present, absent]
    default: present
  service:
    description: The Consul service the query looks up. Required when O(state=present).
    type: str
  tags:
    description:
      - Service tags an instance must have (a tag starting with C(!) excludes instances that have it),
        for example V([primary]).
      - Unset or empty means no tag filter.
    type: list
    elements: str
  only_passing:
    description:
      - Return only instances whose health checks all pass. When V(false), instances with checks in the
        warning state are returned too (critical ones never are).
    type: bool
    default: true
  failover_datacenters:
    description:
      - Datacenters to ask, in this order, when the local datacenter has no healthy instance, for example
        V([dc2]). They must be WAN-federated with the agent's datacenter.
      - Unset or empty means no fixed failover list.
    type: list
    elements: str
  nearest_n:
    description:
      - Also fail over to up to this many other datacenters, nearest first by network coordinates (tried
        before O(failover_datacenters)). V(0) turns this off.
    type: int
    default: 0
  dns_ttl:
    description:
      - TTL of the query's DNS answers, as a Go duration such as V(5s) or V(1m). Unset means the agent's
        DNS configuration decides (C(dns_config.service_ttl), no caching by default).
    type: str
  query_token:
    description:
      - ACL token stored in the query and used for its lookups when it is executed, whoever executes it;
        it needs read on the service and its nodes (for example the platform's C(dns-lookup) policy).
        Never logged, never returned.
      - Unset means no stored token, so each lookup uses the token of whoever executes the query (for DNS,
        the agent's default token).
      - Consul shows a stored token only to tokens with C(acl = "write") (such as the management token); with
        any other O(token), the module can compare only whether a token is stored, not which one.
    type: str
extends_documentation_fragment:
  - hello.platform.consul
  - hello.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
notes:
  - O(token) needs C(query) read (to find the query) and write on O(name), for example the policy
    C(query "hello" { policy = "write" }); the management token can do everything.
  - Consul keeps prepared queries per datacenter, so run the module once for each datacenter (O(datacenter))
    that should answer the name.
seealso:
  - name: Consul prepared query HTTP API
    description: The fields this module manages and what they do.
    link: https://developer.hashicorp.com/consul/api-docs/query
"""

EXAMPLES = r"""
- name: Region A's healthy primary answers hello.query.consul, and region B's when region A has none
  hello.platform.consul_prepared_query:
    url: https://127.0.0.1:8501
    ca_path: /etc/hello-pki/ca.crt
    token: "{{ consul_management_token }}"
    name: hello
    service: hello
    tags: [primary]
    failover_datacenters: [dc2]
    dns_ttl: 5s
    query_token: "{{ consul_dns_token }}"

- name: The same name in region B, answered there first
  hello.platform.consul_prepared_query:
    ca_path: /etc/hello-pki/ca.crt
    token: "{{ consul_management_token }}"
    datacenter: dc2
    name: hello
    service: hello
    tags: [primary]
    failover_datacenters: [dc1]

- name: Remove the query
  hello.platform.consul_prepared_query:
    ca_path: /etc/hello-pki/ca.crt
    token: "{{ consul_management_token }}"
    name: hello
    state: absent
"""

RETURN = r"""
id:
  description: The query's ID; null when it does not exist (or, in check mode, would be created).
  returned: always
  type: str
  sample: 8f246b77-f3e1-ff88-5b48-8ec93abf3e05
query:
  description:
    - The query's definition as Consul keeps it (C(GET /v1/query/<id>)) after the change, or as it would be
      in check mode; C(Token) is V(<hidden>) when a token is stored and empty otherwise.
    - Empty after O(state=absent).
  returned: always
  type: dict
  sample:
    ID: 8f246b77-f3e1-ff88-5b48-8ec93abf3e05
    Name: hello
    Token: <hidden>
    Service:
      Service: hello
      Tags: [primary]
      OnlyPassing: true
      Failover:
        NearestN: 0
        Datacenters: [dc2]
    DNS:
      TTL: 5s
changes:
  description:
    - The managed fields that differ (and were, or in check mode would be, changed), for example
      V([Service.Failover.Datacenters]); V([created]) or V([deleted]) for a whole query.
  returned: always
  type: list
  elements: str
  sample: [Service.Failover.Datacenters, DNS.TTL]
"""

import copy
import re

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hello.platform.plugins.module_utils.consul import (
    CONSUL_IMPORT_ERROR,
    HAS_CONSUL,
    ConsulClient,
    ConsulError,
    consul_argument_spec,
)

HIDDEN = "<hidden>"  # what Consul itself shows instead of a stored token to tokens without acl:write
# A Go duration (time.ParseDuration), which Consul requires for DNS.TTL.
DURATION = re.compile("(?:(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:ns|us|\u00b5s|ms|s|m|h))+")
READ_ONLY = ("ID", "CreateIndex", "ModifyIndex")


class WrittenError(Exception):
    """The query was written, then reading it back failed: the result so far is in `result`."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


def argument_spec():
    spec = consul_argument_spec()
    spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        service=dict(type="str"),
        tags=dict(type="list", elements="str"),
        only_passing=dict(type="bool", default=True),
        failover_datacenters=dict(type="list", elements="str"),
        nearest_n=dict(type="int", default=0),
        dns_ttl=dict(type="str"),
        query_token=dict(type="str", no_log=True),
    )
    return spec


def check_params(params):
    """Input errors the module can name before asking Consul; None when there are none."""
    if params["nearest_n"] < 0:
        return "nearest_n must be 0 (off) or more, not %d" % params["nearest_n"]
    if params["dns_ttl"] and not DURATION.fullmatch(params["dns_ttl"]):
        return "dns_ttl '%s' is not a duration; write it like 5s, 500ms or 1m" % params["dns_ttl"]
    for option in ("tags", "failover_datacenters"):
        if any(not item for item in params[option] or []):
            return "%s contains an empty string" % option
    return None


def redacted(definition):
    """A copy of a query definition with the stored token replaced by <hidden> (or empty when none)."""
    if definition is None:
        return {}
    out = copy.deepcopy(definition)
    out["Token"] = HIDDEN if definition.get("Token") else ""
    return out


def view(definition):
    """The managed fields of a query definition, normalized (missing = Consul's default), token redacted."""
    if not definition:
        return {}
    service = definition.get("Service") or {}
    failover = service.get("Failover") or {}
    dns = definition.get("DNS") or {}
    return {
        "Name": definition.get("Name") or "",
        "Service": {
            "Service": service.get("Service") or "",
            "Tags": list(service.get("Tags") or []),
            "OnlyPassing": bool(service.get("OnlyPassing")),
            "Failover": {
                "NearestN": int(failover.get("NearestN") or 0),
                "Datacenters": list(failover.get("Datacenters") or []),
            },
        },
        "DNS": {"TTL": dns.get("TTL") or ""},
        "Token": HIDDEN if definition.get("Token") else "",
    }


def desired(current, params):
    """The full definition to send: `current` (None for a new query) with the managed fields set from params."""
    body = copy.deepcopy(current) if current else {}
    for key in READ_ONLY:
        body.pop(key, None)
    body["Name"] = params["name"]
    service = dict(body.get("Service") or {})
    service["Service"] = params["service"]
    service["Tags"] = list(params["tags"] or [])
    service["OnlyPassing"] = params["only_passing"]
    failover = dict(service.get("Failover") or {})
    failover["NearestN"] = params["nearest_n"]
    failover["Datacenters"] = list(params["failover_datacenters"] or [])
    service["Failover"] = failover
    body["Service"] = service
    dns = dict(body.get("DNS") or {})
    dns["TTL"] = params["dns_ttl"] or ""
    body["DNS"] = dns
    body["Token"] = params["query_token"] or ""
    return body


def differences(current, params):
    """Names of the managed fields in which the existing query `current` differs from params."""
    have = view(current)
    want = view(desired(current, params))
    out = []  # Name is what the query was found by, so it never differs
    if have["Service"]["Service"] != want["Service"]["Service"]:
        out.append("Service.Service")
    if sorted(set(have["Service"]["Tags"])) != sorted(set(want["Service"]["Tags"])):
        out.append("Service.Tags")
    if have["Service"]["OnlyPassing"] != want["Service"]["OnlyPassing"]:
        out.append("Service.OnlyPassing")
    if have["Service"]["Failover"]["NearestN"] != want["Service"]["Failover"]["NearestN"]:
        out.append("Service.Failover.NearestN")
    if have["Service"]["Failover"]["Datacenters"] != want["Service"]["Failover"]["Datacenters"]:
        out.append("Service.Failover.Datacenters")
    if have["DNS"]["TTL"] != want["DNS"]["TTL"]:
        out.append("DNS.TTL")
    stored, wanted = current.get("Token") or "", params["query_token"] or ""
    # A token shown as <hidden> can be compared only by its presence.
    if bool(stored) != bool(wanted) or (stored and stored != HIDDEN and stored != wanted):
        out.append("Token")
    return out


def write_hint(name):
    return ("The token lacks `query` write permission on '%s': give its policy query \"%s\" { policy = \"write\" } "
            "(or query_prefix), or use a token that has it" % (name, name))


def find(client, name):
    """The existing query named `name`, or None (among the queries the token may read)."""
    queries = client.call("listing the prepared queries (GET /v1/query)",
                          "The token lacks `query` read permission: give its policy query_prefix \"\" { policy = \"read\" }",
                          client.client.query.list, dc=client.datacenter) or []
    for query in queries:
        if query.get("Name") == name:
            return query
    return None


def read_back(client, query_id, name):
    found = client.call("reading prepared query '%s' back (GET /v1/query/%s)" % (name, query_id), None,
                        client.client.query.get, query_id, dc=client.datacenter)
    if not found:
        raise ConsulError("prepared query '%s' (%s) is gone right after it was written; is something else deleting it?" % (name, query_id))
    return found[0] if isinstance(found, list) else found


def read_back_after_write(client, query_id, name, result):
    try:
        return read_back(client, query_id, name)
    except ConsulError as e:
        raise WrittenError("%s. The query was written (%s: %s) before this error" % (
            e, ", ".join(result["changes"]), query_id), result)


def ensure_present(client, params, current, check_mode):
    name = params["name"]
    body = desired(current, params)
    if current is None:
        result = dict(changed=True, changes=["created"], id=None, query=redacted(body),
                      diff=dict(before={}, after=view(body)))
        if not check_mode:
            created = client.request("POST", "/v1/query", "creating prepared query '%s' (POST /v1/query)" % name,
                                     write_hint(name), body)
            query_id = (created or {}).get("ID")
            if not query_id:
                raise ConsulError("creating prepared query '%s': Consul answered without an ID: %s" % (name, created))
            result["id"] = query_id
            result["query"] = redacted(read_back_after_write(client, query_id, name, result))
        return result
    query_id = current["ID"]
    changes = differences(current, params)
    if not changes:
        return dict(changed=False, changes=[], id=query_id, query=redacted(current))
    after = dict(body, ID=query_id)
    result = dict(changed=True, changes=changes, id=query_id, query=redacted(after),
                  diff=dict(before=view(current), after=view(after)))
    if not check_mode:
        client.request("PUT", "/v1/query/%s" % query_id,
                       "updating prepared query '%s' (PUT /v1/query/%s)" % (name, query_id), write_hint(name), body)
        result["query"] = redacted(read_back_after_write(client, query_id, name, result))
    return result


def ensure_absent(client, params, current, check_mode):
    name = params["name"]
    if current is None:
        return dict(changed=False, changes=[], id=None, query={})
    query_id = current["ID"]
    if not check_mode:
        client.call("deleting prepared query '%s' (DELETE /v1/query/%s)" % (name, query_id), write_hint(name),
                    client.client.query.delete, query_id, dc=client.datacenter)
    return dict(changed=True, changes=["deleted"], id=query_id, query={}, diff=dict(before=view(current), after={}))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[("state", "present", ("service",))],
                           supports_check_mode=True)
    if not HAS_CONSUL:
        module.fail_json(msg=missing_required_lib("py-consul"), exception=CONSUL_IMPORT_ERROR)
    params = module.params
    problem = check_params(params)
    if problem:
        module.fail_json(msg="consul_prepared_query: %s. Nothing was changed." % problem)
    try:
        client = ConsulClient.from_params(params)
        current = find(client, params["name"])
        if params["state"] == "present":
            result = ensure_present(client, params, current, module.check_mode)
        else:
            result = ensure_absent(client, params, current, module.check_mode)
    except WrittenError as e:
        module.fail_json(msg="consul_prepared_query: %s" % e, **e.result)
    except ConsulError as e:
        module.fail_json(msg="consul_prepared_query: %s. Nothing was changed." % e)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
