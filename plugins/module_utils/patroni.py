# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared Patroni REST API client for the hello.platform Patroni modules.

One place for TLS, authentication, timeouts and error messages. A module builds a
`PatroniClient` from its parameters (`patroni_argument_spec()` / the `hello.platform.patroni`
doc fragment), reads the cluster with `cluster()` (the first member that answers), and acts on a
member. The pure functions below (`summarize`, `choose_candidate`, `config_changes`) hold the
decisions so they can be unit-tested without a cluster.
"""

from __future__ import annotations

import json
import time

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_native, to_text
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.urls import Request

# Member states in which a member is a healthy replica (Patroni 3 and 4 spellings).
REPLICA_STATES = ("streaming", "running")
LEADER_ROLES = ("leader", "master", "primary", "standby_leader")


class PatroniError(Exception):
    """A Patroni request failed or a precondition does not hold; the message says which and why."""


def patroni_argument_spec():
    """Connection options shared by every Patroni module (see the hello.platform.patroni doc fragment)."""
    return dict(
        api_url=dict(type="list", elements="str", required=True),
        ca_path=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        username=dict(type="str", fallback=(env_fallback, ["PATRONI_RESTAPI_USERNAME"])),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["PATRONI_RESTAPI_PASSWORD"])),
        timeout=dict(type="int", default=10),
    )


def base_url(url):
    """`https://host:8008/patroni` or `https://host:8008/` -> `https://host:8008`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PatroniError("'%s' is not a Patroni REST API URL; expected https://<host>:<port>" % url)
    return "%s://%s" % (parts.scheme, parts.netloc)


class PatroniClient:
    """Talks to the REST API of the members given in api_url (and to members found in /cluster)."""

    def __init__(self, api_url, ca_path=None, validate_certs=True, client_cert=None, client_key=None,
                 username=None, password=None, timeout=10, request=None):
        self.endpoints = [base_url(u) for u in api_url]
        if not self.endpoints:
            raise PatroniError("api_url is empty; give the REST API URL of at least one member")
        self.timeout = timeout
        self._request = request or Request(
            validate_certs=validate_certs, ca_path=ca_path, client_cert=client_cert, client_key=client_key,
            timeout=timeout, url_username=username, url_password=password, force_basic_auth=bool(username),
            headers={"Accept": "application/json"})

    @classmethod
    def from_params(cls, params):
        return cls(params["api_url"], ca_path=params.get("ca_path"), validate_certs=params.get("validate_certs", True),
                   client_cert=params.get("client_cert"), client_key=params.get("client_key"),
                   username=params.get("username"), password=params.get("password"),
                   timeout=params.get("timeout") or 10)

    def call(self, endpoint, method, path, body=None, timeout=None):
        """One request. Returns (status, parsed JSON or text). Raises PatroniError when nothing answers."""
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        url = endpoint + path
        try:
            response = self._request.open(method, url, data=data, headers=headers, timeout=timeout or self.timeout)
            status, raw = response.getcode(), response.read()
        except HTTPError as e:
            status, raw = e.code, e.read() if hasattr(e, "read") else b""
        except URLError as e:
            raise PatroniError("%s %s: %s" % (method, url, to_native(getattr(e, "reason", e))))
        except Exception as e:  # socket timeouts, TLS errors raised outside URLError
            raise PatroniError("%s %s: %s" % (method, url, to_native(e)))
        text = to_text(raw or b"", errors="surrogate_or_strict")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text.strip()

    def first(self, method, path, ok=(200,)):
        """The first member of api_url that answers with a status in `ok`: (endpoint, data)."""
        failures = []
        for endpoint in self.endpoints:
            try:
                status, data = self.call(endpoint, method, path)
            except PatroniError as e:
                failures.append(str(e))
                continue
            if status in ok:
                return endpoint, data
            failures.append("%s %s%s: HTTP %s %s" % (method, endpoint, path, status, data if data else ""))
        raise PatroniError("no member answered: %s. Check that Patroni runs (systemctl status patroni), "
                           "the URLs in api_url, and ca_path." % "; ".join(failures))

    def cluster(self):
        """GET /cluster from the first member that answers: (endpoint, data)."""
        return self.first("GET", "/cluster")

    def config(self):
        return self.first("GET", "/config")[1]

    def patch_config(self, changes, endpoint=None):
        target = endpoint or self.first("GET", "/config")[0]
        status, data = self.call(target, "PATCH", "/config", changes)
        if status != 200:
            raise PatroniError("PATCH %s/config: HTTP %s %s" % (target, status, data))
        return data

    def post(self, endpoint, path, body, timeout=None):
        """POST where the member's answer matters; (status, data) without raising on HTTP errors."""
        return self.call(endpoint, "POST", path, body, timeout=timeout)

    def wait_for(self, predicate, timeout, interval=1.0, clock=time.monotonic, sleep=time.sleep):
        """Poll /cluster until predicate(summary) is true. Returns (summary, seconds waited)."""
        start = clock()
        last_error = None
        while True:
            try:
                summary = summarize(self.cluster()[1])
                if predicate(summary):
                    return summary, clock() - start
            except PatroniError as e:
                last_error = e
            if clock() - start >= timeout:
                raise PatroniError("gave up after %d s%s" % (timeout, (": last error: %s" % last_error) if last_error else ""))
            sleep(interval)


