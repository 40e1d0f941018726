# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection pools to the current leader (and optionally replicas), repointed on leader change,
and the retry loop that rides out a switchover.

All SQL is run with bound parameters. Statements run in autocommit mode: each is its own
transaction, and both statements of the service are idempotent, so a statement that failed on a
connection error may be run again (on the new leader).
"""

import contextlib
import logging
import random
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from . import metrics
from .config import Settings
from .patroni import Member, eligible_replicas

log = logging.getLogger(__name__)

MERGE_SQL = ("merge into hello.birthdays trgt using (values (%s, %s::date)) as src(username, birthday) "
             "on trgt.username = src.username when matched then update set birthday = src.birthday "
             "when not matched then insert (username, birthday) values (src.username, src.birthday)")
SELECT_SQL = "select birthday from hello.birthdays where username = %s"

# SQLSTATEs after which the statement is retried (on a rediscovered leader): read_only_sql_transaction,
# admin/crash shutdown, cannot_connect_now, serialization failure and deadlock; and class 08 (connection).
RETRY_SQLSTATES = frozenset(("25006", "57P01", "57P02", "57P03", "40001", "40P01"))
RETRY_ERROR_CLASSES = (psycopg2.OperationalError, psycopg2.InterfaceError, psycopg2.errors.ReadOnlySqlTransaction,
                       psycopg2.errors.AdminShutdown, psycopg2.errors.CrashShutdown, psycopg2.errors.CannotConnectNow,
                       psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected)
MERGE_RACE_ATTEMPTS = 3
BACKOFF_START = 0.05
BACKOFF_MAX = 0.5


class DatabaseUnavailable(Exception):
    """No leader, or the database could not be reached before the retry timeout (-> HTTP 503)."""


class NoLeader(Exception):
    """Leader discovery currently knows no writable leader."""


class PoolTimeout(Exception):
    """Every connection of the pool stayed busy until the deadline."""


def is_retryable(exc: BaseException) -> bool:
    """True for errors that a leader change explains; never for errors caused by the input."""
    if isinstance(exc, NoLeader):
        return True
    if isinstance(exc, RETRY_ERROR_CLASSES):
        return True
    code = getattr(exc, "pgcode", None)
    return bool(code) and (code.startswith("08") or code in RETRY_SQLSTATES)


def describe_error(exc: BaseException) -> str:
    """A one-line description of a database error (libpq messages never contain the password)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    name = exc.__class__.__name__
    return f"{name}: {first}" if first else name


