# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for module_utils/consul.py: URL parsing, the py-consul client it builds, error messages.

The last tests run the real py-consul/requests stack against small local HTTP(S)-less servers
(a thread that answers like Consul, a socket that never answers); the module against a real Consul
agent is tests/integration/targets/consul_prepared_query.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import consul
import pytest
import requests
from consul.base import Response

from ansible_collections.hello.platform.plugins.module_utils import consul as c

URL = "https://127.0.0.1:8501"


def test_argument_spec_hides_the_token_and_falls_back_to_consul_environment():
    spec = c.consul_argument_spec()
    assert spec["token"]["no_log"] is True
    assert spec["url"]["default"] == URL
    assert spec["url"]["fallback"][1] == ["CONSUL_HTTP_ADDR"]
    assert spec["token"]["fallback"][1] == ["CONSUL_HTTP_TOKEN"]
    assert spec["ca_path"]["fallback"][1] == ["CONSUL_CACERT"]
    assert spec["timeout"]["default"] == 10 and spec["datacenter"]["type"] == "str"


def test_parse_url_defaults_the_port_by_scheme():
    assert c.parse_url(URL) == ("https", "127.0.0.1", 8501)
    assert c.parse_url(" https://consul.example:9501/ ") == ("https", "consul.example", 9501)
    assert c.parse_url("https://10.0.0.1") == ("https", "10.0.0.1", 8501)
    assert c.parse_url("http://10.0.0.1") == ("http", "10.0.0.1", 8500)


@pytest.mark.parametrize("url, message", [
    ("127.0.0.1:8501", "not a Consul HTTP API URL"),
    ("ftp://h:21", "not a Consul HTTP API URL"),
    ("", "not a Consul HTTP API URL"),
    ("https://h:8501/v1/query", "has a path"),
    ("https://h:port", "invalid port"),
])
def test_parse_url_refuses_what_is_not_an_agent_address(url, message):
    with pytest.raises(c.ConsulError, match=message):
        c.parse_url(url)


def test_client_is_py_consul_for_the_url_with_ca_timeout_and_datacenter():
    client = c.ConsulClient("https://10.0.0.1:9501/", token="t0k", ca_path="/etc/ca.crt", timeout=3, datacenter="dc2")
    assert isinstance(client.client, consul.Consul)
    assert client.client.http.base_uri == "https://10.0.0.1:9501"
    assert client.client.http.verify == "/etc/ca.crt"
    assert client.client.http.connections_timeout == 3
    assert client.client.token == "t0k" and client.url == "https://10.0.0.1:9501" and client.datacenter == "dc2"
    assert c.ConsulClient(URL).client.http.verify is True  # no ca_path: the system's CAs


def test_the_token_option_wins_over_py_consuls_environment_lookup(monkeypatch):
    # py-consul itself prefers CONSUL_HTTP_TOKEN over the token it is given.
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "from-env")
    assert c.ConsulClient(URL, token="from-option").client.token == "from-option"
    # The module's own env fallback fills the option; without an option and a fallback, no token at all.
    assert c.ConsulClient(URL, token=None).client.token is None
    assert c.ConsulClient(URL, token=None).client.prepare_headers() == {}


def test_from_params_uses_every_connection_option():
    client = c.ConsulClient.from_params(dict(url="https://h:8501", token="x", ca_path="/ca", timeout=None, datacenter=""))
    assert client.url == "https://h:8501" and client.timeout == 10 and client.datacenter is None
    assert client.client.token == "x" and client.ca_path == "/ca"


def requests_error(cls, reason):
    """A requests error as requests raises it: wrapping urllib3's MaxRetryError(reason)."""
    from urllib3.exceptions import MaxRetryError
    return cls(MaxRetryError(None, "/v1/query", reason=reason))


