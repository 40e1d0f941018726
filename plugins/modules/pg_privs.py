# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module: PostgreSQL privileges, default privileges and ownership, declaratively."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_privs
short_description: Grant and revoke PostgreSQL privileges, default privileges and ownership declaratively
version_added: 0.1.0
author: hello.platform developers (@hello-platform)
description:
  - Makes one grantee (O(role), which may be C(PUBLIC)) hold the declared privileges on databases,
    schemas, tables, sequences and functions, and the declared default privileges for objects
    other roles create; optionally sets the owner of objects.
  - Compares first, then acts. The current privileges are read from the catalogs with
    C(aclexplode()) (C(datacl), C(nspacl), C(relacl), C(proacl), C(defaclacl)); a NULL ACL is
    read as C(acldefault()), the built-in default (the owner holds everything; C(PUBLIC) holds
    C(CONNECT) and C(TEMPORARY) on databases and C(EXECUTE) on functions). So revoking from
    C(PUBLIC) and default privileges are idempotent like everything else.
  - Everything is validated before anything runs (privilege names, object and role names, objects
    and roles that must exist); then all statements run in one transaction, the privileges are
    read back and compared with the plan, and the transaction is committed. When a statement fails
    or the result differs from the plan, it is rolled back and nothing is changed.
  - Every identifier is quoted with C(psycopg2.sql.Identifier); names are taken literally.
  - Grant options (C(WITH GRANT OPTION)) and column privileges are not managed. Statements run as
    O(login_user); a superuser grants and revokes as the object's owner, so a privilege granted by
    another role (which held it C(WITH GRANT OPTION)) survives a revoke; the read-back then fails
    the task with a message naming the grantor.
options:
  database:
    description:
      - Database to connect to; schemas, tables, sequences and functions are looked up in it.
      - Defaults to O(login_db).
    type: str
  role:
    description:
      - The grantee whose privileges are managed. V(PUBLIC) (any case) means the C(PUBLIC) pseudo-role.
      - Required when an entry of O(objects) has O(objects[].privileges), or O(default_privileges) is set.
    type: str
  state:
    description:
      - V(present) grants the privileges listed (and with O(exclusive=true) revokes any others).
      - V(absent) revokes the privileges listed (V(ALL) revokes every privilege of the type).
      - Ownership (O(objects[].owner)) is set in both cases.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With V(true), O(role) ends up with exactly the listed privileges on each listed object and
        default-privilege entry; others it holds there are revoked. An entry with O(objects[].privileges=[])
        then revokes everything.
      - Only with O(state=present). Objects that are not listed are never touched.
    type: bool
    default: false
  objects:
    description: Objects whose privileges (for O(role)) or owner to manage.
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: Kind of object. V(table) also covers views, materialized views, foreign and partitioned tables.
        type: str
        required: true
        choices: [database, schema, table, sequence, function]
      name:
        description:
          - For V(database) and V(schema), the name as is.
          - For V(table) and V(sequence), the schema-qualified name, for example V(hello.birthdays).
          - For V(function), the schema-qualified name and the argument types, for example
            V(hello.f(integer, text\)) or V(hello.g(\)); procedures and aggregates are functions here.
          - Names are taken literally (no case folding). Double-quote a name part that contains a dot,
            a double quote or a parenthesis, doubling the double quotes inside, as in SQL
            (V("odd.schema".birthdays)). Alternatively give O(objects[].schema) and the bare name.
        type: str
        required: true
      schema:
        description:
          - Schema of a table, sequence or function. Then O(objects[].name) is the bare name taken as is
            (for a function still followed by its argument types in parentheses).
        type: str
      privileges:
        description:
          - Privileges of O(role) on the object (case-insensitive). V(ALL) means every privilege of the type.
          - V(database) - V(connect), V(create), V(temporary) (or V(temp)).
          - V(schema) - V(usage), V(create).
          - V(table) - V(select), V(insert), V(update), V(delete), V(truncate), V(references),
            V(trigger) (and V(maintain) on PostgreSQL 17 and later).
          - V(sequence) - V(usage), V(select), V(update).
          - V(function) - V(execute).
          - Unset means the privileges on this object are not managed (only O(objects[].owner)).
        type: list
        elements: str
      owner:
        description: Role that must own the object (C(ALTER ... OWNER TO)). The role must exist.
        type: str
  default_privileges:
    description:
      - Privileges O(role) gets on objects that O(default_privileges[].owner) creates later
        (C(ALTER DEFAULT PRIVILEGES)), read from C(pg_default_acl).
      - Without O(default_privileges[].schema) the entry is the role's global default, whose absence
        means the built-in default (PUBLIC may execute functions). With a schema, the entry only adds
        privileges for objects created in that schema; revoking there cannot remove what the global
        default grants.
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: Kind of future object.
        type: str
        required: true
        choices: [tables, sequences, functions, schemas]
      owner:
        description: The role whose future objects this is about (C(FOR ROLE)).
        type: str
        required: true
      schema:
        description: Limit the entry to objects created in this schema. Not allowed for V(schemas).
        type: str
      privileges:
        description:
          - Privileges of O(role) on those future objects, as for O(objects[].privileges) of the
            matching type (V(tables) as V(table), and so on).
        type: list
        elements: str
        required: true
