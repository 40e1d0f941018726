# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL connection helper shared by the hello.platform PostgreSQL modules.

- connection_argument_spec(): the login_* options (documented once in doc_fragments/postgres.py);
- connect(): a psycopg2 connection in a transaction (autocommit off), with an error that says
  where it tried to connect and which options to check;
- ident(): identifiers quoted by psycopg2.sql.Identifier, refusing names PostgreSQL would truncate;
- Session: runs read queries, and runs and records (in ``queries``) the statements that change
  something. In check mode the statements are recorded but not run. finish() commits, or rolls
  back in check mode; any failure rolls back, so a batch changes everything or nothing.

psycopg2 is imported lazily: a module that uses this file fails with missing_required_lib()
(from connect() or require_psycopg2()) when psycopg2 is not installed on the managed node.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible.module_utils.common.text.converters import to_text

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()
    psycopg2 = None  # pylint: disable=invalid-name
    sql = None  # pylint: disable=invalid-name
else:
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None

NAMEDATALEN = 64  # PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes
SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
MASK = "********"


class PgError(Exception):
    """An error the module reports as is: the message says what failed and what to do."""


class StatementError(PgError):
    """A statement failed on the server; the message names the statement (as shown in queries)."""

    def __init__(self, statement, error):
        self.statement = statement
        self.error = error
        super().__init__("statement failed: %s: %s" % (statement, server_message(error)))


