# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leader discovery: a background thread per worker polls Patroni's GET /cluster and repoints the
database pools when the leader changes. wake() asks for an immediate poll (after a connection error).
"""

import logging
import threading
import time
from typing import Optional

from . import metrics
from .db import Database
from .patroni import ClusterView, PatroniClient, parse_cluster

log = logging.getLogger(__name__)

MIN_POLL_SPACING = 0.1  # seconds between two polls, however often wake() is called


class LeaderPoller:
    """Polls Patroni every interval (or at once after wake()) and feeds the Database."""

    def __init__(self, client: PatroniClient, database: Database, interval: float):
        self.client = client
        self.database = database
        self.interval = interval
        self.last_view: Optional[ClusterView] = None
        self.last_error: Optional[str] = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._polled = threading.Event()
        self._unreachable_logged = False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="hello-leader-poller", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.client.close()

    def wait_first_poll(self, timeout: float) -> bool:
        """Block until the first poll has finished (startup, tests)."""
        return self._polled.wait(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll_once()
            except Exception:  # pylint: disable=broad-exception-caught
                log.exception("leader discovery poll failed")
            self._polled.set()
            self._wake.wait(self.interval)
            self._wake.clear()
            spacing = MIN_POLL_SPACING - (time.monotonic() - started)
            if spacing > 0:
                self._stop.wait(spacing)

    def poll_once(self) -> Optional[ClusterView]:
        """One poll: fetch /cluster, pick the leader, repoint on change. None if no URL answered."""
        payload, url, errors = self.client.fetch_cluster()
        if payload is None:
            self.last_error = "Patroni REST API unreachable: " + "; ".join(errors)
            # Keep the last known leader: the connection itself (target_session_attrs=read-write)
            # still refuses a demoted one, and an unreachable API alone says nothing about the DB.
            if not self._unreachable_logged:
                log.warning("no Patroni REST API answered; keeping the last known leader", extra={"errors": errors})
                self._unreachable_logged = True
            return None
        if self._unreachable_logged:
            log.info("Patroni REST API reachable again", extra={"patroni_url": url})
            self._unreachable_logged = False
        if errors:
            log.debug("some Patroni URLs failed", extra={"errors": errors})
        view = parse_cluster(payload)
        previous = self.database.leader
        last_known = self.database.last_leader
        changed = self.database.set_leader(view.leader)
        self.database.set_replicas(view.replicas)
        self.last_view = view
        self.last_error = view.reason or None
        if changed:
            metrics.LEADER_CHANGES.inc()
            log.warning("database leader changed; connection pool repointed",
                        extra={"old_leader": str(last_known) if last_known else None, "new_leader": str(view.leader), "patroni_url": url})
        elif view.leader is not None and previous is None:
            log.info("database leader found", extra={"leader": str(view.leader), "patroni_url": url})
        elif view.leader is None and previous is not None:
            log.warning("database leader lost", extra={"old_leader": str(previous), "reason": view.reason, "patroni_url": url})
        return view