extends_documentation_fragment:
  - hello.platform.postgres
  - hello.platform.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the current state and returns in RV(queries) exactly the statements it would run; runs none.
  diff_mode:
    support: full
    details:
      - Before and after are the privilege sets of O(role) per listed object and default entry, and the owners.
  idempotent:
    support: full
seealso:
  - module: hello.platform.pg_role
  - name: Privileges
    description: PostgreSQL's privilege model, ACL abbreviations and built-in defaults.
    link: https://www.postgresql.org/docs/current/ddl-priv.html
"""

EXAMPLES = r"""
- name: The hello database's privileges for the application, exactly
  hello.platform.pg_privs:
    database: hello
    role: app_user
    exclusive: true
    objects:
      - {type: database, name: hello, privileges: [connect]}
      - {type: schema, name: hello, privileges: [usage]}
      - {type: table, name: hello.birthdays, privileges: [select, insert, update]}

- name: Nobody but the listed roles may connect to hello or use schema public
  hello.platform.pg_privs:
    database: hello
    role: PUBLIC
    state: absent
    objects:
      - {type: database, name: hello, privileges: [connect]}
      - {type: schema, name: public, privileges: [usage]}

- name: The hello role owns its schema and table (the table's indexes follow)
  hello.platform.pg_privs:
    database: hello
    objects:
      - {type: schema, name: hello, owner: hello}
      - {type: table, name: hello.birthdays, owner: hello}

- name: Tables hello creates in schema hello are readable by readers; hello's functions are not executable by PUBLIC
  hello.platform.pg_privs:
    database: hello
    role: readers
    default_privileges:
      - {type: tables, owner: hello, schema: hello, privileges: [select]}

- name: Revoke EXECUTE from PUBLIC on functions hello creates, and on one existing function
  hello.platform.pg_privs:
    database: hello
    role: PUBLIC
    exclusive: true
    default_privileges:
      - {type: functions, owner: hello, privileges: []}
    objects:
      - {type: function, name: "hello.age(date)", privileges: []}
"""

RETURN = r"""
queries:
  description: The statements run, in order (in check mode, those that would run).
  returned: always
  type: list
  elements: str
  sample:
    - GRANT SELECT, INSERT, UPDATE ON TABLE "hello"."birthdays" TO "app_user"
    - REVOKE CONNECT ON DATABASE "hello" FROM PUBLIC
privileges:
  description:
    - The state after the task (in check mode, as it would be), as in the diff.
    - C(privileges) maps each listed object (V(<type> <name>)) to the sorted privileges of O(role);
      C(owners) maps objects with O(objects[].owner) to their owner; C(default_privileges) maps each
      default entry to the sorted privileges of O(role).
  returned: always
  type: dict
  sample:
    role: app_user
    privileges:
      database hello: [CONNECT]
      schema hello: [USAGE]
      table hello.birthdays: [INSERT, SELECT, UPDATE]
    owners: {}
    default_privileges: {}
"""

import collections
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hello.platform.plugins.module_utils.postgres import (
    PgError,
    Session,
    check_identifier,
    connect,
    connection_argument_spec,
    ident,
    sql,
)

OBJECT_TYPES = ("database", "schema", "table", "sequence", "function")
PRIVILEGES = {
    "database": ("CONNECT", "CREATE", "TEMPORARY"),
    "schema": ("USAGE", "CREATE"),
    "table": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    "sequence": ("USAGE", "SELECT", "UPDATE"),
    "function": ("EXECUTE",),
}
PRIVILEGE_ALIASES = {"TEMP": "TEMPORARY", "ALL PRIVILEGES": "ALL"}
MAINTAIN_SINCE = 170000  # MAINTAIN on tables exists from PostgreSQL 17
# default_privileges type: pg_default_acl.defaclobjtype, acldefault() code, privilege type, SQL keyword
DEFAULT_TYPES = {
    "tables": ("r", "r", "table", "TABLES"),
    "sequences": ("S", "s", "sequence", "SEQUENCES"),
    "functions": ("f", "f", "function", "FUNCTIONS"),
    "schemas": ("n", "n", "schema", "SCHEMAS"),
}
# per object type: catalog, owner column, ACL column, acldefault() code
CATALOGS = {
    "database": ("pg_database", "datdba", "datacl", "d"),
    "schema": ("pg_namespace", "nspowner", "nspacl", "n"),
    "table": ("pg_class", "relowner", "relacl", "r"),
    "sequence": ("pg_class", "relowner", "relacl", "s"),
    "function": ("pg_proc", "proowner", "proacl", "f"),
}
RELKINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE", "S": "SEQUENCE"}
PROKINDS = {"f": "FUNCTION", "p": "PROCEDURE", "a": "ROUTINE", "w": "ROUTINE"}
PUBLIC = "PUBLIC"
_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_$]*$")

# What the user asked for, validated: one entry of objects / default_privileges.
ObjectRef = collections.namedtuple("ObjectRef", "type schema name args")
ObjectItem = collections.namedtuple("ObjectItem", "index ref label privileges owner")
DefaultItem = collections.namedtuple("DefaultItem", "index type owner schema label privileges")
Request = collections.namedtuple("Request", "role state exclusive objects defaults")
# What is on the server: a resolved object (sql_name is the psycopg2.sql name used in statements).
Resolved = collections.namedtuple("Resolved", "oid grant_keyword owner_keyword sql_name")
# Current state of an object for the grantee: owner, grantee's privileges, owner's privileges.
ObjectState = collections.namedtuple("ObjectState", "owner grantee_privileges owner_privileges")
# The plan for one entry.
ObjectPlan = collections.namedtuple("ObjectPlan", "item before_owner after_owner before after grant revoke")
DefaultPlan = collections.namedtuple("DefaultPlan", "item before after grant revoke")


def argument_spec():
    """The module's options, connection options included."""
    spec = connection_argument_spec()
    spec.update(
        database=dict(type="str"),
        role=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        exclusive=dict(type="bool", default=False),
        objects=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                type=dict(type="str", required=True, choices=list(OBJECT_TYPES)),
                name=dict(type="str", required=True),
                schema=dict(type="str"),
                privileges=dict(type="list", elements="str"),
                owner=dict(type="str"),
            ),
        ),
        default_privileges=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                type=dict(type="str", required=True, choices=sorted(DEFAULT_TYPES)),
                owner=dict(type="str", required=True),
                schema=dict(type="str"),
                privileges=dict(type="list", elements="str", required=True),
            ),
        ),
    )
    return spec