def _lag(value):
    """Patroni reports lag in bytes, or 'unknown'/None when it cannot tell."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def summarize(cluster):
    """A stable, documented view of GET /cluster (Patroni 3 and 4)."""
    members = []
    for m in cluster.get("members") or []:
        api = m.get("api_url")
        members.append(dict(
            name=m.get("name"),
            role=m.get("role"),
            state=m.get("state"),
            host=m.get("host"),
            port=m.get("port"),
            api_url=base_url(api) if api else None,
            timeline=m.get("timeline"),
            lag=_lag(m.get("lag", m.get("replay_lag"))),
            receive_lag=_lag(m.get("receive_lag")),
            replay_lag=_lag(m.get("replay_lag")),
            pending_restart=bool(m.get("pending_restart", False)),
            tags=m.get("tags") or {},
        ))
    leaders = [m for m in members if m["role"] in ("leader", "master", "primary")]
    standby_leaders = [m for m in members if m["role"] == "standby_leader"]
    timelines = [m["timeline"] for m in leaders + standby_leaders if m.get("timeline") is not None]
    return dict(
        scope=cluster.get("scope"),
        members=members,
        leader=leaders[0]["name"] if leaders else None,
        standby_leader=standby_leaders[0]["name"] if standby_leaders else None,
        sync_standby=[m["name"] for m in members if m["role"] in ("sync_standby", "quorum_standby")],
        paused=bool(cluster.get("pause", False)),
        scheduled_switchover=cluster.get("scheduled_switchover"),
        timeline=timelines[0] if timelines else None,
        pending_restart=[m["name"] for m in members if m["pending_restart"]],
        is_standby_cluster=bool(standby_leaders) and not leaders,
    )


def member(summary, name):
    for m in summary["members"]:
        if m["name"] == name:
            return m
    return None


def healthy_replica(m):
    return (m["role"] not in LEADER_ROLES and m["state"] in REPLICA_STATES
            and not m["tags"].get("nofailover", False))


def choose_candidate(summary, candidate=None, max_lag=None, synchronous=False):
    """Decide which member should lead after a switchover.

    Returns the member's name. Raises PatroniError with the reason when the cluster is paused, has
    no leader, the named member does not exist / is unhealthy / lags more than max_lag bytes, or no
    member qualifies. With `synchronous` (Patroni's synchronous_mode), only a synchronous standby
    qualifies, as Patroni itself insists. A candidate that already leads is returned as is (the
    caller reports no change).
    """
    names = [m["name"] for m in summary["members"]]
    if summary["paused"]:
        raise PatroniError("the cluster is paused (maintenance mode): Patroni would not switch over. "
                           "Resume it first (patronictl resume) or fix what paused it.")
    leader = summary["leader"] or summary["standby_leader"]
    if not leader:
        raise PatroniError("the cluster has no leader, so there is nothing to switch over from; "
                           "use a failover instead. Members: %s" % ", ".join(names))
    if candidate is not None:
        m = member(summary, candidate)
        if m is None:
            raise PatroniError("there is no member named '%s'; members: %s" % (candidate, ", ".join(names)))
        if m["name"] == leader:
            return candidate
        if not healthy_replica(m):
            raise PatroniError("member '%s' cannot take over: role %s, state %s%s" % (
                candidate, m["role"], m["state"], ", tagged nofailover" if m["tags"].get("nofailover") else ""))
        if synchronous and m["name"] not in summary["sync_standby"]:
            raise PatroniError("member '%s' is not a synchronous standby (now: %s), and in synchronous mode Patroni "
                               "switches over only to one; wait until it is (patronictl list) or choose %s" % (
                                   candidate, ", ".join(summary["sync_standby"]) or "none",
                                   " or ".join(summary["sync_standby"]) or "another time"))
        if max_lag is not None and (m["lag"] is None or m["lag"] > max_lag):
            raise PatroniError("member '%s' lags %s bytes behind the leader, more than max_lag_bytes=%d; "
                               "wait for it to catch up or choose another candidate" % (
                                   candidate, "an unknown number of" if m["lag"] is None else m["lag"], max_lag))
        return candidate
    replicas = [m for m in summary["members"] if healthy_replica(m)
                and (max_lag is None or (m["lag"] is not None and m["lag"] <= max_lag))
                and (not synchronous or m["name"] in summary["sync_standby"])]
    if not replicas:
        raise PatroniError("no healthy candidate: no %s is streaming within max_lag_bytes=%s (members: %s)" % (
            "synchronous standby" if synchronous else "replica", max_lag,
            ", ".join("%s %s/%s lag %s" % (m["name"], m["role"], m["state"], m["lag"]) for m in summary["members"])))
    # A synchronous standby first (it has every acknowledged commit), then the smallest lag.
    replicas.sort(key=lambda m: (m["name"] not in summary["sync_standby"], m["lag"] if m["lag"] is not None else 1 << 62, m["name"]))
    return replicas[0]["name"]


def config_changes(current, desired):
    """The part of `desired` that differs from `current` (recursively), as a PATCH body; {} if none.

    A value of None in `desired` removes the key (Patroni's PATCH semantics) and counts as a change
    only when the key exists.
    """
    changes = {}
    for key, value in (desired or {}).items():
        have = (current or {}).get(key)
        if value is None:
            if key in (current or {}):
                changes[key] = None
        elif isinstance(value, dict) and isinstance(have, dict):
            sub = config_changes(have, value)
            if sub:
                changes[key] = sub
        elif have != value:
            changes[key] = value
    return changes


def cluster_from_consul(client, scope, namespace="/service/", dc=None):
    """Rebuild a GET /cluster-like document from Patroni's keys in Consul.

    For when no member's REST API answers: `client` is a `consul.Consul` (py-consul). Patroni keeps
    under <namespace><scope>/: `leader` (the leader's name), `members/<name>` (JSON: role, state,
    api_url, conn_url, timeline, xlog_location, replication_state), `sync`, `config` and `status`
    (the leader's last optime, from which the members' lag is computed).
    """
    prefix = "%s%s/" % (namespace.strip("/") + "/" if namespace.strip("/") else "", scope)
    try:
        items = client.kv.get(prefix, recurse=True, dc=dc)[1]
    except Exception as e:  # py-consul raises its own ACLPermissionDenied, ConsulException, requests errors
        raise PatroniError("reading Patroni's keys under %s from Consul failed: %s. Check consul_url, "
                           "consul_token (it needs read on %s) and consul_ca_path." % (prefix, to_native(e), prefix))
    if not items:
        raise PatroniError("Consul has no keys under %s: check scope and namespace (is the cluster bootstrapped?)" % prefix)
    keys = {}
    for item in items:
        value = item.get("Value")
        keys[item["Key"][len(prefix):]] = to_text(value) if value is not None else ""

    def load(key, default=None):
        try:
            return json.loads(keys[key]) if keys.get(key) else default
        except ValueError:
            return default

    leader = keys.get("leader") or None
    sync = load("sync", {}) or {}
    sync_names = sync.get("sync_standby") or ""
    sync_names = set(sync_names.split(",")) if isinstance(sync_names, str) else set(sync_names)
    status = load("status", {}) or {}
    optime = status.get("optime")
    config = load("config", {}) or {}
    members = []
    for key in sorted(keys):
        if not key.startswith("members/"):
            continue
        name = key[len("members/"):]
        data = load(key, {}) or {}
        role = data.get("role")
        if name == leader:
            role = "standby_leader" if role == "standby_leader" or config.get("standby_cluster") else "leader"
        elif role in ("replica", "standby-leader", "standby_leader"):
            role = "sync_standby" if name in sync_names else "replica"
        state = data.get("replication_state") or data.get("state")
        lag = None
        if name != leader and isinstance(optime, int) and isinstance(data.get("xlog_location"), int):
            lag = max(optime - data["xlog_location"], 0)
        members.append(dict(name=name, role=role, state=state, api_url=data.get("api_url"),
                            host=None, port=None, timeline=data.get("timeline"), lag=lag,
                            pending_restart=bool(data.get("pending_restart", False)), tags=data.get("tags") or {}))
    return dict(scope=scope, members=members, pause=bool(config.get("pause", False)))
