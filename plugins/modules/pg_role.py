# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: PostgreSQL roles, declaratively (attributes, SCRAM password, memberships)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_role
short_description: Create, change and drop PostgreSQL roles declaratively
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - Makes a PostgreSQL role exist (or not) with the given attributes, password, connection limit,
    expiry and role memberships. Only what you set is managed; an option left unset keeps the
    role's current value.
  - Compares first, then acts. The current state is read from C(pg_roles), C(pg_authid) and
    C(pg_auth_members); only the differences are sent, all in one transaction. When any statement
    fails the transaction is rolled back and nothing is changed.
  - 'Passwords: a clear-text password is turned into a SCRAM-SHA-256 verifier on the managed node
    (random salt, 4096 iterations, the same computation PostgreSQL does) and only the verifier is
    sent, so the clear text never reaches the server, its statement log or RV(queries). Whether the
    password changed is decided by checking the clear password against the stored verifier
    (same salt and iteration count), so an unchanged password reports no change.'
  - A password given as a SCRAM-SHA-256 verifier (C(SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>))
    is stored as is, and compared with the stored verifier as a string.
  - Reading the stored verifier needs a superuser O(login_user) (C(pg_authid) is readable by superusers only).
    Otherwise the password cannot be compared; see O(update_password).
options:
  name:
    description:
      - Name of the role, exactly as stored (no case folding, no quoting needed).
    type: str
    required: true
  state:
    description:
      - V(present) creates the role when missing and changes what differs.
      - V(absent) drops the role when it exists. Dropping fails (and nothing changes) while the role
        owns objects or holds privileges; reassign or drop them first (C(REASSIGN OWNED), C(DROP OWNED)).
        The other role options are ignored.
    type: str
    choices: [present, absent]
    default: present
  login:
    description: C(LOGIN) (V(true)) or C(NOLOGIN) (V(false)). Unset keeps the current value (V(false) for a new role).
    type: bool
  superuser:
    description: C(SUPERUSER) or C(NOSUPERUSER). Unset keeps the current value (V(false) for a new role).
    type: bool
  createdb:
    description: C(CREATEDB) or C(NOCREATEDB). Unset keeps the current value (V(false) for a new role).
    type: bool
  createrole:
    description: C(CREATEROLE) or C(NOCREATEROLE). Unset keeps the current value (V(false) for a new role).
    type: bool
  inherit:
    description: C(INHERIT) or C(NOINHERIT). Unset keeps the current value (V(true) for a new role).
    type: bool
  replication:
    description: C(REPLICATION) or C(NOREPLICATION). Unset keeps the current value (V(false) for a new role).
    type: bool
  bypassrls:
    description: C(BYPASSRLS) or C(NOBYPASSRLS). Unset keeps the current value (V(false) for a new role).
    type: bool
  password:
    description:
      - The role's password, in clear text or as a SCRAM-SHA-256 verifier (see the description).
      - An empty string removes the password (C(PASSWORD NULL)).
      - Unset leaves the password alone. Never logged, never shown in RV(queries) or the diff.
      - Clear-text passwords longer than 1024 bytes are refused (PostgreSQL cannot use them to log in).
    type: str
  update_password:
    description:
      - V(always) sets O(password) whenever it differs from the stored one.
      - V(on_create) sets it only when the role is created.
      - When the stored verifier cannot be read (O(login_user) is not a superuser), V(always) sets
        the password on every run and reports a change, with a warning.
    type: str
    choices: [always, on_create]
    default: always
  connection_limit:
    description: Maximum concurrent connections of the role; V(-1) means no limit. Unset keeps the current value.
    type: int
  valid_until:
    description:
      - Date and time after which the password is no longer valid, in any form PostgreSQL accepts
        for C(timestamptz) (for example V(2030-01-01 00:00:00+00)); V(infinity) means never.
      - Unset keeps the current value.
    type: str
  member_of:
    description:
      - Roles this role is a member of (C(GRANT group TO role)). Every role listed must exist.
      - Unset leaves memberships alone. See O(membership).
    type: list
    elements: str
  membership:
    description:
      - V(add) grants the memberships in O(member_of) that are missing and keeps any others.
      - V(exclusive) also revokes memberships in roles not listed; O(member_of=[]) then removes all.
    type: str
    choices: [add, exclusive]
    default: add