# ---------------------------------------------------------------- names and privileges (pure)


def display_part(name):
    """A name part as SQL would need it: bare when lower-case plain, else double-quoted."""
    if _PLAIN_NAME.match(name):
        return name
    return '"%s"' % name.replace('"', '""')


def split_qualified(text, where):
    """Split a dotted name into parts; double-quoted parts may contain dots ("" is a quote)."""
    parts = []
    pos = 0
    length = len(text)
    while True:
        if pos < length and text[pos] == '"':
            end = pos + 1
            chars = []
            while True:
                quote = text.find('"', end)
                if quote < 0:
                    raise PgError("%s: unterminated double quote in %r" % (where, text))
                chars.append(text[end:quote])
                if quote + 1 < length and text[quote + 1] == '"':
                    chars.append('"')
                    end = quote + 2
                    continue
                pos = quote + 1
                break
            parts.append("".join(chars))
        else:
            end = pos
            while end < length and text[end] not in '."':
                end += 1
            parts.append(text[pos:end])
            pos = end
        if pos >= length:
            break
        if text[pos] != ".":
            raise PgError("%s: unexpected %r in %r (double-quote name parts that contain quotes)" % (where, text[pos], text))
        pos += 1
        if pos >= length:
            parts.append("")
            break
    for part in parts:
        if part == "":
            raise PgError("%s: empty name part in %r" % (where, text))
    return parts


def split_function(text, where):
    """Split 'name(args)' into (name text, args text); the '(' of a double-quoted part does not count."""
    in_quotes = False
    for pos, char in enumerate(text):
        if char == '"':
            in_quotes = not in_quotes
        elif char == "(" and not in_quotes:
            if not text.endswith(")"):
                raise PgError("%s: %r must end with the closing parenthesis of the argument types" % (where, text))
            return text[:pos], text[pos + 1:-1].strip()
    raise PgError("%s: function %r needs its argument types, for example %s(integer) or %s()" % (where, text, text, text))


