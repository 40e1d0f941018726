# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures: a real PostgreSQL 15 (testbed/local-postgres.sh), a test database laid out exactly like
production (roles hello / app_user, schema hello, table birthdays), the Flask app connected as
app_user, a fake clock, and a fake Patroni REST API (http.server in a thread)."""

import datetime
import json
import os
import secrets
import shlex
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import hypothesis
import hypothesis.configuration
import psycopg2
import pytest
from psycopg2 import sql

from hello_service.app import create_app, get_service
from hello_service.config import Settings

# Hypothesis keeps caches in ./.hypothesis by default: keep them out of the work tree.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    _cache = os.environ.get("HELLO_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hello-platform")
    hypothesis.configuration.set_hypothesis_home_dir(os.path.join(_cache, "app-hypothesis"))
hypothesis.settings.register_profile("hello", database=None, deadline=None, print_blob=True)
hypothesis.settings.load_profile("hello")

APP_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = APP_DIR.parent
PG_SCRIPT = REPO_ROOT / "testbed" / "local-postgres.sh"
TEST_DB = os.environ.get("HELLO_TEST_DB_NAME", "hello_app_test")
PG_KEYS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")
DEFAULT_TODAY = datetime.date(2024, 6, 15)


class PgServer:
    """Connection facts of the PostgreSQL server and of the test database."""

    def __init__(self, env):
        self.host = env["PGHOST"]
        self.port = int(env["PGPORT"])
        self.superuser = env["PGUSER"]
        self.superuser_password = env["PGPASSWORD"]
        self.maintenance_db = env.get("PGDATABASE") or "postgres"
        self.db_name = TEST_DB
        self.app_user = "app_user"
        self.app_password = "t" + secrets.token_hex(16)

    def admin_connect(self, dbname=None):
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.superuser, password=self.superuser_password,
                                dbname=dbname or self.maintenance_db, connect_timeout=5, application_name="hello-app-tests")
        conn.autocommit = True
        return conn


def _pg_environment():
    if all(os.environ.get(k) for k in PG_KEYS):
        return {k: os.environ[k] for k in PG_KEYS + ("PGDATABASE",) if os.environ.get(k)}
    if not PG_SCRIPT.is_file():
        pytest.fail(f"no PostgreSQL for the tests: set {', '.join(PG_KEYS)} or provide {PG_SCRIPT}", pytrace=False)
    try:
        subprocess.run(["bash", str(PG_SCRIPT), "start"], check=True, timeout=900, stdout=subprocess.DEVNULL)
        out = subprocess.run(["bash", str(PG_SCRIPT), "env"], check=True, timeout=60, capture_output=True, text=True).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.fail(f"could not start the local PostgreSQL with {PG_SCRIPT}: {exc}", pytrace=False)
    env = {}
    for line in out.splitlines():
        words = shlex.split(line)
        if words and words[0] == "export":
            words = words[1:]
        for word in words:
            parts = word.partition("=")
            env[parts[0]] = parts[2]
    missing = [k for k in PG_KEYS if not env.get(k)]
    if missing:
        pytest.fail(f"{PG_SCRIPT} env did not give {', '.join(missing)}", pytrace=False)
    return env


def create_test_database(pg: PgServer) -> None:
    """Drop and create the test database laid out exactly like the production seed."""
    db = sql.Identifier(pg.db_name)
    conn = pg.admin_connect()
    with conn.cursor() as cur:
        cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()", (pg.db_name,))
        cur.execute(sql.SQL("drop database if exists {}").format(db))
        cur.execute("select 1 from pg_roles where rolname = 'hello'")
        cur.execute("create role hello nologin" if cur.fetchone() is None else "alter role hello nologin")
        # The server logs every statement (log_statement=all): keep the password out of its log.
        cur.execute("set log_statement = 'none'")
        cur.execute("select 1 from pg_roles where rolname = %s", (pg.app_user,))
        verb = "create" if cur.fetchone() is None else "alter"
        cur.execute(sql.SQL(verb + " role {} login password {}").format(sql.Identifier(pg.app_user), sql.Literal(pg.app_password)))
        cur.execute(sql.SQL("alter role {} reset all").format(sql.Identifier(pg.app_user)))
        cur.execute("reset log_statement")
        cur.execute(sql.SQL("create database {}").format(db))
        cur.execute(sql.SQL("revoke connect on database {} from public").format(db))
        cur.execute(sql.SQL("grant connect on database {} to {}").format(db, sql.Identifier(pg.app_user)))
    conn.close()
    conn = pg.admin_connect(pg.db_name)
    with conn.cursor() as cur:
        cur.execute("revoke usage on schema public from public")
        cur.execute("create schema hello authorization hello")
        cur.execute("create table hello.birthdays (username varchar(30), birthday date, "
                    "constraint pk_birthdays primary key (username) include (birthday))")
        cur.execute("alter table hello.birthdays owner to hello")
        cur.execute(sql.SQL("grant usage on schema hello to {}").format(sql.Identifier(pg.app_user)))
        cur.execute(sql.SQL("grant select, insert, update on hello.birthdays to {}").format(sql.Identifier(pg.app_user)))
    conn.close()


def drop_test_database(pg: PgServer) -> None:
    conn = pg.admin_connect()
    with conn.cursor() as cur:
        cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()", (pg.db_name,))
        cur.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(pg.db_name)))
    conn.close()


@pytest.fixture(scope="session")
def pg():
    """The PostgreSQL server with the test database (dropped again at the end of the session, so that
    nothing in it keeps the shared roles hello/app_user from being dropped by other test suites)."""
    server = PgServer(_pg_environment())
    try:
        create_test_database(server)
    except psycopg2.Error as exc:
        pytest.fail(f"could not create the test database {TEST_DB} on {server.host}:{server.port}: {exc}", pytrace=False)
    yield server
    drop_test_database(server)


@pytest.fixture(scope="session")
def admin_db(pg):
    """A superuser connection to the test database, for setting up and checking rows."""
    conn = pg.admin_connect(pg.db_name)
    yield conn
    conn.close()


class Rows:
    """Helpers on hello.birthdays through the superuser connection."""

    def __init__(self, conn):
        self.conn = conn

    def clear(self):
        with self.conn.cursor() as cur:
            cur.execute("truncate hello.birthdays")

    def all(self):
        with self.conn.cursor() as cur:
            cur.execute("select username, birthday from hello.birthdays order by username")
            return cur.fetchall()

    def count(self):
        with self.conn.cursor() as cur:
            cur.execute("select count(*) from hello.birthdays")
            return cur.fetchone()[0]

    def get(self, username):
        with self.conn.cursor() as cur:
            cur.execute("select birthday from hello.birthdays where username = %s", (username,))
            row = cur.fetchone()
            return row[0] if row else None


@pytest.fixture
def rows(admin_db):
    helper = Rows(admin_db)
    helper.clear()
    return helper


class Clock:
    """The injectable "today"."""

    def __init__(self, today=DEFAULT_TODAY):
        self.date = today

    def __call__(self):
        return self.date


@pytest.fixture
def clock():
    return Clock()


def make_settings(pg, **overrides):
    values = {
        "db_password": pg.app_password,
        "db_name": pg.db_name,
        "db_user": pg.app_user,
        "db_hosts": ((pg.host, pg.port),),
        "retry_timeout": 3.0,
        "poll_interval": 0.1,
        "patroni_timeout": 0.5,
        "log_level": "DEBUG",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(pg):
    return make_settings(pg)


@pytest.fixture
def app(settings, clock):
    application = create_app(settings, today=clock)
    yield application
    get_service(application).close()


@pytest.fixture
def client(app):
    return app.test_client()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (closed port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakePatroni:
    """A small real HTTP server answering GET /cluster with self.payload (or self.status)."""

    def __init__(self):
        self.payload = {"members": [], "scope": "hello"}
        self.status = 200
        self.requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                fake.requests += 1
                if self.path != "/cluster":
                    body, status = b'{"error": "not found"}', 404
                else:
                    body, status = json.dumps(fake.payload).encode(), fake.status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # pylint: disable=redefined-builtin
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def set_members(self, *members):
        self.payload = {"members": list(members), "scope": "hello"}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def member(name, role, host, port, state=None, lag=None, timeline=2):
    out = {"name": name, "role": role, "state": state if state is not None else ("running" if role in ("leader", "standby_leader") else "streaming"),
           "api_url": f"http://{host}:8008/patroni", "host": host, "port": port, "timeline": timeline}
    if lag is not None:
        out["lag"] = lag
    return out


@pytest.fixture
def patroni():
    fake = FakePatroni()
    yield fake
    fake.close()
