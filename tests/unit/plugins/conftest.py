"""Shared fixtures for the plugin unit tests: render psycopg2.sql statements without a server."""
import socket

import psycopg2  # psycopg2-binary is pinned in requirements.txt
import pytest
from psycopg2 import extensions, sql


@pytest.fixture(scope="session")
def sql_context():
    """A psycopg2 connection object that is never established, for libpq's identifier quoting.

    psycopg2.sql.Identifier is quoted by libpq (PQescapeIdentifier), which needs a connection
    object but not a server: an asynchronous connection to a socket that accepts and never
    answers is enough.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    conn = psycopg2.connect(host="127.0.0.1", port=listener.getsockname()[1], user="unit", dbname="unit", async_=True)
    yield conn
    conn.close()
    listener.close()


@pytest.fixture(scope="session")
def render(sql_context):
    """render(statement) -> the SQL text psycopg2 would send (identifiers quoted by libpq)."""

    def _render(statement):
        if isinstance(statement, sql.Composed):
            return "".join(_render(part) for part in statement.seq)
        if isinstance(statement, sql.SQL):
            return statement.string
        if isinstance(statement, sql.Identifier):
            return statement.as_string(sql_context)
        if isinstance(statement, sql.Literal):
            return extensions.adapt(statement.wrapped).getquoted().decode("utf-8")
        raise TypeError("cannot render %r" % (statement,))

    return _render