def parse_object(spec, where):
    """An ObjectRef from one entry of objects (type, name, schema); raise PgError."""
    obj_type = spec["type"]
    name = spec["name"]
    schema = spec.get("schema")
    if obj_type in ("database", "schema"):
        if schema is not None:
            raise PgError("%s: schema is only for tables, sequences and functions, not for a %s" % (where, obj_type))
        check_identifier(name, "%s: %s name" % (where, obj_type))
        return ObjectRef(obj_type, None, name, None)
    args = None
    if obj_type == "function":
        name, args = split_function(name, where)
    if schema is not None:
        check_identifier(schema, "%s: schema" % where)
        if obj_type == "function":
            parts = split_qualified(name, where)
            if len(parts) != 1:
                raise PgError("%s: with schema given, name must be the bare function name, got %r" % (where, spec["name"]))
            name = parts[0]
        parts = [schema, name]
    else:
        parts = split_qualified(name, where)
        if len(parts) != 2:
            example = "hello.birthdays" if obj_type != "function" else "hello.f(integer)"
            raise PgError(
                "%s: a %s name must be schema-qualified (schema.name, for example %s), got %r"
                % (where, obj_type, example, spec["name"])
            )
    for part in parts:
        check_identifier(part, "%s: name part" % where)
    return ObjectRef(obj_type, parts[0], parts[1], args)


def object_label(ref):
    """How an object appears in the diff and the returned privileges: '<type> <name>'."""
    if ref.schema is None:
        return "%s %s" % (ref.type, display_part(ref.name))
    label = "%s %s.%s" % (ref.type, display_part(ref.schema), display_part(ref.name))
    if ref.args is not None:
        label += "(%s)" % ref.args
    return label


def default_label(obj_type, owner, schema):
    """How a default-privilege entry appears in the diff: '<type> created by <owner> in schema <schema>'."""
    where = "in schema %s" % display_part(schema) if schema is not None else "in any schema"
    return "%s created by %s %s" % (obj_type, display_part(owner), where)


def valid_privileges(obj_type, server_version=None):
    """The privileges a type accepts; server_version None means the newest PostgreSQL."""
    privileges = PRIVILEGES[obj_type]
    if obj_type == "table" and (server_version is None or server_version >= MAINTAIN_SINCE):
        privileges = privileges + ("MAINTAIN",)
    return privileges


def normalize_privileges(obj_type, privileges, where, server_version=None):
    """Upper-case privilege names, ALL expanded; raise PgError naming an unknown one."""
    valid = valid_privileges(obj_type, server_version)
    shown = [p.lower() for p in valid]
    if obj_type == "table" and server_version is None:
        shown[-1] = "maintain (PostgreSQL 17 and later)"
    result = set()
    for privilege in privileges:
        key = " ".join(str(privilege).upper().split())
        key = PRIVILEGE_ALIASES.get(key, key)
        if key == "ALL":
            result.update(valid)
        elif key in valid:
            result.add(key)
        else:
            raise PgError(
                "%s: unknown privilege %r for a %s; valid: %s or all" % (where, privilege, obj_type, ", ".join(shown))
            )
    return frozenset(result)


def ordered(obj_type, privileges):
    """Privileges in the order PostgreSQL documents them (stable statements and output)."""
    order = PRIVILEGES[obj_type] + ("MAINTAIN",)
    return sorted(privileges, key=lambda p: (order.index(p) if p in order else len(order), p))