extends_documentation_fragment:
  - hello.platform.postgres
  - hello.platform.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the current state and returns the exact statements it would run in RV(queries); runs none of them.
  diff_mode:
    support: full
    details:
      - The password is shown as V((changed)) or V((set)), never its value or verifier.
  idempotent:
    support: full
    details:
      - Except when the stored password cannot be read and O(update_password=always) (see there).
seealso:
  - module: hello.platform.pg_privs
  - name: CREATE ROLE
    description: The role attributes.
    link: https://www.postgresql.org/docs/current/sql-createrole.html
"""

EXAMPLES = r"""
- name: Create the NOLOGIN role that owns the hello schema
  hello.platform.pg_role:
    name: hello
    login: false

- name: Create the application's login role with a password from Ansible Vault
  hello.platform.pg_role:
    name: app_user
    login: true
    password: "{{ vault_app_user_password }}"
    connection_limit: 50
    login_host: db1.example.org
    login_user: postgres
    login_password: "{{ vault_postgres_password }}"
    ssl_mode: verify-full
    ca_cert: /etc/ssl/certs/hello-ca.pem

- name: Set a pre-hashed password (SCRAM-SHA-256 verifier) and exactly these memberships
  hello.platform.pg_role:
    name: reporting
    login: true
    password: "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$x5Aeuz6b1Ta1lsbT0vKeUZT+UZIUkiE3oKxzUYxqGiI=:cEi4vUXrxzTs1e1a3QHt7mKd4pDrWJBJHXcI7Aq8Q1Q="
    valid_until: "2030-01-01 00:00:00+00"
    member_of: [readers]
    membership: exclusive

- name: Drop a role
  hello.platform.pg_role:
    name: old_app
    state: absent
"""

RETURN = r"""
queries:
  description:
    - The statements run, in order (in check mode, those that would run). Passwords appear as C('********').
  returned: always
  type: list
  elements: str
  sample:
    - CREATE ROLE "app_user" WITH LOGIN PASSWORD '********'
    - GRANT "readers" TO "app_user"
role:
  description: The role after the task (in check mode, as it would be); only C(name) and C(state) when it does not exist.
  returned: always
  type: dict
  contains:
    name:
      description: Role name.
      type: str
    state:
      description: V(present) or V(absent).
      type: str
    login:
      description: Whether the role can log in.
      type: bool
    superuser:
      description: Whether the role is a superuser.
      type: bool
    createdb:
      description: Whether the role can create databases.
      type: bool
    createrole:
      description: Whether the role can create roles.
      type: bool
    inherit:
      description: Whether the role inherits the privileges of its groups.
      type: bool
    replication:
      description: Whether the role can start streaming replication.
      type: bool
    bypassrls:
      description: Whether the role bypasses row-level security.
      type: bool
    connection_limit:
      description: Connection limit, -1 for none.
      type: int
    valid_until:
      description: Password expiry as PostgreSQL prints it, or null.
      type: str
    member_of:
      description: Roles this role is a member of, sorted.
      type: list
      elements: str
    password:
      description: V((set)), V((none)), V((changed)) or V((unknown)) when the stored password cannot be read.
      type: str
  sample:
    name: app_user
    state: present
    login: true
    superuser: false
    createdb: false
    createrole: false
    inherit: true
    replication: false
    bypassrls: false
    connection_limit: -1
    valid_until: null
    member_of: []
    password: (changed)
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hello.platform.plugins.module_utils import scram
from ansible_collections.hello.platform.plugins.module_utils.postgres import (
    MASK,
    PgError,
    Session,
    StatementError,
    check_identifier,
    connect,
    connection_argument_spec,
    ident,
    sql,
)