@pytest.mark.parametrize("error, expected", [
    (consul.ACLPermissionDenied("Permission denied: token with AccessorID 'a' lacks permission 'query:write' on \"x\""),
     ["listing: Consul at https://127.0.0.1:8501 refused it (403 Permission denied: token with AccessorID 'a' lacks "
      "permission 'query:write' on \"x\")", "HINT"]),
    (consul.ACLPermissionDenied("ACL not found"), ["does not know the ACL token (403 ACL not found)", "CONSUL_HTTP_TOKEN"]),
    (consul.ACLDisabled("ACL support disabled"), ["answered 401 (ACL support disabled)"]),
    (consul.ConsulException("500 rpc error: No cluster leader"), ["answered: 500 rpc error: No cluster leader"]),
    (consul.Timeout("blocking query"), ["timed out (blocking query)"]),
    (requests_error(requests.exceptions.SSLError, Exception("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")),
     ["the TLS connection to https://127.0.0.1:8501 failed ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed)",
      "ca_path (now /etc/ca.crt)"]),
    (requests_error(requests.exceptions.ConnectionError, ConnectionRefusedError("[Errno 111] Connection refused")),
     ["cannot connect to https://127.0.0.1:8501 ([Errno 111] Connection refused)", "systemctl status consul"]),
    (requests.exceptions.ReadTimeout("read timed out"), ["no answer from https://127.0.0.1:8501 within 7 s", "raise timeout"]),
    (requests.exceptions.TooManyRedirects("too many"), ["the request to https://127.0.0.1:8501 failed: too many"]),
    (KeyError("ID"), ["unexpected error talking to https://127.0.0.1:8501: KeyError"]),
])
def test_describe_error_names_the_agent_and_says_what_to_do(error, expected):
    message = c.describe_error(error, URL, "listing", hint="HINT", ca_path="/etc/ca.crt", timeout=7)
    assert message.startswith("listing: ")
    for part in expected:
        assert part in message


def test_permission_denied_without_a_hint_still_says_it_is_the_token():
    assert "The token lacks the ACL permission" in c.describe_error(consul.ACLPermissionDenied(""), URL, "x")


class FakeHTTP:
    """py-consul's HTTP client interface; answers every request with one canned response."""

    def __init__(self, code=200, body=""):
        self.code, self.body, self.calls = code, body, []

    def _answer(self, method, callback, path, params=None, data=None, headers=None):
        self.calls.append(dict(method=method, path=path, params=params, data=data, headers=headers))
        return callback(Response(self.code, {}, self.body))

    def get(self, callback, path, params=None, headers=None):
        return self._answer("GET", callback, path, params, None, headers)

    def put(self, callback, path, params=None, data="", headers=None):
        return self._answer("PUT", callback, path, params, data, headers)

    def post(self, callback, path, params=None, data="", headers=None):
        return self._answer("POST", callback, path, params, data, headers)

    def delete(self, callback, path, params=None, data="", headers=None):
        return self._answer("DELETE", callback, path, params, data, headers)


class FakeConsul:
    def __init__(self, http):
        self.http, self.token = http, "ignored"

    def prepare_headers(self, token=None):
        return {"X-Consul-Token": token or self.token} if (token or self.token) else {}


def fake_client(code=200, body="", datacenter=None):
    http = FakeHTTP(code, body)
    return c.ConsulClient(URL, token="secret", datacenter=datacenter, client=FakeConsul(http)), http


def test_request_sends_json_with_the_token_and_datacenter_and_parses_the_answer():
    client, http = fake_client(body='{"ID": "q-1"}', datacenter="dc2")
    assert client.request("POST", "/v1/query", "creating", body={"Name": "hello"}) == {"ID": "q-1"}
    assert http.calls == [dict(method="POST", path="/v1/query", params=[("dc", "dc2")], data='{"Name": "hello"}',
                               headers={"X-Consul-Token": "secret"})]


def test_request_get_has_no_body_and_an_empty_answer_is_none():
    client, http = fake_client(body="")
    assert client.request("GET", "/v1/query", "listing") is None
    assert http.calls[0]["data"] is None and http.calls[0]["params"] is None