def normalize_request(params, server_version=None):
    """Validate every option that needs no server; return a Request or raise PgError."""
    role = params["role"]
    state = params["state"]
    exclusive = params["exclusive"]
    if state == "absent" and exclusive:
        raise PgError("exclusive=true only applies to state=present (state=absent revokes what is listed)")
    if role is not None:
        if role.upper() == PUBLIC:
            role = PUBLIC
        else:
            check_identifier(role, "role")

    objects = []
    seen = {}
    for index, spec in enumerate(params["objects"] or []):
        where = "objects[%d]" % index
        ref = parse_object(spec, where)
        label = object_label(ref)
        where = "%s (%s)" % (where, label)
        if spec.get("privileges") is None and spec.get("owner") is None:
            raise PgError("%s: give privileges, owner or both" % where)
        privileges = None
        if spec.get("privileges") is not None:
            if role is None:
                raise PgError("%s: privileges need the grantee: set role" % where)
            privileges = normalize_privileges(ref.type, spec["privileges"], where, server_version)
        owner = spec.get("owner")
        if owner is not None:
            check_identifier(owner, "%s: owner" % where)
        key = (ref.type, ref.schema, ref.name, None if ref.args is None else " ".join(ref.args.split()))
        if key in seen:
            raise PgError("%s: listed twice (also objects[%d])" % (where, seen[key]))
        seen[key] = index
        objects.append(ObjectItem(index, ref, label, privileges, owner))

    defaults = []
    seen = {}
    for index, spec in enumerate(params["default_privileges"] or []):
        where = "default_privileges[%d]" % index
        if role is None:
            raise PgError("%s: default privileges need the grantee: set role" % where)
        obj_type = spec["type"]
        check_identifier(spec["owner"], "%s: owner" % where)
        schema = spec.get("schema")
        if schema is not None:
            if obj_type == "schemas":
                raise PgError("%s: default privileges on schemas cannot be limited to a schema: remove schema" % where)
            check_identifier(schema, "%s: schema" % where)
        label = default_label(obj_type, spec["owner"], schema)
        where = "%s (%s)" % (where, label)
        privileges = normalize_privileges(DEFAULT_TYPES[obj_type][2], spec["privileges"], where, server_version)
        key = (obj_type, spec["owner"], schema)
        if key in seen:
            raise PgError("%s: listed twice (also default_privileges[%d])" % (where, seen[key]))
        seen[key] = index
        defaults.append(DefaultItem(index, obj_type, spec["owner"], schema, label, privileges))

    if not objects and not defaults:
        raise PgError("nothing to manage: give objects, default_privileges or both")
    return Request(role, state, exclusive, objects, defaults)


# ---------------------------------------------------------------- planning (pure)


def privileges_after_owner_change(grantee, old_owner, new_owner, grantee_privileges, owner_privileges):
    """The grantee's privileges once ALTER ... OWNER TO new_owner ran.

    PostgreSQL rewrites the ACL (aclnewowner): entries of the old owner become the new owner's,
    merged with what the new owner already had.
    """
    if new_owner is None or new_owner == old_owner or grantee == PUBLIC:
        return frozenset(grantee_privileges)
    if grantee == new_owner:
        return frozenset(grantee_privileges) | frozenset(owner_privileges)
    if grantee == old_owner:
        return frozenset()
    return frozenset(grantee_privileges)


def diff_privileges(current, declared, state, exclusive):
    """(to grant, to revoke) for one object: declared None means unmanaged."""
    current = frozenset(current)
    if declared is None:
        return frozenset(), frozenset()
    if state == "absent":
        return frozenset(), declared & current
    revoke = current - declared if exclusive else frozenset()
    return declared - current, revoke


def plan_object(item, current, grantee, state, exclusive):
    """The ObjectPlan for one object, from its current ObjectState."""
    new_owner = item.owner if item.owner is not None and item.owner != current.owner else None
    before = frozenset(current.grantee_privileges)
    if item.privileges is None:
        return ObjectPlan(item, current.owner, item.owner or current.owner, before, before, frozenset(), frozenset())
    start = privileges_after_owner_change(grantee, current.owner, new_owner, current.grantee_privileges, current.owner_privileges)
    grant, revoke = diff_privileges(start, item.privileges, state, exclusive)
    after = (start - revoke) | grant
    return ObjectPlan(item, current.owner, item.owner or current.owner, before, after, grant, revoke)


def plan_default(item, current, state, exclusive):
    """The DefaultPlan for one default-privilege entry, from the grantee's current privileges there."""
    grant, revoke = diff_privileges(current, item.privileges, state, exclusive)
    current = frozenset(current)
    return DefaultPlan(item, current, (current - revoke) | grant, grant, revoke)


def grantee_sql(grantee):
    """PUBLIC, or the quoted role."""
    return sql.SQL(PUBLIC) if grantee == PUBLIC else ident(grantee)


def privileges_sql(obj_type, privileges):
    """'SELECT, INSERT' from a validated set (only names from PRIVILEGES reach SQL)."""
    return sql.SQL(", ").join(sql.SQL(p) for p in ordered(obj_type, privileges))


def object_statements(object_plan, resolved, grantee):
    """ALTER ... OWNER TO, REVOKE, GRANT for one object, in that order."""
    statements = []
    item = object_plan.item
    if object_plan.after_owner != object_plan.before_owner:
        statements.append(
            sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(resolved.owner_keyword), resolved.sql_name, ident(object_plan.after_owner))
        )
    if object_plan.revoke:
        statements.append(
            sql.SQL("REVOKE {} ON {} {} FROM {}").format(
                privileges_sql(item.ref.type, object_plan.revoke), sql.SQL(resolved.grant_keyword), resolved.sql_name, grantee_sql(grantee)
            )
        )
    if object_plan.grant:
        statements.append(
            sql.SQL("GRANT {} ON {} {} TO {}").format(
                privileges_sql(item.ref.type, object_plan.grant), sql.SQL(resolved.grant_keyword), resolved.sql_name, grantee_sql(grantee)
            )
        )
    return statements


