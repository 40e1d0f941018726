"""Unit tests for module_utils/postgres.py: options, identifier quoting, the recording session."""
import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hello.platform.plugins.module_utils import postgres
from ansible_collections.hello.platform.plugins.module_utils.postgres import PgError, StatementError

HOSTILE = [
    ('x"y', '"x""y"'),
    ("Upper Case", '"Upper Case"'),
    ('"; drop table x; --', '"""; drop table x; --"'),
    ("it's", "\"it's\""),
    ("a.b", '"a.b"'),
]


@pytest.mark.parametrize("name,quoted", HOSTILE)
def test_ident_quotes_hostile_names_with_libpq(name, quoted, render):
    identifier = postgres.ident(name)
    assert identifier.strings == (name,)
    assert render(identifier) == quoted


def test_ident_qualified(render):
    assert render(postgres.ident("hello", "birthdays")) == '"hello"."birthdays"'
    assert render(postgres.ident('My "Schema"', "t; drop")) == '"My ""Schema"""."t; drop"'


@pytest.mark.parametrize(
    "name,message",
    [
        ("", "non-empty"),
        (None, "non-empty"),
        ("a\x00b", "NUL"),
        ("x" * 64, "64 bytes long"),
        ("\u00e9" * 32, "64 bytes long"),  # bytes, not characters, count
    ],
)
def test_check_identifier_refuses(name, message):
    with pytest.raises(PgError, match=message):
        postgres.check_identifier(name, "role")
    with pytest.raises(PgError):
        postgres.ident("ok", name)


def test_check_identifier_accepts_63_bytes_and_anything_printable():
    assert postgres.check_identifier("x" * 63) == "x" * 63
    for name, dummy_quoted in HOSTILE:
        assert postgres.check_identifier(name) == name


def validate(params, env=None, monkeypatch=None):
    for key in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    result = ArgumentSpecValidator(postgres.connection_argument_spec()).validate(params)
    return result


def test_connection_defaults(monkeypatch):
    result = validate({}, monkeypatch=monkeypatch)
    assert not result.error_messages
    params = result.validated_parameters
    assert params["login_port"] == 5432
    assert params["login_user"] == "postgres"
    assert params["ssl_mode"] == "prefer"
    assert params["connect_timeout"] == 10
    assert params["login_host"] is None and params["login_password"] is None


def test_connection_env_fallbacks(monkeypatch):
    env = {"PGHOST": "db.example.org", "PGPORT": "55432", "PGUSER": "admin", "PGPASSWORD": "pw", "PGDATABASE": "hello",
           "PGSSLMODE": "verify-full", "PGCONNECT_TIMEOUT": "3"}
    result = validate({}, env, monkeypatch)
    assert not result.error_messages
    params = result.validated_parameters
    assert (params["login_host"], params["login_port"], params["login_user"]) == ("db.example.org", 55432, "admin")
    assert (params["login_password"], params["login_db"], params["ssl_mode"], params["connect_timeout"]) == ("pw", "hello", "verify-full", 3)
    assert "pw" in result._no_log_values  # the password from the environment is masked too


def test_explicit_options_win_over_environment(monkeypatch):
    result = validate({"login_host": "explicit", "login_port": 1}, {"PGHOST": "env", "PGPORT": "2"}, monkeypatch)
    assert result.validated_parameters["login_host"] == "explicit"
    assert result.validated_parameters["login_port"] == 1


def test_bad_ssl_mode_is_refused(monkeypatch):
    result = validate({"ssl_mode": "sometimes"}, monkeypatch=monkeypatch)
    assert any("ssl_mode" in m for m in result.error_messages)


def test_connection_target_never_shows_the_password(monkeypatch):
    params = validate({"login_host": "db1", "login_password": "s3cret", "login_db": "hello"}, monkeypatch=monkeypatch).validated_parameters
    description, kwargs = postgres.connection_target(params)
    assert description == "db1:5432 as postgres (database hello)"
    assert "s3cret" not in description
    assert kwargs["password"] == "s3cret" and kwargs["dbname"] == "hello" and kwargs["host"] == "db1"