# option, keyword when true, keyword when false, pg_roles column (in the order CREATE ROLE documents them)
ATTRIBUTES = (
    ("superuser", "SUPERUSER", "NOSUPERUSER", "rolsuper"),
    ("createdb", "CREATEDB", "NOCREATEDB", "rolcreatedb"),
    ("createrole", "CREATEROLE", "NOCREATEROLE", "rolcreaterole"),
    ("inherit", "INHERIT", "NOINHERIT", "rolinherit"),
    ("login", "LOGIN", "NOLOGIN", "rolcanlogin"),
    ("replication", "REPLICATION", "NOREPLICATION", "rolreplication"),
    ("bypassrls", "BYPASSRLS", "NOBYPASSRLS", "rolbypassrls"),
)
# what CREATE ROLE gives when an attribute is not mentioned
NEW_ROLE_DEFAULTS = {
    "superuser": False,
    "createdb": False,
    "createrole": False,
    "inherit": True,
    "login": False,
    "replication": False,
    "bypassrls": False,
    "connection_limit": -1,
    "valid_until": None,
    "member_of": [],
}

ROLE_QUERY = (
    "SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolinherit, r.rolcanlogin, r.rolreplication, "
    "r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil::text, "
    "ARRAY(SELECT g.rolname::text FROM pg_catalog.pg_auth_members m "
    "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) "
    "FROM pg_catalog.pg_roles r WHERE r.rolname = %s"
)

DEPENDENT_OBJECTS_STILL_EXIST = "2BP01"  # SQLSTATE of DROP ROLE when the role owns objects or holds privileges

# password states as shown in diffs and in the returned role
PW_SET = "(set)"
PW_NONE = "(none)"
PW_UNKNOWN = "(unknown)"
PW_CHANGED = "(changed)"


def argument_spec():
    """The module's options, connection options included."""
    spec = connection_argument_spec()
    spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        password=dict(type="str", no_log=True),
        update_password=dict(type="str", default="always", choices=["always", "on_create"], no_log=False),
        connection_limit=dict(type="int"),
        valid_until=dict(type="str"),
        member_of=dict(type="list", elements="str"),
        membership=dict(type="str", default="add", choices=["add", "exclusive"]),
    )
    for option, dummy_yes, dummy_no, dummy_column in ATTRIBUTES:
        spec[option] = dict(type="bool")
    return spec


def validate(params):
    """Check the options that need no server; raise PgError naming the option."""
    check_identifier(params["name"], "name")
    if params["state"] == "absent":
        return
    if params["connection_limit"] is not None and params["connection_limit"] < -1:
        raise PgError("connection_limit must be -1 (no limit) or more, got %d" % params["connection_limit"])
    for group in params["member_of"] or []:
        check_identifier(group, "member_of entry")
        if group == params["name"]:
            raise PgError("member_of: role %s cannot be a member of itself" % group)
    password = params["password"]
    if password:
        if scram.looks_like_verifier(password):
            try:
                scram.parse_verifier(password)
            except scram.VerifierError as exc:
                raise PgError("password starts with SCRAM-SHA-256$ but is %s" % exc) from exc
        else:
            try:
                scram.normalize_password(password)
            except ValueError as exc:
                raise PgError("password refused: %s" % exc) from exc


def password_status(current):
    """How the current password is shown: (set), (none) or (unknown)."""
    if current is None:
        return PW_NONE
    if not current["password_readable"]:
        return PW_UNKNOWN
    return PW_SET if current["password_verifier"] else PW_NONE


def password_action(password, update_password, current):
    """What to do with the password: None (leave it), 'set' or 'remove'. Pure; no hashing."""
    if password is None:
        return None
    if current is not None and update_password == "on_create":
        return None
    if password == "":
        if current is not None and current["password_readable"] and current["password_verifier"] is None:
            return None
        return "remove"
    if current is None or not current["password_readable"]:
        return "set"
    stored = current["password_verifier"]
    if scram.looks_like_verifier(password):
        return None if stored == password else "set"
    if stored and scram.looks_like_verifier(stored):
        try:
            if scram.verify_password(password, stored):
                return None
        except scram.VerifierError:
            return "set"
    return "set"