def default_statements(default_plan, grantee):
    """ALTER DEFAULT PRIVILEGES ... REVOKE / GRANT for one entry."""
    item = default_plan.item
    obj_type, keyword = DEFAULT_TYPES[item.type][2], DEFAULT_TYPES[item.type][3]
    prefix = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}").format(ident(item.owner))
    if item.schema is not None:
        prefix = sql.SQL("{} IN SCHEMA {}").format(prefix, ident(item.schema))
    statements = []
    if default_plan.revoke:
        statements.append(
            sql.SQL("{} REVOKE {} ON {} FROM {}").format(prefix, privileges_sql(obj_type, default_plan.revoke), sql.SQL(keyword), grantee_sql(grantee))
        )
    if default_plan.grant:
        statements.append(
            sql.SQL("{} GRANT {} ON {} TO {}").format(prefix, privileges_sql(obj_type, default_plan.grant), sql.SQL(keyword), grantee_sql(grantee))
        )
    return statements


def summarize(role, object_plans, default_plans, which):
    """The before or after view of the plans, for the diff and the returned privileges."""
    result = {"role": role, "privileges": {}, "owners": {}, "default_privileges": {}}
    for object_plan in object_plans:
        item = object_plan.item
        if item.privileges is not None:
            privileges = object_plan.before if which == "before" else object_plan.after
            result["privileges"][item.label] = sorted(privileges)
        if item.owner is not None:
            result["owners"][item.label] = object_plan.before_owner if which == "before" else object_plan.after_owner
    for default_plan in default_plans:
        privileges = default_plan.before if which == "before" else default_plan.after
        result["default_privileges"][default_plan.item.label] = sorted(privileges)
    return result


# ---------------------------------------------------------------- reading the catalogs


def role_oid(session, name, where):
    """The oid of an existing role (0 for PUBLIC); raise PgError naming it otherwise."""
    if name == PUBLIC:
        return 0
    row = session.fetchone("SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s", (name,))
    if row is None:
        raise PgError("%s: role %s does not exist; create it first (hello.platform.pg_role)" % (where, name))
    return row[0]


def resolve_object(session, item, database):
    """Find the object on the server; raise PgError naming it when it does not exist or is something else."""
    ref = item.ref
    where = "objects[%d]" % item.index
    missing = "%s: %s does not exist in database %s" % (where, item.label, database)
    if ref.type == "database":
        row = session.fetchone("SELECT oid FROM pg_catalog.pg_database WHERE datname = %s", (ref.name,))
        if row is None:
            raise PgError("%s: database %s does not exist" % (where, ref.name))
        return Resolved(row[0], "DATABASE", "DATABASE", ident(ref.name))
    if ref.type == "schema":
        row = session.fetchone("SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %s", (ref.name,))
        if row is None:
            raise PgError(missing)
        return Resolved(row[0], "SCHEMA", "SCHEMA", ident(ref.name))
    if ref.type in ("table", "sequence"):
        row = session.fetchone(
            "SELECT c.oid, c.relkind::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            (ref.schema, ref.name),
        )
        if row is None:
            raise PgError(missing)
        oid, relkind = row
        if ref.type == "sequence" and relkind != "S":
            raise PgError("%s: %s is not a sequence (relkind %s)" % (where, item.label, relkind))
        if ref.type == "table" and relkind not in ("r", "p", "v", "m", "f"):
            hint = "; use type sequence" if relkind == "S" else ""
            raise PgError("%s: %s is not a table, view or foreign table (relkind %s)%s" % (where, item.label, relkind, hint))
        grant_keyword = "SEQUENCE" if relkind == "S" else "TABLE"
        return Resolved(oid, grant_keyword, RELKINDS[relkind], ident(ref.schema, ref.name))
    # function: let the server parse the argument types (to_regprocedure returns NULL when not found)
    row, error = session.try_fetchone(
        "SELECT pg_catalog.to_regprocedure(pg_catalog.quote_ident(%s) || '.' || pg_catalog.quote_ident(%s) || '(' || %s || ')')::oid",
        (ref.schema, ref.name, ref.args),
    )
    if error:
        raise PgError("%s: cannot read the argument types of %s: %s" % (where, item.label, error))
    if row is None or row[0] is None:
        raise PgError(missing + " (check the schema, the name and the argument types)")
    oid = row[0]
    row = session.fetchone(
        "SELECT n.nspname::text, p.proname::text, p.prokind::text, "
        "ARRAY(SELECT ARRAY[tn.nspname::text, t.typname::text] FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(typ, ord) "
        "JOIN pg_catalog.pg_type t ON t.oid = a.typ JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace ORDER BY a.ord) "
        "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = %s",
        (oid,),
    )
    schema, name, prokind, arg_types = row
    keyword = PROKINDS.get(prokind, "ROUTINE")
    signature = sql.SQL("{}({})").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(sql.Identifier(type_schema, type_name) for type_schema, type_name in arg_types)
    )
    return Resolved(oid, keyword, keyword, signature)


