# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leader discovery, repointing and retries against the real PostgreSQL, with a fake Patroni REST API
(a real HTTP server in a thread). The two "members" are the same local server under two names
(127.0.0.1 and localhost); a member on a closed port stands for a leader that is down."""

import datetime
import threading
import time

import pytest
from prometheus_client import REGISTRY

from hello_service.app import create_app, get_service

from conftest import free_port, make_settings, member


def counter(name):
    return REGISTRY.get_sample_value(name) or 0.0


def wait_for(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def make_app(pg, clock):
    made = []

    def factory(**overrides):
        application = create_app(make_settings(pg, **overrides), today=clock)
        made.append(application)
        return application.test_client(), get_service(application)

    yield factory
    for application in made:
        get_service(application).close()


def patroni_settings(patroni, **extra):
    values = {"db_hosts": (), "patroni_urls": (patroni.url,), "poll_interval": 0.1, "retry_timeout": 5.0}
    values.update(extra)
    return values


def test_discovers_the_leader_and_serves(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port), member("db-2", "replica", "localhost", pg.port, lag=0))
    client, service = make_app(**patroni_settings(patroni))
    assert service.database.leader.name == "db-1"
    assert REGISTRY.get_sample_value("hello_db_leader_known") == 1.0
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204
    assert client.get("/hello/alice").get_json() == {"message": "Hello, alice! Your birthday is in 5 day(s)"}
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "mode": "patroni", "leader": "db-1"}


def test_leader_change_repoints_the_pool(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port), member("db-2", "replica", "localhost", pg.port, lag=0))
    client, service = make_app(**patroni_settings(patroni))
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204
    old_pool = service.database._leader_pool  # pylint: disable=protected-access
    assert old_pool._idle  # pylint: disable=protected-access
    changes = counter("hello_db_leader_changes_total")
    patroni.set_members(member("db-1", "replica", "127.0.0.1", pg.port, lag=0), member("db-2", "leader", "localhost", pg.port))
    assert wait_for(lambda: service.database.leader is not None and service.database.leader.name == "db-2")
    assert counter("hello_db_leader_changes_total") == changes + 1
    assert old_pool.closed and not old_pool._idle  # pylint: disable=protected-access
    new_pool = service.database._leader_pool  # pylint: disable=protected-access
    assert new_pool is not old_pool and new_pool.conninfo["host"] == "localhost"
    assert client.put("/hello/alice", json={"dateOfBirth": "1991-06-20"}).status_code == 204
    assert rows.get("alice") == datetime.date(1991, 6, 20)
    # same leader reported again: no change counted
    time.sleep(0.3)
    assert counter("hello_db_leader_changes_total") == changes + 1


def test_leader_lost_and_back_is_not_a_change(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port))
    client, service = make_app(**patroni_settings(patroni))
    changes = counter("hello_db_leader_changes_total")
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port, state="stopped"))
    assert wait_for(lambda: service.database.leader is None)
    assert REGISTRY.get_sample_value("hello_db_leader_known") == 0.0
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port))
    assert wait_for(lambda: service.database.leader is not None)
    assert counter("hello_db_leader_changes_total") == changes
    assert client.get("/health/ready").status_code == 200


def test_write_rides_out_a_switchover(pg, patroni, make_app, rows):
    """The leader is down (closed port) when the PUT arrives; 0.7 s later Patroni names a new leader:
    the PUT retries and succeeds, with no error for the client."""
    patroni.set_members(member("db-1", "leader", "127.0.0.1", free_port()))
    client, service = make_app(**patroni_settings(patroni))
    retries = counter("hello_db_retries_total")

    def switch():
        time.sleep(0.7)
        patroni.set_members(member("db-1", "replica", "127.0.0.1", free_port(), lag=0), member("db-2", "leader", "localhost", pg.port))

    switcher = threading.Thread(target=switch)
    switcher.start()
    started = time.monotonic()
    response = client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"})
    elapsed = time.monotonic() - started
    switcher.join()
    assert response.status_code == 204, response.get_data(as_text=True)
    assert 0.5 < elapsed < 4.0
    assert counter("hello_db_retries_total") > retries
    assert rows.get("alice") == datetime.date(1990, 6, 20)
    assert service.database.leader.name == "db-2"


def test_write_during_no_leader_waits_for_the_new_leader(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port, state="stopping"), member("db-2", "replica", "localhost", pg.port))
    client = make_app(**patroni_settings(patroni))[0]

    def promote():
        time.sleep(0.5)
        patroni.set_members(member("db-1", "replica", "127.0.0.1", pg.port), member("db-2", "leader", "localhost", pg.port))

    promoter = threading.Thread(target=promote)
    promoter.start()
    response = client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"})
    promoter.join()
    assert response.status_code == 204, response.get_data(as_text=True)
    assert rows.get("alice") == datetime.date(1990, 6, 20)


def test_terminated_connections_are_retried(pg, admin_db, make_app, rows):
    """Pooled connections killed by the server (admin shutdown, as in a switchover) are replaced."""
    client = make_app(retry_timeout=5.0)[0]
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204
    retries = counter("hello_db_retries_total")
    with admin_db.cursor() as cur:
        cur.execute("select count(pg_terminate_backend(pid)) from pg_stat_activity where usename = %s and datname = %s",
                    (pg.app_user, pg.db_name))
        assert cur.fetchone()[0] >= 1
    assert client.put("/hello/alice", json={"dateOfBirth": "1991-06-20"}).status_code == 204
    assert client.get("/hello/alice").status_code == 200
    assert counter("hello_db_retries_total") > retries
    assert rows.get("alice") == datetime.date(1991, 6, 20)


def test_read_only_leader_is_retried_until_writable(pg, admin_db, make_app, rows):
    """A demoted leader (read-only sessions) is refused and retried until it is writable again."""
    client = make_app(retry_timeout=5.0)[0]
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204
    retries = counter("hello_db_retries_total")
    with admin_db.cursor() as cur:
        cur.execute(f"alter role {pg.app_user} set default_transaction_read_only = on")
        cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (pg.app_user,))

    def restore():
        time.sleep(0.6)
        with admin_db.cursor() as cur:
            cur.execute(f"alter role {pg.app_user} reset default_transaction_read_only")

    restorer = threading.Thread(target=restore)
    restorer.start()
    try:
        response = client.put("/hello/alice", json={"dateOfBirth": "1991-06-20"})
    finally:
        restorer.join()
        with admin_db.cursor() as cur:
            cur.execute(f"alter role {pg.app_user} reset default_transaction_read_only")
    assert response.status_code == 204, response.get_data(as_text=True)
    assert counter("hello_db_retries_total") > retries
    assert rows.get("alice") == datetime.date(1991, 6, 20)


def test_gives_up_with_503_after_the_retry_timeout(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", free_port()))
    client = make_app(**patroni_settings(patroni, retry_timeout=0.5))[0]
    started = time.monotonic()
    response = client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"})
    assert 0.4 < time.monotonic() - started < 3.0
    assert response.status_code == 503
    assert response.get_json()["error"] == "service_unavailable"
    assert "database" in response.get_json()["message"]
    assert response.headers["Retry-After"] == "1"
    assert rows.count() == 0


def test_validation_errors_are_not_retried(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", free_port()))
    client = make_app(**patroni_settings(patroni, retry_timeout=5.0))[0]
    retries = counter("hello_db_retries_total")
    started = time.monotonic()
    assert client.put("/hello/alice", json={"dateOfBirth": "2999-01-01"}).status_code == 400
    assert client.put("/hello/al1ce", json={"dateOfBirth": "1990-01-01"}).status_code == 400
    assert time.monotonic() - started < 0.5
    assert counter("hello_db_retries_total") == retries


def test_readiness_follows_patroni_and_the_database(pg, patroni, make_app, rows):
    patroni.set_members(member("dr-1", "standby_leader", "127.0.0.1", pg.port))
    client, service = make_app(**patroni_settings(patroni, retry_timeout=0.3))
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["error"] == "no_leader"
    assert response.get_json()["message"].startswith("no leader")
    assert "standby_leader" in response.get_json()["message"]
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 503
    assert rows.count() == 0

    patroni.set_members(member("db-1", "leader", "127.0.0.1", free_port()))
    assert wait_for(lambda: service.database.leader is not None)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["error"] == "database_unreachable"
    assert response.get_json()["message"].startswith("database unreachable: ")

    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port))
    assert wait_for(lambda: client.get("/health/ready").status_code == 200)
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204


def test_one_patroni_url_down(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port))
    client, service = make_app(**patroni_settings(patroni, patroni_urls=(f"http://127.0.0.1:{free_port()}", patroni.url)))
    assert service.database.leader.name == "db-1"
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204


def test_patroni_unreachable_keeps_the_last_leader(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port))
    client, service = make_app(**patroni_settings(patroni))
    assert service.database.leader is not None
    patroni.status = 500
    assert wait_for(lambda: "unreachable" in (service.poller.last_error or ""))
    assert service.database.leader.name == "db-1"
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204
    assert client.get("/health/ready").status_code == 200


def test_reads_from_a_replica_within_the_lag_limit(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port),
                        member("db-2", "replica", "localhost", pg.port, lag=100),
                        member("db-3", "replica", "127.0.0.1", free_port(), lag=10 ** 9))
    client, service = make_app(**patroni_settings(patroni, read_from_replicas=True, max_replica_lag_bytes=1000))
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204
    pools = service.database._replica_pools  # pylint: disable=protected-access
    assert [address[0] for address in pools] == ["localhost"]  # db-3 lags too much
    assert client.get("/hello/alice").status_code == 200
    assert pools[("localhost", pg.port)]._idle  # pylint: disable=protected-access  # the read used the replica


def test_replica_read_falls_back_to_the_leader(pg, patroni, make_app, rows):
    dead = free_port()
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port), member("db-2", "replica", "127.0.0.1", dead, lag=0))
    client, service = make_app(**patroni_settings(patroni, read_from_replicas=True))
    assert ("127.0.0.1", dead) in service.database._replica_pools  # pylint: disable=protected-access
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204
    response = client.get("/hello/alice")
    assert response.status_code == 200
    assert response.get_json() == {"message": "Hello, alice! Your birthday is in 5 day(s)"}


def test_no_replica_qualifies_reads_from_the_leader(pg, patroni, make_app, rows):
    patroni.set_members(member("db-1", "leader", "127.0.0.1", pg.port), member("db-2", "replica", "localhost", pg.port, lag=5000))
    client, service = make_app(**patroni_settings(patroni, read_from_replicas=True, max_replica_lag_bytes=0))
    assert not service.database._replica_pools  # pylint: disable=protected-access
    assert client.put("/hello/alice", json={"dateOfBirth": "1990-06-20"}).status_code == 204
    assert client.get("/hello/alice").status_code == 200
