# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared Consul HTTP API client for the hello.platform Consul modules (py-consul).

One place for the agent URL, TLS verification, the ACL token, timeouts and error messages. A module
builds a `ConsulClient` from its parameters (`consul_argument_spec()` / the `hello.platform.consul`
doc fragment) and calls `client.call(what, hint, function, ...)` around a py-consul call, or
`client.request(...)` for a request py-consul cannot express; both raise `ConsulError` with a
message that names the agent, what was being done and what to check.

py-consul (1.8) quirks this works around:

- `consul.Consul(token=...)` lets the environment's CONSUL_HTTP_TOKEN win over the token it is
  given; the token is set on the client after it is built, so the module's `token` option rules
  (the option itself falls back to CONSUL_HTTP_TOKEN when it is not set).
- `query.create()` and `query.update()` send no X-Consul-Token header (so they are refused when
  ACLs are enabled) and store the client's own token in the query when no query token is given;
  prepared queries are therefore written with `request()`, through the same client's `http`.
"""

from __future__ import annotations

import json
import traceback
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_native

try:
    import consul  # py-consul, the maintained fork of python-consul (same import name)
except ImportError:
    HAS_CONSUL = False
    CONSUL_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CONSUL = True
    CONSUL_IMPORT_ERROR = None

try:
    import requests
except ImportError:  # py-consul depends on requests; without it HAS_CONSUL is False anyway
    requests = None

DEFAULT_URL = "https://127.0.0.1:8501"


class ConsulError(Exception):
    """A Consul request failed or a setting is wrong; the message says which and what to do."""


def consul_argument_spec():
    """Connection options shared by every Consul module (see the hello.platform.consul doc fragment)."""
    return dict(
        url=dict(type="str", default=DEFAULT_URL, fallback=(env_fallback, ["CONSUL_HTTP_ADDR"])),
        token=dict(type="str", no_log=True, fallback=(env_fallback, ["CONSUL_HTTP_TOKEN"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["CONSUL_CACERT"])),
        timeout=dict(type="int", default=10),
        datacenter=dict(type="str"),
    )


def parse_url(url):
    """`https://127.0.0.1:8501` -> ('https', '127.0.0.1', 8501); the port defaults to 8501/8500."""
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConsulError("'%s' is not a Consul HTTP API URL; expected https://<host>:<port>, for example %s"
                          % (url, DEFAULT_URL))
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConsulError("'%s' has a path; give only the agent's address, for example %s" % (url, DEFAULT_URL))
    try:
        port = parts.port
    except ValueError:
        raise ConsulError("'%s' has an invalid port; expected https://<host>:<port>, for example %s" % (url, DEFAULT_URL))
    return parts.scheme, parts.hostname, port or (8501 if parts.scheme == "https" else 8500)


def _request_reason(error):
    """The innermost reason of a requests error, without urllib3's "Max retries exceeded" wrapping."""
    reason = error.args[0] if getattr(error, "args", None) else None
    while getattr(reason, "reason", None) is not None:  # urllib3's MaxRetryError -> its cause
        reason = reason.reason
    if isinstance(reason, Exception):
        # SSLError(SSLCertVerificationError(...)) -> the verification error's own text
        while isinstance(reason, Exception) and len(reason.args) == 1 and isinstance(reason.args[0], Exception):
            reason = reason.args[0]
        return to_native(reason).strip()
    return None