@pytest.mark.parametrize("code, body, expected", [
    (403, "Permission denied: lacks permission 'query:write'", "refused it (403 Permission denied: lacks permission 'query:write'). HINT"),
    (403, "ACL not found", "does not know the ACL token"),
    (401, "nope", "answered 401 (nope)"),
    (404, "Query not found\n", "answered: 404 Query not found"),
    (400, "Bad request: invalid DNS TTL\n", "answered: 400 Bad request: invalid DNS TTL"),
    (500, "rpc error", "answered: 500 rpc error"),
    (200, "<html>", "answered: 200 with a body that is not JSON: <html>"),
])
def test_request_errors_become_consul_errors(code, body, expected):
    client, http = fake_client(code, body)
    with pytest.raises(c.ConsulError) as raised:
        client.request("PUT", "/v1/query/q-1", "updating prepared query 'hello'", "HINT", {"Name": "hello"})
    assert str(raised.value).startswith("updating prepared query 'hello': ")
    assert expected in str(raised.value)


def test_call_passes_results_and_consul_errors_through():
    client, http = fake_client()
    assert client.call("x", None, lambda a, b=0: a + b, 1, b=2) == 3

    def fails():
        raise c.ConsulError("already explained")

    with pytest.raises(c.ConsulError, match="^already explained$"):
        client.call("x", None, fails)


def test_missing_py_consul_is_named(monkeypatch):
    monkeypatch.setattr(c, "HAS_CONSUL", False)
    with pytest.raises(c.ConsulError, match="pip install py-consul"):
        c.ConsulClient(URL)


# ---- the real py-consul/requests stack against local sockets -------------------------------------

class ConsulLike(BaseHTTPRequestHandler):
    """Answers GET /v1/query with one query and refuses writes without the right token, like Consul."""

    seen = []

    def log_message(self, *args):
        pass

    def _send(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        ConsulLike.seen.append(("GET", self.path, self.headers.get("X-Consul-Token")))
        self._send(200, json.dumps([{"ID": "q-1", "Name": "hello"}]))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        ConsulLike.seen.append(("POST", self.path, self.headers.get("X-Consul-Token"), self.rfile.read(length).decode()))
        if self.headers.get("X-Consul-Token") != "writer":
            self._send(403, "Permission denied: token with AccessorID 'a' lacks permission 'query:write' on \"hello\"")
        else:
            self._send(200, '{"ID": "q-2"}')


@pytest.fixture
def consul_like():
    ConsulLike.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ConsulLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_real_py_consul_lists_with_the_token_and_a_refusal_names_url_and_permission(consul_like, monkeypatch):
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "from-env-must-not-be-used")
    client = c.ConsulClient(consul_like, token="reader", timeout=5, datacenter="dc1")
    assert client.call("listing", None, client.client.query.list, dc=client.datacenter) == [{"ID": "q-1", "Name": "hello"}]
    with pytest.raises(c.ConsulError) as raised:
        client.request("POST", "/v1/query", "creating prepared query 'hello'", "HINT", {"Name": "hello"})
    assert "Consul at %s refused it (403 Permission denied" % consul_like in str(raised.value)
    assert "'query:write'" in str(raised.value) and str(raised.value).endswith("HINT")
    writer = c.ConsulClient(consul_like, token="writer", timeout=5)
    assert writer.request("POST", "/v1/query", "creating", body={"Name": "hello"}) == {"ID": "q-2"}
    assert ConsulLike.seen == [
        ("GET", "/v1/query?dc=dc1", "reader"),
        ("POST", "/v1/query?dc=dc1", "reader", '{"Name": "hello"}'),
        ("POST", "/v1/query", "writer", '{"Name": "hello"}'),
    ]


def test_an_agent_that_accepts_but_never_answers_times_out_with_the_timeout_named():
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        client = c.ConsulClient("http://127.0.0.1:%d" % silent.getsockname()[1], timeout=1)
        with pytest.raises(c.ConsulError, match=r"listing: no answer from http://127\.0\.0\.1:\d+ within 1 s"):
            client.call("listing", None, client.client.query.list)
    finally:
        silent.close()


def test_nothing_listening_is_a_connection_error_naming_the_url():
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # the port is free now: nothing listens there
    client = c.ConsulClient("https://127.0.0.1:%d" % port, timeout=2)
    with pytest.raises(c.ConsulError, match=r"cannot connect to https://127\.0\.0\.1:%d \(.*Connection refused\)" % port):
        client.call("listing", None, client.client.query.list)