def describe(name, state, password):
    """The role as returned and diffed: name, state, attributes, limit, expiry, groups, password status."""
    if state is None:
        return {"name": name, "state": "absent"}
    described = {"name": name, "state": "present"}
    for option, dummy_yes, dummy_no, dummy_column in ATTRIBUTES:
        described[option] = state[option]
    described["connection_limit"] = state["connection_limit"]
    described["valid_until"] = state["valid_until"]
    described["member_of"] = sorted(state["member_of"])
    described["password"] = password
    return described


def _options_sql(changes, verifier, action):
    """(options to run, options to show) for CREATE/ALTER ROLE; the shown ones mask the password."""
    run, shown = [], []
    for option, yes, no, dummy_column in ATTRIBUTES:
        if option in changes:
            keyword = sql.SQL(yes if changes[option] else no)
            run.append(keyword)
            shown.append(keyword)
    if "connection_limit" in changes:
        # an int, rendered by us: psycopg2 would render a negative Literal with a leading space
        clause = sql.SQL("CONNECTION LIMIT {}").format(sql.SQL(str(int(changes["connection_limit"]))))
        run.append(clause)
        shown.append(clause)
    if "valid_until" in changes:
        clause = sql.SQL("VALID UNTIL {}").format(sql.Literal(changes["valid_until"]))
        run.append(clause)
        shown.append(clause)
    if action == "set":
        run.append(sql.SQL("PASSWORD {}").format(sql.Literal(verifier)))
        shown.append(sql.SQL("PASSWORD {}").format(sql.Literal(MASK)))
    elif action == "remove":
        run.append(sql.SQL("PASSWORD NULL"))
        shown.append(sql.SQL("PASSWORD NULL"))
    return run, shown


def plan(params, current, valid_until, action, verifier):
    """Pure planning: (statements, before, after).

    current is the role as read (None when missing), valid_until the server's normalisation of
    O(valid_until), action the result of password_action() and verifier what to send for 'set'.
    statements is a list of (statement to run, statement to show) psycopg2.sql objects.
    """
    name = params["name"]
    role = ident(name)
    before = describe(name, current, password_status(current))
    statements = []

    if params["state"] == "absent":
        if current is not None:
            statements.append(sql.SQL("DROP ROLE {}").format(role))
        after = describe(name, None, None)
        return [(stmt, stmt) for stmt in statements], before, after

    base = dict(NEW_ROLE_DEFAULTS) if current is None else dict(current)
    changes = {}
    for option, dummy_yes, dummy_no, dummy_column in ATTRIBUTES:
        wanted = params[option]
        if wanted is not None and (current is None or wanted != current[option]):
            changes[option] = wanted
    if params["connection_limit"] is not None and (current is None or params["connection_limit"] != current["connection_limit"]):
        if current is not None or params["connection_limit"] != -1:
            changes["connection_limit"] = params["connection_limit"]
    if valid_until is not None and (current is None or valid_until != current["valid_until"]):
        changes["valid_until"] = valid_until

    run, shown = _options_sql(changes, verifier, action)
    if current is None:
        keyword = sql.SQL("CREATE ROLE {}").format(role)
    else:
        keyword = sql.SQL("ALTER ROLE {}").format(role)
    if current is None or run:
        if run:
            statements.append((sql.SQL(" ").join([keyword, sql.SQL("WITH")] + run), sql.SQL(" ").join([keyword, sql.SQL("WITH")] + shown)))
        else:
            statements.append((keyword, keyword))

    groups = list(base["member_of"])
    if params["member_of"] is not None:
        wanted_groups = []
        for group in params["member_of"]:
            if group not in wanted_groups:
                wanted_groups.append(group)
        for group in wanted_groups:
            if group not in groups:
                stmt = sql.SQL("GRANT {} TO {}").format(ident(group), role)
                statements.append((stmt, stmt))
                groups.append(group)
        if params["membership"] == "exclusive":
            for group in sorted(base["member_of"]):
                if group not in wanted_groups:
                    stmt = sql.SQL("REVOKE {} FROM {}").format(ident(group), role)
                    statements.append((stmt, stmt))
                    groups.remove(group)

    state = dict(base)
    state.update(changes)
    state["member_of"] = groups
    if action == "set":
        shown_password = PW_CHANGED
    elif action == "remove":
        shown_password = PW_NONE
    elif current is None:
        shown_password = PW_NONE
    else:
        shown_password = password_status(current)
    after = describe(name, state, shown_password)
    return statements, before, after