def test_connection_target_socket_wins_and_database_argument_wins(monkeypatch):
    params = validate({"login_host": "db1", "login_unix_socket": "/run/postgresql", "login_db": "a"}, monkeypatch=monkeypatch).validated_parameters
    description, kwargs = postgres.connection_target(params, database="b")
    assert kwargs["host"] == "/run/postgresql" and kwargs["dbname"] == "b"
    assert description.startswith("/run/postgresql:5432")
    params = validate({}, monkeypatch=monkeypatch).validated_parameters
    description, kwargs = postgres.connection_target(params)
    assert "host" not in kwargs and "dbname" not in kwargs and "password" not in kwargs
    assert description == "the default Unix socket:5432 as postgres (database postgres)"


class FakeModule:
    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self.params = {}
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise SystemExit(1)


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn

    def execute(self, query, params=None):
        if "boom" in str(query):
            raise postgres.psycopg2.errors.SyntaxError("syntax error at or near \"boom\"")
        self.conn.executed.append(query)

    def fetchall(self):
        return [(1,)]


class FakeConn:
    server_version = 150018

    def __init__(self):
        self.executed = []
        self.committed = self.rolled_back = self.closed = False

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        self.committed = True

    def rollback(self):
        self.rolled_back = True

    def close(self):
        self.closed = True


def test_session_check_mode_records_and_runs_nothing():
    conn = FakeConn()
    session = postgres.Session(FakeModule(check_mode=True), conn)
    session.execute("GRANT x", shown="GRANT y")
    assert session.queries == ["GRANT y"]
    assert conn.executed == []
    session.finish()
    assert conn.rolled_back and not conn.committed and conn.closed


def test_session_runs_records_and_commits():
    conn = FakeConn()
    session = postgres.Session(FakeModule(), conn)
    assert session.fetchone("SELECT 1") == (1,)
    session.execute("GRANT x")
    assert session.queries == ["GRANT x"]
    assert conn.executed == ["SELECT 1", "GRANT x"]
    session.finish()
    assert conn.committed and not conn.rolled_back


def test_session_failure_names_the_shown_statement_and_rolls_back():
    conn = FakeConn()
    module = FakeModule()
    session = postgres.Session(module, conn)
    session.execute("GRANT ok")
    with pytest.raises(StatementError) as excinfo:
        session.execute("ALTER ROLE r PASSWORD 'verifier' boom", shown="ALTER ROLE r PASSWORD '********' boom")
    assert "'********'" in str(excinfo.value) and "verifier" not in str(excinfo.value)
    with pytest.raises(SystemExit):
        session.fail(excinfo.value)
    assert conn.rolled_back and not conn.committed
    assert "rolled back, nothing was changed" in module.failed["msg"]
    assert module.failed["queries"] == ["GRANT ok", "ALTER ROLE r PASSWORD '********' boom"]


def test_missing_psycopg2_is_reported(monkeypatch):
    monkeypatch.setattr(postgres, "HAS_PSYCOPG2", False)
    monkeypatch.setattr(postgres, "PSYCOPG2_IMPORT_ERROR", "Traceback: ImportError")
    module = FakeModule()
    with pytest.raises(SystemExit):
        postgres.connect(module)
    assert "psycopg2" in module.failed["msg"] and "required" in module.failed["msg"]


def test_server_message_uses_diagnostics():
    class Diag:
        message_primary = "role \"x\" does not exist"
        message_detail = None
        message_hint = "Create it\n first."

    class Error(Exception):
        diag = Diag()

    assert postgres.server_message(Error("ignored")) == 'role "x" does not exist; Create it first.'
    assert postgres.server_message(ValueError("plain\n  text")) == "plain text"
