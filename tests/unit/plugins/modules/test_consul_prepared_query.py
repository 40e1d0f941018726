# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for consul_prepared_query: the comparison, and the module run against a fake Consul.

The fake stands in for py-consul's client object (query.list/get/delete and the HTTP client that
module_utils/consul.py uses for writes) and keeps the queries like Consul does; the module against a
real agent is tests/integration/targets/consul_prepared_query.
"""

from __future__ import annotations

import copy
import json

import consul
import pytest
from ansible.module_utils.testing import patch_module_args
from consul.base import Response

from ansible_collections.hello.platform.plugins.module_utils import consul as c
from ansible_collections.hello.platform.plugins.modules import consul_prepared_query as m

URL = "https://127.0.0.1:8501"
LOOKUP_TOKEN = "5f0e4c1e-lookup-token"

# GET /v1/query/<id> of Consul 1.16 for the query the module makes (shape taken from the local test agent).
STORED = {
    "ID": "q-1", "Name": "hello", "Session": "", "Token": LOOKUP_TOKEN,
    "Service": {"Service": "hello", "Failover": {"NearestN": 0, "Datacenters": ["dc2"], "Targets": None},
                "OnlyPassing": True, "IgnoreCheckIDs": None, "Near": "", "Tags": ["primary"], "NodeMeta": None,
                "ServiceMeta": None, "Peer": "", "Connect": False, "SamenessGroup": ""},
    "DNS": {"TTL": "5s"}, "Template": {"Type": "", "Regexp": "", "RemoveEmptyTags": False},
    "CreateIndex": 10, "ModifyIndex": 10,
}
PARAMS = dict(name="hello", service="hello", tags=["primary"], failover_datacenters=["dc2"], dns_ttl="5s",
              query_token=LOOKUP_TOKEN)


def params(**changes):
    out = dict(state="present", only_passing=True, nearest_n=0, tags=None, failover_datacenters=None, dns_ttl=None,
               query_token=None)
    out.update(PARAMS)
    out.update(changes)
    return out


def stored(**changes):
    out = copy.deepcopy(STORED)
    for key, value in changes.items():
        if key.startswith("Service_"):
            out["Service"][key[len("Service_"):]] = value
        else:
            out[key] = value
    return out


# ---- the comparison ---------------------------------------------------------------------------

def test_the_query_as_declared_has_no_differences():
    assert m.differences(stored(), params()) == []


def test_tags_are_a_set_and_failover_datacenters_a_list():
    assert m.differences(stored(Service_Tags=["primary", "v1"]), params(tags=["v1", "primary"])) == []
    assert m.differences(stored(), params(tags=["primary", "v1"])) == ["Service.Tags"]
    failover = {"NearestN": 0, "Datacenters": ["dc2", "dc3"]}
    assert m.differences(stored(Service_Failover=failover), params(failover_datacenters=["dc3", "dc2"])) == [
        "Service.Failover.Datacenters"]


def test_every_managed_field_is_named():
    have = stored(Service_Service="old", Service_OnlyPassing=False, Service_Failover={"NearestN": 3}, DNS={"TTL": ""})
    assert m.differences(have, params()) == ["Service.Service", "Service.OnlyPassing", "Service.Failover.NearestN",
                                             "Service.Failover.Datacenters", "DNS.TTL"]


def test_missing_fields_are_consuls_defaults():
    bare = {"ID": "q-1", "Name": "hello", "Service": {"Service": "hello", "OnlyPassing": True}, "Token": ""}
    assert m.differences(bare, params(tags=[], failover_datacenters=None, dns_ttl=None, query_token=None)) == []


@pytest.mark.parametrize("have, want, changed", [
    ("", None, False),
    ("", LOOKUP_TOKEN, True),
    (LOOKUP_TOKEN, None, True),
    (LOOKUP_TOKEN, LOOKUP_TOKEN, False),
    (LOOKUP_TOKEN, "another-token", True),      # visible to a token with acl:write: compared by value
    ("<hidden>", "another-token", False),       # hidden from other tokens: compared by presence only
    ("<hidden>", None, True),
])
def test_the_stored_token_is_compared_by_value_when_visible_else_by_presence(have, want, changed):
    assert (m.differences(stored(Token=have), params(query_token=want)) == ["Token"]) is changed


def test_desired_keeps_unmanaged_fields_and_drops_read_only_ones():
    failover = {"NearestN": 0, "Datacenters": ["dc2"], "Targets": [{"Peer": "p"}]}
    have = stored(Session="s-1", Service_Near="_agent", Service_Failover=failover)
    body = m.desired(have, params(failover_datacenters=["dc2", "dc3"], query_token=None))
    assert "ID" not in body and "CreateIndex" not in body and "ModifyIndex" not in body
    assert body["Session"] == "s-1" and body["Service"]["Near"] == "_agent"
    assert body["Service"]["Failover"] == {"NearestN": 0, "Datacenters": ["dc2", "dc3"], "Targets": [{"Peer": "p"}]}
    assert body["Token"] == "" and body["Template"] == STORED["Template"]
    assert have["Service"]["Failover"]["Datacenters"] == ["dc2"]  # input untouched


def test_view_and_redacted_never_show_a_token():
    assert m.view(stored())["Token"] == "<hidden>" and m.view(stored(Token=""))["Token"] == ""
    assert m.redacted(stored())["Token"] == "<hidden>" and m.redacted(None) == {} and m.view(None) == {}
    assert LOOKUP_TOKEN not in json.dumps(m.view(stored())) + json.dumps(m.redacted(stored()))


@pytest.mark.parametrize("changes, message", [
    (dict(nearest_n=-1), "nearest_n must be 0 (off) or more, not -1"),
    (dict(dns_ttl="5 seconds"), "dns_ttl '5 seconds' is not a duration"),
    (dict(dns_ttl="5s\n"), "is not a duration"),
    (dict(dns_ttl="-5s"), "is not a duration"),
    (dict(tags=["primary", ""]), "tags contains an empty string"),
    (dict(failover_datacenters=[""]), "failover_datacenters contains an empty string"),
])
def test_bad_input_is_named_before_asking_consul(changes, message):
    assert message in m.check_params(params(**changes))


@pytest.mark.parametrize("ttl", ["5s", "500ms", "1m30s", "1.5h", "10us", "0s"])
def test_go_durations_are_accepted(ttl):
    assert m.check_params(params(dns_ttl=ttl)) is None


# ---- the module against a fake Consul ------------------------------------------------------------

class FakeAgent:
    """Keeps prepared queries like Consul: IDs, indexes, <hidden> tokens for readers without acl:write."""

    def __init__(self, queries=(), acl_write=True, deny_write=False, fail_get=False):
        self.queries = {q["ID"]: copy.deepcopy(q) for q in queries}
        self.acl_write, self.deny_write, self.fail_get = acl_write, deny_write, fail_get
        self.index = 100
        self.writes = []

    def shown(self, query):
        out = copy.deepcopy(query)
        if out.get("Token") and not self.acl_write:
            out["Token"] = "<hidden>"
        return out

    def write(self, method, path, data):
        self.writes.append((method, path, json.loads(data) if data else None))
        if self.deny_write:
            return Response(403, {}, "Permission denied: token with AccessorID 'a' lacks permission 'query:write' on \"hello\"")
        self.index += 1
        body = json.loads(data) if data else {}
        if method == "POST":
            query_id = "q-%d" % self.index
            self.queries[query_id] = dict(body, ID=query_id, CreateIndex=self.index, ModifyIndex=self.index)
            return Response(200, {}, json.dumps({"ID": query_id}))
        query_id = path.rsplit("/", 1)[1]
        if method == "PUT":
            create_index = self.queries[query_id]["CreateIndex"]
            self.queries[query_id] = dict(body, ID=query_id, CreateIndex=create_index, ModifyIndex=self.index)
        else:
            del self.queries[query_id]
        return Response(200, {}, "")


class FakeHTTP:
    def __init__(self, agent):
        self.agent = agent
        self.headers = []

    def get(self, callback, path, params=None, headers=None):
        raise AssertionError("the module reads through py-consul's query API, not raw GETs")

    def put(self, callback, path, params=None, data="", headers=None):
        self.headers.append(headers)
        return callback(self.agent.write("PUT", path, data))

    def post(self, callback, path, params=None, data="", headers=None):
        self.headers.append(headers)
        return callback(self.agent.write("POST", path, data))

    def delete(self, callback, path, params=None, data="", headers=None):
        raise AssertionError("the module deletes through py-consul's query API")


class FakeQueryAPI:
    def __init__(self, agent):
        self.agent = agent
        self.calls = []

    def list(self, dc=None, token=None):
        self.calls.append(("list", dc))
        return [self.agent.shown(q) for q in self.agent.queries.values()]

    def get(self, query_id, token=None, dc=None):
        self.calls.append(("get", query_id, dc))
        if self.agent.fail_get:
            raise consul.ConsulException("500 rpc error: No cluster leader")
        return [self.agent.shown(self.agent.queries[query_id])] if query_id in self.agent.queries else None

    def delete(self, query_id, token=None, dc=None):
        self.calls.append(("delete", query_id, dc))
        if self.agent.deny_write:
            raise consul.ACLPermissionDenied("Permission denied: lacks permission 'query:write' on \"hello\"")
        self.agent.writes.append(("DELETE", "/v1/query/%s" % query_id, None))
        return self.agent.queries.pop(query_id, None) is not None


class FakeConsul:
    """The parts of consul.Consul the module uses."""

    def __init__(self, agent):
        self.http = FakeHTTP(agent)
        self.query = FakeQueryAPI(agent)
        self.token = None

    def prepare_headers(self, token=None):
        return {"X-Consul-Token": token or self.token} if (token or self.token) else {}


def run(args, agent, monkeypatch, capsys):
    """Run the module with args against `agent`; returns (output, the params the client was built from)."""
    seen = {}

    def from_params(cls, module_params):
        seen.update(module_params)
        return c.ConsulClient(module_params["url"], token=module_params["token"], ca_path=module_params["ca_path"],
                              datacenter=module_params["datacenter"], client=FakeConsul(agent))

    monkeypatch.setattr(m.ConsulClient, "from_params", classmethod(from_params))
    with patch_module_args(dict(dict(token="management"), **args)), pytest.raises(SystemExit):
        m.main()
    return json.loads(capsys.readouterr().out), seen


def test_create_posts_the_definition_with_the_query_token_and_returns_it_redacted(monkeypatch, capsys):
    agent = FakeAgent()
    out, seen = run(dict(PARAMS, _ansible_diff=True), agent, monkeypatch, capsys)
    assert out["changed"] and out["changes"] == ["created"] and out["id"] == "q-101"
    method, path, body = agent.writes[0]
    assert (method, path) == ("POST", "/v1/query") and len(agent.writes) == 1
    assert body == {"Name": "hello", "Service": {"Service": "hello", "Tags": ["primary"], "OnlyPassing": True,
                                                 "Failover": {"NearestN": 0, "Datacenters": ["dc2"]}},
                    "DNS": {"TTL": "5s"}, "Token": LOOKUP_TOKEN}
    assert out["query"]["ID"] == "q-101" and out["query"]["Token"] == "<hidden>" and out["query"]["ModifyIndex"] == 101
    assert out["diff"]["before"] == {} and out["diff"]["after"]["Service"]["Failover"]["Datacenters"] == ["dc2"]
    assert LOOKUP_TOKEN not in json.dumps(out) and "management" not in json.dumps(out)
    assert seen["url"] == URL and seen["timeout"] == 10


def test_writes_carry_the_token_option_in_the_header_not_in_the_query(monkeypatch, capsys):
    agent = FakeAgent()
    consul_client = {}
    original = m.ConsulClient.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        consul_client["client"] = self.client

    monkeypatch.setattr(m.ConsulClient, "__init__", spy)
    run(dict(name="hello", service="hello"), agent, monkeypatch, capsys)
    assert consul_client["client"].http.headers == [{"X-Consul-Token": "management"}]
    assert agent.writes[0][2]["Token"] == ""  # no query_token: nothing stored, not the management token


def test_check_mode_create_says_what_it_would_create_and_writes_nothing(monkeypatch, capsys):
    agent = FakeAgent()
    out, seen = run(dict(PARAMS, _ansible_check_mode=True, _ansible_diff=True), agent, monkeypatch, capsys)
    assert out["changed"] and out["changes"] == ["created"] and out["id"] is None
    assert out["query"]["Service"]["Failover"]["Datacenters"] == ["dc2"] and out["query"]["Token"] == "<hidden>"
    assert out["diff"]["after"]["DNS"] == {"TTL": "5s"}
    assert agent.writes == [] and agent.queries == {}


def test_second_run_changes_nothing(monkeypatch, capsys):
    agent = FakeAgent([STORED])
    out, seen = run(dict(PARAMS), agent, monkeypatch, capsys)
    assert not out["changed"] and out["changes"] == [] and out["id"] == "q-1" and "diff" not in out
    assert out["query"]["Token"] == "<hidden>" and out["query"]["ModifyIndex"] == 10
    assert agent.writes == []


def test_a_reader_without_acl_write_sees_hidden_and_compares_only_presence(monkeypatch, capsys):
    agent = FakeAgent([STORED], acl_write=False)
    out, seen = run(dict(PARAMS, query_token="rotated"), agent, monkeypatch, capsys)
    assert not out["changed"] and agent.writes == []


def test_update_puts_the_whole_definition_and_keeps_unmanaged_fields(monkeypatch, capsys):
    agent = FakeAgent([stored(Session="s-1", Service_Near="_agent")])
    out, seen = run(dict(PARAMS, failover_datacenters=["dc2", "dc3"], datacenter="dc1", _ansible_diff=True),
                    agent, monkeypatch, capsys)
    assert out["changed"] and out["changes"] == ["Service.Failover.Datacenters"] and out["id"] == "q-1"
    method, path, body = agent.writes[0]
    assert (method, path) == ("PUT", "/v1/query/q-1") and len(agent.writes) == 1
    assert body["Service"]["Failover"]["Datacenters"] == ["dc2", "dc3"] and body["Service"]["Near"] == "_agent"
    assert body["Session"] == "s-1" and body["Token"] == LOOKUP_TOKEN and "ModifyIndex" not in body
    assert out["diff"]["before"]["Service"]["Failover"]["Datacenters"] == ["dc2"]
    assert out["diff"]["after"]["Service"]["Failover"]["Datacenters"] == ["dc2", "dc3"]
    assert out["query"]["ModifyIndex"] == 101 and out["query"]["Service"]["Near"] == "_agent"
    assert agent.queries["q-1"]["CreateIndex"] == 10


def test_check_mode_update_writes_nothing(monkeypatch, capsys):
    agent = FakeAgent([STORED])
    out, seen = run(dict(PARAMS, dns_ttl="30s", _ansible_check_mode=True), agent, monkeypatch, capsys)
    assert out["changed"] and out["changes"] == ["DNS.TTL"] and out["query"]["DNS"]["TTL"] == "30s"
    assert agent.writes == [] and agent.queries["q-1"]["DNS"]["TTL"] == "5s"


def test_dropping_the_query_token_stores_an_empty_one(monkeypatch, capsys):
    agent = FakeAgent([STORED], acl_write=False)
    out, seen = run(dict(PARAMS, query_token=None), agent, monkeypatch, capsys)
    assert out["changes"] == ["Token"] and agent.writes[0][2]["Token"] == "" and out["query"]["Token"] == ""


def test_only_the_query_with_that_name_is_considered(monkeypatch, capsys):
    agent = FakeAgent([stored(ID="q-9", Name="other", Service_Service="other")])
    out, seen = run(dict(PARAMS), agent, monkeypatch, capsys)
    assert out["changes"] == ["created"] and agent.queries["q-9"]["Name"] == "other" and len(agent.queries) == 2


def test_a_refused_update_says_which_permission_and_changes_nothing(monkeypatch, capsys):
    agent = FakeAgent([STORED], deny_write=True)
    out, seen = run(dict(PARAMS, failover_datacenters=["dc3"]), agent, monkeypatch, capsys)
    assert out["failed"] and not out.get("changed")
    assert out["msg"].startswith("consul_prepared_query: updating prepared query 'hello' (PUT /v1/query/q-1): "
                                 "Consul at https://127.0.0.1:8501 refused it (403 Permission denied")
    assert "lacks `query` write permission on 'hello'" in out["msg"] and out["msg"].endswith("Nothing was changed.")
    assert agent.queries["q-1"] == STORED


def test_a_refused_create_says_which_permission(monkeypatch, capsys):
    out, seen = run(dict(PARAMS), FakeAgent(deny_write=True), monkeypatch, capsys)
    assert out["failed"] and "creating prepared query 'hello' (POST /v1/query)" in out["msg"]
    assert "query \"hello\" { policy = \"write\" }" in out["msg"]


def test_a_failed_read_back_after_a_write_reports_the_change(monkeypatch, capsys):
    agent = FakeAgent([STORED], fail_get=True)
    out, seen = run(dict(PARAMS, dns_ttl="30s"), agent, monkeypatch, capsys)
    assert out["failed"] and out["changed"] and out["changes"] == ["DNS.TTL"]
    assert "reading prepared query 'hello' back" in out["msg"] and "500 rpc error: No cluster leader" in out["msg"]
    assert "The query was written (DNS.TTL: q-1) before this error" in out["msg"]
    assert "Nothing was changed" not in out["msg"]


def test_absent_deletes_the_query_once(monkeypatch, capsys):
    agent = FakeAgent([STORED])
    out, seen = run(dict(name="hello", state="absent", _ansible_diff=True), agent, monkeypatch, capsys)
    assert out["changed"] and out["changes"] == ["deleted"] and out["id"] == "q-1" and out["query"] == {}
    assert out["diff"] == {"before": m.view(STORED), "after": {}}
    assert agent.queries == {} and agent.writes == [("DELETE", "/v1/query/q-1", None)]
    out, seen = run(dict(name="hello", state="absent"), agent, monkeypatch, capsys)
    assert not out["changed"] and out["changes"] == [] and out["id"] is None


def test_check_mode_absent_deletes_nothing(monkeypatch, capsys):
    agent = FakeAgent([STORED])
    out, seen = run(dict(name="hello", state="absent", _ansible_check_mode=True), agent, monkeypatch, capsys)
    assert out["changed"] and agent.queries and agent.writes == []


def test_a_refused_delete_says_which_permission(monkeypatch, capsys):
    out, seen = run(dict(name="hello", state="absent"), FakeAgent([STORED], deny_write=True), monkeypatch, capsys)
    assert out["failed"] and "deleting prepared query 'hello' (DELETE /v1/query/q-1)" in out["msg"]
    assert "lacks `query` write permission" in out["msg"]


def test_bad_input_fails_before_a_client_is_built(monkeypatch, capsys):
    out, seen = run(dict(PARAMS, dns_ttl="soon"), FakeAgent(), monkeypatch, capsys)
    assert out["failed"] and "dns_ttl 'soon' is not a duration" in out["msg"] and seen == {}


def test_present_needs_a_service(monkeypatch, capsys):
    out, seen = run(dict(name="hello"), FakeAgent(), monkeypatch, capsys)
    assert out["failed"] and "missing: service" in out["msg"]


def test_connection_settings_come_from_consuls_environment(monkeypatch, capsys):
    monkeypatch.setenv("CONSUL_HTTP_ADDR", "https://10.0.0.5:8501")
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "env-token")
    monkeypatch.setenv("CONSUL_CACERT", "/etc/hello-pki/ca.crt")
    seen = {}

    def from_params(cls, module_params):
        seen.update(module_params)
        raise c.ConsulError("stop here")

    monkeypatch.setattr(m.ConsulClient, "from_params", classmethod(from_params))
    with patch_module_args(dict(name="hello", state="absent")), pytest.raises(SystemExit):
        m.main()
    out = json.loads(capsys.readouterr().out)
    assert seen["url"] == "https://10.0.0.5:8501" and seen["token"] == "env-token" and seen["ca_path"] == "/etc/hello-pki/ca.crt"
    assert out["msg"] == "consul_prepared_query: stop here. Nothing was changed." and "env-token" not in json.dumps(out)


def test_missing_py_consul_is_named(monkeypatch, capsys):
    monkeypatch.setattr(m, "HAS_CONSUL", False)
    out, seen = run(dict(PARAMS), FakeAgent(), monkeypatch, capsys)
    assert out["failed"] and "py-consul" in out["msg"] and seen == {}