def acl_query(obj_type):
    """Owner, the grantee's privileges and the owner's privileges of one object (NULL ACL = acldefault)."""
    catalog, owner, acl, code = CATALOGS[obj_type]
    return sql.SQL(
        "SELECT pg_catalog.pg_get_userbyid(o.{owner})::text, "
        "coalesce(array_agg(a.privilege_type::text) FILTER (WHERE a.grantee = %(grantee)s), '{{}}'), "
        "coalesce(array_agg(a.privilege_type::text) FILTER (WHERE a.grantee = o.{owner}), '{{}}') "
        "FROM pg_catalog.{catalog} o "
        "LEFT JOIN LATERAL pg_catalog.aclexplode(coalesce(o.{acl}, pg_catalog.acldefault({code}, o.{owner}))) a ON true "
        "WHERE o.oid = %(oid)s GROUP BY o.{owner}"
    ).format(owner=sql.Identifier(owner), catalog=sql.Identifier(catalog), acl=sql.Identifier(acl), code=sql.Literal(code))


def read_object(session, obj_type, oid, grantee_oid):
    """The ObjectState of one object."""
    row = session.fetchone(acl_query(obj_type), {"grantee": grantee_oid, "oid": oid})
    return ObjectState(row[0], frozenset(row[1]), frozenset(row[2]))


DEFAULT_ACL_QUERY = (
    "SELECT coalesce(array_agg(a.privilege_type::text) FILTER (WHERE a.grantee = %(grantee)s), '{}') "
    "FROM (SELECT coalesce((SELECT d.defaclacl FROM pg_catalog.pg_default_acl d WHERE d.defaclrole = %(owner)s "
    "AND d.defaclnamespace = %(namespace)s AND d.defaclobjtype = %(objtype)s), "
    "CASE WHEN %(namespace)s = 0 THEN pg_catalog.acldefault(%(code)s, %(owner)s) END) AS acl) s "
    "LEFT JOIN LATERAL pg_catalog.aclexplode(s.acl) a ON true"
)


def read_default(session, item, owner_oid, namespace_oid, grantee_oid):
    """The grantee's privileges in one default-privilege entry (global entries default to acldefault)."""
    objtype, code = DEFAULT_TYPES[item.type][0], DEFAULT_TYPES[item.type][1]
    row = session.fetchone(
        DEFAULT_ACL_QUERY, {"grantee": grantee_oid, "owner": owner_oid, "namespace": namespace_oid, "objtype": objtype, "code": code}
    )
    return frozenset(row[0])


def grantors(session, obj_type, oid, grantee_oid, privileges):
    """Who granted the given privileges to the grantee (to explain a revoke that did not take)."""
    catalog, owner, acl, code = CATALOGS[obj_type]
    query = sql.SQL(
        "SELECT DISTINCT pg_catalog.pg_get_userbyid(a.grantor)::text FROM pg_catalog.{catalog} o, "
        "pg_catalog.aclexplode(coalesce(o.{acl}, pg_catalog.acldefault({code}, o.{owner}))) a "
        "WHERE o.oid = %(oid)s AND a.grantee = %(grantee)s AND a.privilege_type = ANY(%(privileges)s) ORDER BY 1"
    ).format(owner=sql.Identifier(owner), catalog=sql.Identifier(catalog), acl=sql.Identifier(acl), code=sql.Literal(code))
    return [row[0] for row in session.fetchall(query, {"oid": oid, "grantee": grantee_oid, "privileges": sorted(privileges)})]


# ---------------------------------------------------------------- the module


