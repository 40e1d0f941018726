# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment: the connection options of the hello.platform PostgreSQL modules."""

from __future__ import annotations


class ModuleDocFragment:
    """Connection options, shared by every module that uses module_utils/postgres.py."""

    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or address of the PostgreSQL server.
      - A value starting with C(/) is the directory of a Unix socket.
      - When neither this nor O(login_unix_socket) is set, libpq's default (the local Unix socket) is used.
      - Taken from the E(PGHOST) environment variable of the managed node when not set.
    type: str
  login_port:
    description:
      - TCP port of the server (also the number in the Unix socket's file name).
      - Taken from E(PGPORT) when not set.
    type: int
    default: 5432
  login_user:
    description:
      - Role to connect as. It needs the privileges for what the module changes (a superuser, or a
        role with C(CREATEROLE) for roles, the object owner or a superuser for privileges).
      - Taken from E(PGUSER) when not set.
    type: str
    default: postgres
  login_password:
    description:
      - Password of O(login_user). Never logged.
      - Taken from E(PGPASSWORD) when not set; libpq also reads C(~/.pgpass).
    type: str
  login_db:
    description:
      - Database to connect to. Modules with a O(ignore:database) option use that one first.
      - Taken from E(PGDATABASE) when not set; libpq's default is the database named like O(login_user).
    type: str
  login_unix_socket:
    description:
      - Directory of the server's Unix socket, for example V(/var/run/postgresql).
      - Takes precedence over O(login_host).
    type: path
  ssl_mode:
    description:
      - Whether and how to use TLS; see U(https://www.postgresql.org/docs/current/libpq-ssl.html).
      - Use V(verify-full) with O(ca_cert) across a network.
      - Taken from E(PGSSLMODE) when not set.
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - File with the CA certificate(s) that signed the server's certificate (libpq C(sslrootcert)).
      - Taken from E(PGSSLROOTCERT) when not set.
    type: path
  connect_timeout:
    description:
      - Seconds to wait for the connection before failing.
      - Taken from E(PGCONNECT_TIMEOUT) when not set.
    type: int
    default: 10
requirements:
  - psycopg2 >= 2.8 (or psycopg2-binary) on the managed node
notes:
  - Every change a task makes runs in one transaction. When a statement fails, the transaction is
    rolled back and nothing is changed.
  - Errors name what failed (the connection target, the statement as listed in RV(ignore:queries), the
    unknown object or role) and what to check.
"""