def describe_error(error, url, what, hint=None, ca_path=None, timeout=None):
    """A message for an exception raised by py-consul or requests while doing `what` against `url`.

    `hint` says what a permission error means for this request (for example which ACL rule the
    token needs); the other messages say what to check.
    """
    text = to_native(error).strip()
    if HAS_CONSUL and isinstance(error, consul.ACLPermissionDenied):
        if "ACL not found" in text:
            return ("%s: Consul at %s does not know the ACL token (403 ACL not found). Check the token option "
                    "(or CONSUL_HTTP_TOKEN) and that the token has not been deleted or expired" % (what, url))
        return "%s: Consul at %s refused it (403 %s). %s" % (
            what, url, text or "Permission denied", hint or "The token lacks the ACL permission this needs")
    if HAS_CONSUL and isinstance(error, consul.ACLDisabled):
        return "%s: Consul at %s answered 401 (%s): check the token option" % (what, url, text)
    if HAS_CONSUL and isinstance(error, consul.Timeout):
        return "%s: Consul at %s timed out (%s)" % (what, url, text)
    if HAS_CONSUL and isinstance(error, consul.ConsulException):
        # BadRequest/ClientError carry "<status> <body>", 5xx errors too; NotFound only the body.
        return "%s: Consul at %s answered: %s" % (what, url, text or type(error).__name__)
    if requests is not None and isinstance(error, requests.exceptions.RequestException):
        text = _request_reason(error) or text
        if isinstance(error, requests.exceptions.SSLError):
            return ("%s: the TLS connection to %s failed (%s). Check that ca_path (now %s) names the CA that signed "
                    "the agent's certificate and that the certificate is valid for the URL's host"
                    % (what, url, text, ca_path or "not set: the system's CAs"))
        if isinstance(error, requests.exceptions.Timeout):
            return ("%s: no answer from %s within %s s. Check that the agent runs and answers (consul members), "
                    "or raise timeout" % (what, url, timeout))
        if isinstance(error, requests.exceptions.ConnectionError):
            return ("%s: cannot connect to %s (%s). Check that the Consul agent runs (systemctl status consul) "
                    "and serves its HTTPS API at that address and port" % (what, url, text))
        return "%s: the request to %s failed: %s" % (what, url, text)
    return "%s: unexpected error talking to %s: %s: %s" % (what, url, type(error).__name__, text)


def parse_response(response):
    """py-consul's HTTP callback for raw requests: the JSON body (None when empty), or py-consul's exception."""
    code, body = response.code, response.body or ""
    if code == 401:
        raise consul.ACLDisabled(body)
    if code == 403:
        raise consul.ACLPermissionDenied(body)
    if code == 404:
        raise consul.NotFound("404 %s" % body.strip())
    if code >= 400:
        raise consul.ConsulException("%s %s" % (code, body.strip()))
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise consul.ConsulException("%s with a body that is not JSON: %s" % (code, body[:200]))


class ConsulClient:
    """A py-consul client for one agent, with errors translated into ConsulError."""

    def __init__(self, url=DEFAULT_URL, token=None, ca_path=None, timeout=10, datacenter=None, client=None):
        self.url = url.strip().rstrip("/")
        scheme, host, port = parse_url(self.url)
        self.ca_path = ca_path
        self.timeout = timeout
        self.datacenter = datacenter or None
        if client is None:
            if not HAS_CONSUL:
                raise ConsulError("the py-consul Python library is missing where the module runs: pip install py-consul")
            client = consul.Consul(host=host, port=port, scheme=scheme, verify=ca_path or True,
                                   dc=self.datacenter, connections_timeout=timeout)
        # py-consul prefers CONSUL_HTTP_TOKEN from the environment over its token argument.
        client.token = token or None
        self.client = client

    @classmethod
    def from_params(cls, params):
        return cls(params.get("url") or DEFAULT_URL, token=params.get("token"), ca_path=params.get("ca_path"),
                   timeout=params.get("timeout") or 10, datacenter=params.get("datacenter"))

    def call(self, what, hint, function, *args, **kwargs):
        """function(*args, **kwargs), a py-consul call; its exceptions become ConsulError."""
        try:
            return function(*args, **kwargs)
        except ConsulError:
            raise
        except Exception as e:  # py-consul's ConsulException family, requests errors, anything else
            raise ConsulError(describe_error(e, self.url, what, hint, self.ca_path, self.timeout))

    def request(self, method, path, what, hint=None, body=None):
        """A raw request through py-consul's HTTP client (same TLS, token and timeout); parsed JSON or None."""
        params = [("dc", self.datacenter)] if self.datacenter else None
        headers = self.client.prepare_headers()
        data = json.dumps(body) if body is not None else ""
        http = self.client.http
        send = dict(GET=http.get, PUT=http.put, POST=http.post, DELETE=http.delete)[method]
        kwargs = dict(params=params, headers=headers)
        if method != "GET":
            kwargs["data"] = data
        return self.call(what, hint, send, parse_response, path, **kwargs)