class Pool:
    """A small thread-safe pool of at most max_size connections to one target (host list)."""

    def __init__(self, conninfo: Dict[str, object], max_size: int, label: str):
        self.conninfo = conninfo
        self.label = label
        self.max_size = max_size
        self._slots = threading.BoundedSemaphore(max_size)
        self._idle: List[psycopg2.extensions.connection] = []
        self._lock = threading.Lock()
        self.closed = False

    def _connect(self):
        conn = psycopg2.connect(**self.conninfo)
        conn.autocommit = True
        return conn

    @contextlib.contextmanager
    def connection(self, timeout: float):
        """A connection for the duration of the block; discarded (closed) if the block raises."""
        if not self._slots.acquire(timeout=max(timeout, 0.0)):
            raise PoolTimeout(f"all {self.max_size} connections to {self.label} stayed busy")
        conn = None
        try:
            with self._lock:
                while self._idle and conn is None:
                    candidate = self._idle.pop()
                    if not candidate.closed:
                        conn = candidate
            if conn is None:
                if self.closed:
                    raise psycopg2.InterfaceError(f"pool for {self.label} was closed (leader changed)")
                conn = self._connect()
            try:
                yield conn
            except BaseException:
                _close_quietly(conn)
                raise
            with self._lock:
                healthy = (not self.closed and not conn.closed
                           and conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE)
                if healthy:
                    self._idle.append(conn)
            if not healthy:
                _close_quietly(conn)
        finally:
            self._slots.release()

    def discard_idle(self) -> None:
        """Close the idle connections (after a connection error they are likely dead too)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)

    def close(self) -> None:
        """Close idle connections now; connections in use are closed when they are given back."""
        self.closed = True
        self.discard_idle()


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except Exception:  # pylint: disable=broad-exception-caught
        pass


class Database:
    """The leader pool (repointed by leader discovery), optional replica pools, and the retry loop."""

    def __init__(self, settings: Settings, on_rediscover: Optional[Callable[[], None]] = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.on_rediscover = on_rediscover
        self._sleep = sleep
        self._lock = threading.Lock()
        self._leader: Optional[Member] = None
        self._last_leader: Optional[Member] = None
        self._leader_pool: Optional[Pool] = None
        self._replica_pools: Dict[Tuple[str, int], Pool] = {}
        self._replicas: Tuple[Member, ...] = ()
        if settings.static_mode:
            self._leader_pool = Pool(self.conninfo(settings.db_hosts, read_write=True), settings.pool_max,
                                     label=",".join(f"{h}:{p}" for h, p in settings.db_hosts))
            metrics.LEADER_KNOWN.set(1)
        else:
            metrics.LEADER_KNOWN.set(0)

    # -- connection parameters -------------------------------------------------------------
    def conninfo(self, hosts: Sequence[Tuple[str, int]], read_write: bool) -> Dict[str, object]:
        s = self.settings
        info: Dict[str, object] = {
            "host": ",".join(str(item[0]) for item in hosts),
            "port": ",".join(str(item[1]) for item in hosts),
            "dbname": s.db_name,
            "user": s.db_user,
            "password": s.db_password,
            "sslmode": s.db_sslmode,
            "connect_timeout": s.db_connect_timeout,
            "application_name": s.application_name,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
        }
        if read_write:
            # A stale leader (demoted before discovery noticed) is refused at connect time.
            info["target_session_attrs"] = "read-write"
        if s.db_sslrootcert:
            info["sslrootcert"] = s.db_sslrootcert
        if s.db_sslcert:
            info["sslcert"] = s.db_sslcert
            info["sslkey"] = s.db_sslkey
        if s.db_statement_timeout_ms:
            info["options"] = f"-c statement_timeout={s.db_statement_timeout_ms}"
        return info

    # -- topology, fed by leader discovery --------------------------------------------------
    @property
    def leader(self) -> Optional[Member]:
        return self._leader

    @property
    def last_leader(self) -> Optional[Member]:
        """The last leader that was known (kept while there is no leader)."""
        return self._last_leader

    def leader_known(self) -> bool:
        return self.settings.static_mode or self._leader is not None

    def set_leader(self, member: Optional[Member]) -> bool:
        """Point the leader pool at member (None: no leader). True when the leader changed to
        another member than the last known one (what hello_db_leader_changes_total counts)."""
        if self.settings.static_mode:
            return False
        old_pool = None
        changed = False
        with self._lock:
            current = self._leader.address if self._leader else None
            new = member.address if member else None
            if new == current:
                self._leader = member  # name/timeline may have been refreshed
            else:
                old_pool = self._leader_pool
                self._leader = member
                self._leader_pool = None
                if member is not None:
                    self._leader_pool = Pool(self.conninfo([member.address], read_write=True), self.settings.pool_max,
                                             label=f"{member.host}:{member.port}")
                    changed = self._last_leader is not None and self._last_leader.address != member.address
                    self._last_leader = member
        metrics.LEADER_KNOWN.set(1 if member is not None else 0)
        if old_pool is not None:
            old_pool.close()
        return changed

    def set_replicas(self, replicas: Iterable[Member]) -> None:
        """Keep pools for the replicas that may serve reads; close the pools of the others."""
        if not self.settings.read_from_replicas:
            return
        usable = tuple(eligible_replicas(list(replicas), self.settings.max_replica_lag_bytes))
        stale = []
        with self._lock:
            self._replicas = usable
            wanted = {m.address for m in usable}
            for address in list(self._replica_pools):
                if address not in wanted:
                    stale.append(self._replica_pools.pop(address))
            for member in usable:
                if member.address not in self._replica_pools:
                    self._replica_pools[member.address] = Pool(self.conninfo([member.address], read_write=False),
                                                               self.settings.pool_max, label=f"{member.host}:{member.port}")
        for pool in stale:
            pool.close()

    def _pick_replica_pool(self) -> Optional[Pool]:
        with self._lock:
            if not self._replicas:
                return None
            member = random.choice(self._replicas)
            return self._replica_pools.get(member.address)

    # -- statements -------------------------------------------------------------------------
    def upsert_birthday(self, username: str, birthday) -> None:
        def merge(cur):
            # PostgreSQL's MERGE is not an atomic upsert: when two sessions insert the same new
            # username at once, both take the NOT MATCHED branch and the later INSERT fails with
            # unique_violation. Running the MERGE again takes the MATCHED branch (last write wins,
            # as for any two PUTs). Only pk_birthdays can be violated, and only by such a race.
            for attempt in range(MERGE_RACE_ATTEMPTS):
                try:
                    cur.execute(MERGE_SQL, (username, birthday.isoformat()))
                    return
                except psycopg2.errors.UniqueViolation:
                    if attempt == MERGE_RACE_ATTEMPTS - 1:
                        raise
                    metrics.DB_RETRIES.inc()
                    log.info("MERGE lost an insert race; running it again", extra={"attempt": attempt + 1})
        self._run(merge, read_only=False)

    def get_birthday(self, username: str):
        def query(cur):
            cur.execute(SELECT_SQL, (username,))
            row = cur.fetchone()
            return row[0] if row else None
        return self._run(query, read_only=True)

    def check(self, wait_for_slot: float = 0.5) -> None:
        """One `select 1` on the leader pool, without retry; raises DatabaseUnavailable.

        When every connection of the pool stays busy for wait_for_slot seconds, the pool is serving
        requests (a failing database frees connections at once): that counts as healthy, so that a
        busy instance is not taken out of the load balancer."""
        with self._lock:
            pool = self._leader_pool
        if pool is None:
            raise DatabaseUnavailable("no leader")
        try:
            with pool.connection(wait_for_slot) as conn, conn.cursor() as cur:
                cur.execute("select 1")
                cur.fetchone()
        except PoolTimeout:
            log.debug("readiness: all connections busy; counted as healthy")
        except psycopg2.Error as exc:
            pool.discard_idle()
            raise DatabaseUnavailable(f"database unreachable: {describe_error(exc)}") from None

    def _attempt(self, pool: Pool, fn, timeout: float):
        with pool.connection(timeout) as conn, conn.cursor() as cur:
            return fn(cur)

    def _run(self, fn, read_only: bool):
        """Run fn(cursor) on the leader, retrying retryable errors until the retry timeout."""
        deadline = time.monotonic() + self.settings.retry_timeout
        if read_only and self.settings.read_from_replicas:
            pool = self._pick_replica_pool()
            if pool is not None:
                try:
                    return self._attempt(pool, fn, timeout=min(1.0, self.settings.retry_timeout))
                except PoolTimeout:
                    pass
                except psycopg2.Error as exc:
                    if not is_retryable(exc):
                        raise
                    pool.discard_idle()
                    log.warning("replica read failed, reading from the leader", extra={"replica": pool.label, "error": describe_error(exc)})
        backoff = BACKOFF_START
        while True:
            with self._lock:
                pool = self._leader_pool
            try:
                if pool is None:
                    raise NoLeader("no leader known")
                return self._attempt(pool, fn, timeout=max(deadline - time.monotonic(), 0.0))
            except PoolTimeout as exc:
                raise DatabaseUnavailable(str(exc)) from None
            except Exception as exc:  # pylint: disable=broad-exception-caught
                if not is_retryable(exc):
                    raise
                last_error = exc
                if pool is not None:
                    pool.discard_idle()
                if self.on_rediscover is not None and not self.settings.static_mode:
                    self.on_rediscover()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = "no leader" if isinstance(last_error, NoLeader) else f"database unreachable: {describe_error(last_error)}"
                log.error("giving up after the retry timeout", extra={"error": what, "retry_timeout": self.settings.retry_timeout})
                raise DatabaseUnavailable(what)
            metrics.DB_RETRIES.inc()
            log.info("retrying statement", extra={"error": describe_error(last_error), "backoff": round(backoff, 3)})
            self._sleep(min(backoff, remaining))
            backoff = min(backoff * 2, BACKOFF_MAX)

    def close(self) -> None:
        with self._lock:
            pools = [p for p in [self._leader_pool] if p is not None] + list(self._replica_pools.values())
            self._leader_pool = None
            self._replica_pools = {}
        for pool in pools:
            pool.close()
