# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patroni REST API: fetch GET /cluster and pick the writable leader and the usable replicas.

parse_cluster() and eligible_replicas() are pure functions. The leader is the one member with
role "leader" and state "running"; a "standby_leader" (the leader of a standby cluster, e.g. the
other region) is not writable and never counts as the leader.
"""

import logging
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import requests

log = logging.getLogger(__name__)

LEADER_ROLES = ("leader",)
REPLICA_ROLES = ("replica", "sync_standby", "quorum_standby")
REPLICA_STATES = ("streaming", "running")


class Member(NamedTuple):
    name: str
    role: str
    state: str
    host: str
    port: int
    lag: Optional[int] = None
    timeline: Optional[int] = None

    @property
    def address(self) -> Tuple[str, int]:
        return (self.host, self.port)

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port})"


class ClusterView(NamedTuple):
    leader: Optional[Member]
    replicas: Tuple[Member, ...]
    reason: str = ""


def _member(raw: Any) -> Optional[Member]:
    """One /cluster member as a Member, or None when it lacks a usable host/port."""
    if not isinstance(raw, dict):
        return None
    host = raw.get("host")
    port = raw.get("port", 5432)
    if not isinstance(host, str) or not host:
        return None
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return None
    lag = raw.get("lag")
    if isinstance(lag, bool) or not isinstance(lag, int):
        lag = None  # Patroni reports "unknown" when it cannot tell
    timeline = raw.get("timeline")
    if isinstance(timeline, bool) or not isinstance(timeline, int):
        timeline = None
    return Member(name=str(raw.get("name") or f"{host}:{port}"), role=str(raw.get("role") or ""),
                  state=str(raw.get("state") or ""), host=host, port=port, lag=lag, timeline=timeline)


def parse_cluster(payload: Any) -> ClusterView:
    """The writable leader (or None, with the reason) and the replicas of a /cluster payload."""
    if not isinstance(payload, dict) or not isinstance(payload.get("members"), list):
        return ClusterView(None, (), "invalid /cluster payload: no members list")
    members = [m for m in (_member(raw) for raw in payload["members"]) if m is not None]
    leaders = [m for m in members if m.role in LEADER_ROLES and m.state == "running"]
    replicas = tuple(m for m in members if m.role in REPLICA_ROLES)
    if not leaders:
        standby = [m for m in members if m.role == "standby_leader"]
        if standby:
            return ClusterView(None, replicas, f"no leader: {standby[0].name} is a standby_leader (standby cluster, read-only)")
        other = [m for m in members if m.role in LEADER_ROLES]
        if other:
            return ClusterView(None, replicas, f"no leader: {other[0].name} is in state {other[0].state or 'unknown'}, not running")
        return ClusterView(None, replicas, "no leader in the Patroni cluster")
    if len(leaders) > 1:
        # Should not happen; prefer the newest timeline, refuse to guess on a tie.
        leaders.sort(key=lambda m: m.timeline if m.timeline is not None else -1, reverse=True)
        if leaders[0].timeline is None or leaders[0].timeline == leaders[1].timeline:
            return ClusterView(None, replicas, "no leader: several members claim the leader role")
    return ClusterView(leaders[0], replicas, "")


def eligible_replicas(replicas: Sequence[Member], max_lag_bytes: int) -> List[Member]:
    """Replicas that may serve reads: streaming/running with a known lag of at most max_lag_bytes."""
    return [m for m in replicas
            if m.role in REPLICA_ROLES and m.state in REPLICA_STATES and m.lag is not None and 0 <= m.lag <= max_lag_bytes]


class PatroniClient:
    """Fetches /cluster from the configured Patroni REST API URLs, trying them in turn.

    The URL that answered last is tried first next time, so a URL that is down costs its timeout
    only once. TLS is verified with ca_file when given (else the system CAs).
    """

    def __init__(self, urls: Sequence[str], ca_file: Optional[str] = None, timeout: float = 1.0):
        if not urls:
            raise ValueError("no Patroni URL")
        self.urls = tuple(u.rstrip("/") for u in urls)
        self.timeout = timeout
        self._preferred = 0
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies from the environment for a cluster-internal API
        self._session.verify = ca_file if ca_file else True
        self._session.headers["Accept"] = "application/json"

    def fetch_cluster(self) -> Tuple[Optional[dict], Optional[str], List[str]]:
        """(payload, url that answered, errors) — payload is None when no URL answered usefully."""
        errors = []
        count = len(self.urls)
        for step in range(count):
            index = (self._preferred + step) % count
            url = self.urls[index]
            try:
                response = self._session.get(url + "/cluster", timeout=(self.timeout, self.timeout * 2), allow_redirects=False)
                if response.status_code != 200:
                    errors.append(f"{url}: HTTP {response.status_code}")
                    continue
                payload = response.json()
            except requests.RequestException as exc:
                errors.append(f"{url}: {exc.__class__.__name__}")
                continue
            except ValueError:
                errors.append(f"{url}: response is not JSON")
                continue
            if not isinstance(payload, dict) or not isinstance(payload.get("members"), list):
                errors.append(f"{url}: response has no members list")
                continue
            self._preferred = index
            return payload, url, errors
        return None, None, errors

    def close(self) -> None:
        self._session.close()