def server_message(error):
    """One line from a psycopg2 error: the server's message, detail and hint when present."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if not primary:
        return " ".join(to_text(error).split())
    parts = [primary]
    for extra in (getattr(diag, "message_detail", None), getattr(diag, "message_hint", None)):
        if extra:
            parts.append(" ".join(extra.split()))
    return "; ".join(parts)


def connection_argument_spec():
    """The connection options, for AnsibleModule(argument_spec=...)."""
    return dict(
        login_host=dict(type="str", fallback=(env_fallback, ["PGHOST"])),
        login_port=dict(type="int", default=5432, fallback=(env_fallback, ["PGPORT"])),
        login_user=dict(type="str", default="postgres", fallback=(env_fallback, ["PGUSER"])),
        login_password=dict(type="str", no_log=True, fallback=(env_fallback, ["PGPASSWORD"])),
        login_db=dict(type="str", fallback=(env_fallback, ["PGDATABASE"])),
        login_unix_socket=dict(type="path"),
        ssl_mode=dict(type="str", default="prefer", choices=SSL_MODES, fallback=(env_fallback, ["PGSSLMODE"])),
        ca_cert=dict(type="path", fallback=(env_fallback, ["PGSSLROOTCERT"])),
        connect_timeout=dict(type="int", default=10, fallback=(env_fallback, ["PGCONNECT_TIMEOUT"])),
    )


def require_psycopg2(module):
    """Fail the module with the standard message when psycopg2 is missing."""
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2 (or psycopg2-binary)"), exception=PSYCOPG2_IMPORT_ERROR)


def connection_target(params, database=None):
    """(description, libpq keyword arguments) for the connection options; no password in the description."""
    kwargs = {
        "user": params["login_user"],
        "port": params["login_port"],
        "sslmode": params["ssl_mode"],
        "connect_timeout": params["connect_timeout"],
        "application_name": "ansible-hello.platform",
    }
    host = params.get("login_unix_socket") or params.get("login_host")
    if host:
        kwargs["host"] = host
    if params.get("login_password") is not None:
        kwargs["password"] = params["login_password"]
    dbname = database or params.get("login_db")
    if dbname:
        kwargs["dbname"] = dbname
    if params.get("ca_cert"):
        kwargs["sslrootcert"] = params["ca_cert"]
    where = "%s:%s" % (host or "the default Unix socket", params["login_port"])
    description = "%s as %s (database %s)" % (where, params["login_user"], dbname or params["login_user"])
    return description, kwargs


def connect(module, database=None):
    """A psycopg2 connection with autocommit off (every statement runs in one transaction)."""
    require_psycopg2(module)
    description, kwargs = connection_target(module.params, database)
    if kwargs["connect_timeout"] is not None and kwargs["connect_timeout"] < 1:
        module.fail_json(msg="connect_timeout must be at least 1 second, got %s" % kwargs["connect_timeout"])
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.Error as exc:
        module.fail_json(
            msg="could not connect to %s: %s; check login_host/login_port/login_unix_socket (PGHOST/PGPORT), "
            "login_user/login_password (PGUSER/PGPASSWORD), login_db or the module's database option, "
            "ssl_mode/ca_cert, and that pg_hba.conf on the server accepts this client" % (description, server_message(exc))
        )
    conn.autocommit = False
    return conn


def check_identifier(name, what="name"):
    """Return name when PostgreSQL can store it unchanged as an identifier; else raise PgError."""
    if not isinstance(name, str) or name == "":
        raise PgError("%s must be a non-empty string, got %r" % (what, name))
    if "\x00" in name:
        raise PgError("%s %r contains a NUL character, which PostgreSQL does not allow" % (what, name))
    size = len(name.encode("utf-8"))
    if size >= NAMEDATALEN:
        raise PgError(
            "%s %r is %d bytes long: PostgreSQL would truncate it to %d bytes; use a shorter name"
            % (what, name, size, NAMEDATALEN - 1)
        )
    return name


def ident(*parts):
    """A psycopg2.sql.Identifier for a (possibly schema-qualified) name, every part checked."""
    for part in parts:
        check_identifier(part)
    return sql.Identifier(*parts)


class Session:
    """Reads, and records-then-runs changing statements, in one transaction on one connection."""

    def __init__(self, module, conn):
        self.module = module
        self.conn = conn
        self.check_mode = module.check_mode
        self.queries = []
        self.cursor = conn.cursor()

    @property
    def server_version(self):
        """server_version_num, for example 150010."""
        return self.conn.server_version

    def render(self, statement):
        """The text of a statement as the server would receive it."""
        if sql is not None and isinstance(statement, sql.Composable):
            return statement.as_string(self.conn)
        return statement

    def fetchall(self, query, params=None):
        """Rows of a read-only query (not recorded in queries)."""
        try:
            self.cursor.execute(query, params)
            return self.cursor.fetchall()
        except psycopg2.Error as exc:
            raise StatementError(self.render(query), exc) from exc

    def fetchone(self, query, params=None):
        """First row of a read-only query, or None."""
        rows = self.fetchall(query, params)
        return rows[0] if rows else None

    def try_fetchone(self, query, params=None):
        """(row, None) or (None, server message) when the query fails; the transaction stays usable."""
        try:
            self.cursor.execute("SAVEPOINT hello_platform_probe")
        except psycopg2.Error as exc:
            raise StatementError("SAVEPOINT hello_platform_probe", exc) from exc
        try:
            self.cursor.execute(query, params)
            rows = self.cursor.fetchall()
        except psycopg2.Error as exc:
            message = server_message(exc)
            try:
                self.cursor.execute("ROLLBACK TO SAVEPOINT hello_platform_probe")
            except psycopg2.Error as rollback_exc:
                raise StatementError("ROLLBACK TO SAVEPOINT hello_platform_probe", rollback_exc) from rollback_exc
            return None, message
        self.cursor.execute("RELEASE SAVEPOINT hello_platform_probe")
        return (rows[0] if rows else None), None

    def execute(self, statement, shown=None):
        """Record the statement (shown instead when given: secrets masked) and run it unless in check mode."""
        text = self.render(shown if shown is not None else statement)
        self.queries.append(text)
        if self.check_mode:
            return
        try:
            self.cursor.execute(statement)
        except psycopg2.Error as exc:
            raise StatementError(text, exc) from exc

    def finish(self):
        """Commit (roll back in check mode) and close."""
        try:
            if self.check_mode:
                self.conn.rollback()
            else:
                self.conn.commit()
        except psycopg2.Error as exc:
            raise PgError("COMMIT failed, nothing was changed: %s" % server_message(exc)) from exc
        finally:
            self.close()

    def rollback(self):
        """Roll back whatever ran, ignoring a connection that is already gone."""
        try:
            self.conn.rollback()
        except psycopg2.Error:
            pass

    def close(self):
        """Close the connection, ignoring errors."""
        try:
            self.conn.close()
        except psycopg2.Error:
            pass

    def fail(self, error, **result):
        """Roll back and fail the module; the message says nothing was changed."""
        self.rollback()
        self.close()
        msg = to_text(error)
        if self.queries and not self.check_mode:
            msg += "; the transaction was rolled back, nothing was changed"
        self.module.fail_json(msg=msg, queries=self.queries, **result)