def collect(session, request, database):
    """Resolve every object and role, read the current state: (object entries, default entries).

    Raises PgError before anything is changed when an object or role does not exist.
    """
    grantee_oid = role_oid(session, request.role, "role") if request.role is not None else None
    objects = []
    seen = {}
    for item in request.objects:
        resolved = resolve_object(session, item, database)
        key = (item.ref.type, resolved.oid)
        if key in seen:
            raise PgError("objects[%d] (%s) is the same object as objects[%d]" % (item.index, item.label, seen[key]))
        seen[key] = item.index
        if item.owner is not None:
            role_oid(session, item.owner, "objects[%d] (%s): owner" % (item.index, item.label))
        current = read_object(session, item.ref.type, resolved.oid, grantee_oid if grantee_oid is not None else -1)
        objects.append((item, resolved, current))
    defaults = []
    for item in request.defaults:
        where = "default_privileges[%d] (%s)" % (item.index, item.label)
        owner_oid = role_oid(session, item.owner, where + ": owner")
        namespace_oid = 0
        if item.schema is not None:
            row = session.fetchone("SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %s", (item.schema,))
            if row is None:
                raise PgError("%s: schema %s does not exist in database %s" % (where, item.schema, database))
            namespace_oid = row[0]
        current = read_default(session, item, owner_oid, namespace_oid, grantee_oid)
        defaults.append((item, (owner_oid, namespace_oid), current))
    return grantee_oid, objects, defaults


def check_result(session, request, grantee_oid, objects, object_plans, defaults, default_plans):
    """Read everything back after the statements; raise PgError (the caller rolls back) on a difference."""
    for (item, resolved, dummy_current), object_plan in zip(objects, object_plans):
        state = read_object(session, item.ref.type, resolved.oid, grantee_oid if grantee_oid is not None else -1)
        if state.owner != object_plan.after_owner:
            raise PgError("%s: owner is %s after the statements, not %s" % (item.label, state.owner, object_plan.after_owner))
        if item.privileges is None or state.grantee_privileges == object_plan.after:
            continue
        extra = state.grantee_privileges - object_plan.after
        missing = object_plan.after - state.grantee_privileges
        msg = "%s: after the statements %s holds %s instead of %s" % (
            item.label,
            request.role,
            ", ".join(ordered(item.ref.type, state.grantee_privileges)) or "nothing",
            ", ".join(ordered(item.ref.type, object_plan.after)) or "nothing",
        )
        if extra:
            who = grantors(session, item.ref.type, resolved.oid, grantee_oid, extra)
            msg += (
                "; %s was granted by %s, which a revoke by the owner does not remove: revoke it as that role "
                "(or REVOKE ... GRANTED BY), or revoke that role's grant option with CASCADE" % (", ".join(ordered(item.ref.type, extra)), ", ".join(who))
            )
        if missing:
            msg += "; %s could not be granted" % ", ".join(ordered(item.ref.type, missing))
        raise PgError(msg)
    for (item, (owner_oid, namespace_oid), dummy_current), default_plan in zip(defaults, default_plans):
        state = read_default(session, item, owner_oid, namespace_oid, grantee_oid)
        if state != default_plan.after:
            obj_type = DEFAULT_TYPES[item.type][2]
            raise PgError(
                "%s: after the statements %s holds %s instead of %s"
                % (item.label, request.role, ", ".join(ordered(obj_type, state)) or "nothing", ", ".join(ordered(obj_type, default_plan.after)) or "nothing")
            )


def main():
    """Run the module."""
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        normalize_request(params)
    except PgError as exc:
        module.fail_json(msg=str(exc), queries=[])

    database = params["database"] or params["login_db"]
    session = Session(module, connect(module, database))
    try:
        database = session.fetchone("SELECT current_database()::text")[0]
        request = normalize_request(params, session.server_version)
        grantee_oid, objects, defaults = collect(session, request, database)
        object_plans = [plan_object(item, current, request.role, request.state, request.exclusive) for item, dummy_resolved, current in objects]
        default_plans = [plan_default(item, current, request.state, request.exclusive) for item, dummy_oids, current in defaults]
        statements = []
        for (item, resolved, dummy_current), object_plan in zip(objects, object_plans):
            statements.extend(object_statements(object_plan, resolved, request.role))
        for default_plan in default_plans:
            statements.extend(default_statements(default_plan, request.role))
        for statement in statements:
            session.execute(statement)
        if statements and not module.check_mode:
            check_result(session, request, grantee_oid, objects, object_plans, defaults, default_plans)
        session.finish()
    except PgError as exc:
        session.fail(exc)

    before = summarize(request.role, object_plans, default_plans, "before")
    after = summarize(request.role, object_plans, default_plans, "after")
    result = dict(changed=bool(statements), queries=session.queries, privileges=after)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