def read_role(session, name):
    """The role's current state, or None when it does not exist."""
    row = session.fetchone(ROLE_QUERY, (name,))
    if row is None:
        return None
    state = {}
    for index, (option, dummy_yes, dummy_no, dummy_column) in enumerate(ATTRIBUTES):
        state[option] = row[index]
    state["connection_limit"] = row[7]
    state["valid_until"] = row[8]
    state["member_of"] = list(row[9])
    readable = session.fetchone("SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')")[0]
    state["password_readable"] = bool(readable)
    state["password_verifier"] = None
    if readable:
        state["password_verifier"] = session.fetchone("SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = %s", (name,))[0]
    return state


def normalize_valid_until(session, value):
    """The server's text form of a timestamptz, so it compares with pg_roles.rolvaliduntil::text."""
    if value is None:
        return None
    row, error = session.try_fetchone("SELECT %s::timestamptz::text", (value,))
    if error:
        raise PgError("valid_until %r is not a timestamp PostgreSQL understands: %s" % (value, error))
    return row[0]


def check_groups_exist(session, groups):
    """Fail naming the roles in member_of that do not exist."""
    if not groups:
        return
    rows = session.fetchall("SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)", (list(groups),))
    found = {row[0] for row in rows}
    missing = [group for group in groups if group not in found]
    if missing:
        raise PgError(
            "member_of: role(s) %s do not exist; create them first (hello.platform.pg_role) or remove them from member_of"
            % ", ".join(missing)
        )


def verify(session, params, after, verifier, action):
    """After running the statements: the role must be as planned, else raise (the caller rolls back)."""
    current = read_role(session, params["name"])
    if params["state"] == "absent":
        if current is not None:
            raise PgError("role %s still exists after DROP ROLE" % params["name"])
        return
    actual = describe(params["name"], current, after["password"])
    if actual != after:
        wrong = sorted(key for key in after if actual.get(key) != after.get(key))
        raise PgError(
            "role %s is not as planned after the statements (%s differ: wanted %s, got %s); was it changed concurrently?"
            % (params["name"], ", ".join(wrong), {k: after[k] for k in wrong}, {k: actual[k] for k in wrong})
        )
    if action == "set" and current["password_readable"] and current["password_verifier"] != verifier:
        raise PgError("role %s: the stored password is not the verifier that was sent" % params["name"])


def main():
    """Run the module."""
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        validate(params)
    except PgError as exc:
        module.fail_json(msg=str(exc), queries=[])

    session = Session(module, connect(module))
    try:
        current = read_role(session, params["name"])
        valid_until = None
        action = None
        verifier = None
        if params["state"] == "present":
            check_groups_exist(session, params["member_of"])
            valid_until = normalize_valid_until(session, params["valid_until"])
            action = password_action(params["password"], params["update_password"], current)
            if current is not None and not current["password_readable"] and params["password"] and action == "set":
                module.warn(
                    "login_user %s cannot read pg_authid, so the password of %s cannot be compared: it is set "
                    "on every run (use a superuser login_user, or update_password=on_create)" % (params["login_user"], params["name"])
                )
            if action == "set":
                password = params["password"]
                verifier = password if scram.looks_like_verifier(password) else scram.build_verifier(password)
        statements, before, after = plan(params, current, valid_until, action, verifier)
        for stmt, shown in statements:
            session.execute(stmt, shown)
        if statements and not module.check_mode:
            verify(session, params, after, verifier, action)
        session.finish()
    except StatementError as exc:
        if getattr(exc.error, "pgcode", None) == DEPENDENT_OBJECTS_STILL_EXIST:
            exc = PgError(
                "%s; reassign or drop what the role owns and revoke its privileges first (REASSIGN OWNED BY / "
                "DROP OWNED BY in every database, or hello.platform.pg_privs with owner and state=absent)" % exc
            )
        session.fail(exc)
    except PgError as exc:
        session.fail(exc)

    result = dict(changed=bool(statements), queries=session.queries, role=after)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
