"""Unit tests for the pg_privs module: names, privilege validation, planning and statements (pure parts)."""
import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hello.platform.plugins.module_utils.postgres import PgError, ident, sql
from ansible_collections.hello.platform.plugins.modules import pg_privs

ALL_TABLE = frozenset(pg_privs.PRIVILEGES["table"])


def params(**overrides):
    """Validated module parameters, as AnsibleModule would pass them."""
    result = ArgumentSpecValidator(pg_privs.argument_spec()).validate(overrides)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def request(**overrides):
    return pg_privs.normalize_request(params(**overrides), 150018)


def resolved(obj_type, *name):
    keyword = {"database": "DATABASE", "schema": "SCHEMA", "table": "TABLE", "sequence": "SEQUENCE", "function": "FUNCTION"}[obj_type]
    return pg_privs.Resolved(1, keyword, keyword, ident(*name))


def state(owner="hello", grantee=(), owner_privileges=ALL_TABLE):
    return pg_privs.ObjectState(owner, frozenset(grantee), frozenset(owner_privileges))


# ---- names


@pytest.mark.parametrize(
    "text,parts",
    [
        ("hello.birthdays", ["hello", "birthdays"]),
        ("Hello.Birth Days", ["Hello", "Birth Days"]),  # literal: no case folding
        ('"odd.schema".t', ["odd.schema", "t"]),
        ('"a""b"."""; drop table x; --"', ['a"b', '"; drop table x; --']),
        ("db", ["db"]),
    ],
)
def test_split_qualified(text, parts):
    assert pg_privs.split_qualified(text, "objects[0]") == parts


@pytest.mark.parametrize(
    "text,message",
    [
        ('"unterminated.t', "unterminated double quote"),
        ("a..b", "empty name part"),
        ("a.", "empty name part"),
        ('a"b.c', "unexpected"),
        ('"a"b.c', "unexpected 'b'"),
    ],
)
def test_split_qualified_refuses(text, message):
    with pytest.raises(PgError, match=message):
        pg_privs.split_qualified(text, "objects[0]")


@pytest.mark.parametrize(
    "spec,expected",
    [
        ({"type": "database", "name": "Hello DB"}, ("database", None, "Hello DB", None)),
        ({"type": "schema", "name": "a.b"}, ("schema", None, "a.b", None)),  # no splitting for schemas
        ({"type": "table", "name": "hello.birthdays"}, ("table", "hello", "birthdays", None)),
        ({"type": "table", "name": "x.y", "schema": "S"}, ("table", "S", "x.y", None)),
        ({"type": "sequence", "name": '"s"."q"'}, ("sequence", "s", "q", None)),
        ({"type": "function", "name": "hello.f(integer, text)"}, ("function", "hello", "f", "integer, text")),
        ({"type": "function", "name": "hello.g()"}, ("function", "hello", "g", "")),
        ({"type": "function", "name": '"s(1)"."f(x)"(int)'}, ("function", "s(1)", "f(x)", "int")),
        ({"type": "function", "name": "f(int)", "schema": "hello"}, ("function", "hello", "f", "int")),
    ],
)
def test_parse_object(spec, expected):
    assert tuple(pg_privs.parse_object(spec, "objects[0]")) == expected


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"type": "table", "name": "birthdays"}, "must be schema-qualified"),
        ({"type": "table", "name": "a.b.c"}, "must be schema-qualified"),
        ({"type": "function", "name": "hello.f"}, "needs its argument types"),
        ({"type": "function", "name": "hello.f(int) x"}, "must end with the closing parenthesis"),
        ({"type": "database", "name": "d", "schema": "s"}, "schema is only for"),
        ({"type": "function", "name": "a.f()", "schema": "s"}, "bare function name"),
        ({"type": "table", "name": "s." + "x" * 64}, "would truncate"),
    ],
)
def test_parse_object_refuses(spec, message):
    with pytest.raises(PgError, match=message):
        pg_privs.parse_object(spec, "objects[0]")


def test_labels_quote_only_when_needed():
    assert pg_privs.object_label(pg_privs.ObjectRef("table", "hello", "birthdays", None)) == "table hello.birthdays"
    assert pg_privs.object_label(pg_privs.ObjectRef("table", "Hello", 'a"b', None)) == 'table "Hello"."a""b"'
    assert pg_privs.object_label(pg_privs.ObjectRef("function", "hello", "f", "integer")) == "function hello.f(integer)"
    assert pg_privs.default_label("tables", "hello", None) == "tables created by hello in any schema"


# ---- privileges


def test_privileges_are_case_insensitive_and_all_expands():
    assert pg_privs.normalize_privileges("table", ["select", "Insert", "UPDATE"], "x") == {"SELECT", "INSERT", "UPDATE"}
    assert pg_privs.normalize_privileges("table", ["ALL"], "x", 150018) == ALL_TABLE
    assert pg_privs.normalize_privileges("table", ["all privileges"], "x", 170000) == ALL_TABLE | {"MAINTAIN"}
    assert pg_privs.normalize_privileges("database", ["temp", "connect"], "x") == {"TEMPORARY", "CONNECT"}
    assert pg_privs.normalize_privileges("sequence", ["all"], "x") == {"USAGE", "SELECT", "UPDATE"}
    assert pg_privs.normalize_privileges("function", ["execute"], "x") == {"EXECUTE"}
    assert pg_privs.normalize_privileges("schema", [], "x") == frozenset()


def test_maintain_is_listed_with_its_version_before_the_server_is_known():
    with pytest.raises(PgError, match=r"trigger, maintain \(PostgreSQL 17 and later\) or all"):
        pg_privs.normalize_privileges("table", ["bogus"], "x")
    with pytest.raises(PgError, match=r"references, trigger or all"):
        pg_privs.normalize_privileges("table", ["bogus"], "x", 150018)


@pytest.mark.parametrize(
    "obj_type,privilege,version",
    [
        ("table", "selct", 150018),
        ("table", "usage", 150018),
        ("table", "maintain", 150018),  # PostgreSQL 17 and later only
        ("schema", "select", 150018),
        ("database", "usage", 150018),
        ("function", "select", 150018),
        ("sequence", "insert", 150018),
    ],
)
def test_unknown_privilege_is_named(obj_type, privilege, version):
    with pytest.raises(PgError) as excinfo:
        pg_privs.normalize_privileges(obj_type, [privilege], "objects[3] (x)", version)
    assert "objects[3] (x): unknown privilege %r for a %s" % (privilege, obj_type) in str(excinfo.value)
    assert "valid: " in str(excinfo.value)


# ---- whole-request validation


def test_request_normalizes_public_and_objects():
    req = request(role="public", objects=[{"type": "database", "name": "hello", "privileges": ["connect"]}])
    assert req.role == "PUBLIC"
    assert req.objects[0].privileges == {"CONNECT"} and req.objects[0].label == "database hello"


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"role": "r", "state": "absent", "exclusive": True, "objects": [{"type": "schema", "name": "s", "privileges": []}]}, "exclusive=true only"),
        ({"objects": [{"type": "schema", "name": "s", "privileges": ["usage"]}]}, "need the grantee: set role"),
        ({"default_privileges": [{"type": "tables", "owner": "o", "privileges": []}]}, "need the grantee"),
        ({"role": "r", "objects": [{"type": "schema", "name": "s"}]}, "give privileges, owner or both"),
        ({"role": "r"}, "nothing to manage"),
        ({"role": "r", "objects": [{"type": "table", "name": "s.t", "privileges": ["select"]},
                                   {"type": "table", "name": "t", "schema": "s", "privileges": ["insert"]}]}, "listed twice"),
        ({"role": "r", "default_privileges": [{"type": "schemas", "owner": "o", "schema": "s", "privileges": []}]}, "cannot be limited to a schema"),
        ({"role": "r", "default_privileges": [{"type": "tables", "owner": "o", "privileges": ["select"]},
                                              {"type": "tables", "owner": "o", "privileges": []}]}, "listed twice"),
        ({"role": "r", "default_privileges": [{"type": "functions", "owner": "o", "privileges": ["select"]}]}, "unknown privilege 'select' for a function"),
        ({"role": "r" * 64, "objects": [{"type": "schema", "name": "s", "privileges": []}]}, "role"),
        ({"role": "r", "objects": [{"type": "schema", "name": "s", "owner": ""}]}, "owner must be a non-empty string"),
    ],
)
def test_request_refuses(overrides, message):
    with pytest.raises(PgError, match=message):
        request(**overrides)


def test_argument_spec_refuses_unknown_object_type():
    result = ArgumentSpecValidator(pg_privs.argument_spec()).validate({"objects": [{"type": "view", "name": "s.v"}]})
    assert any("view" in message for message in result.error_messages)


def test_ownership_alone_needs_no_role():
    req = request(objects=[{"type": "table", "name": "hello.birthdays", "owner": "hello"}])
    assert req.role is None and req.objects[0].privileges is None and req.objects[0].owner == "hello"


# ---- planning


@pytest.mark.parametrize(
    "current,declared,state_,exclusive,grant,revoke",
    [
        ({"SELECT"}, {"SELECT", "INSERT"}, "present", False, {"INSERT"}, set()),
        ({"SELECT", "DELETE"}, {"SELECT", "INSERT"}, "present", False, {"INSERT"}, set()),
        ({"SELECT", "DELETE"}, {"SELECT", "INSERT"}, "present", True, {"INSERT"}, {"DELETE"}),
        ({"SELECT", "DELETE"}, set(), "present", True, set(), {"SELECT", "DELETE"}),
        ({"SELECT", "DELETE"}, {"DELETE", "TRUNCATE"}, "absent", False, set(), {"DELETE"}),
        ({"SELECT"}, {"SELECT"}, "present", True, set(), set()),
        ({"SELECT"}, None, "present", True, set(), set()),
    ],
)
def test_diff_privileges(current, declared, state_, exclusive, grant, revoke):
    declared = None if declared is None else frozenset(declared)
    assert pg_privs.diff_privileges(frozenset(current), declared, state_, exclusive) == (frozenset(grant), frozenset(revoke))


def test_owner_change_moves_the_old_owners_privileges():
    change = pg_privs.privileges_after_owner_change
    assert change("new", "old", "new", {"SELECT"}, ALL_TABLE) == ALL_TABLE
    assert change("old", "old", "new", ALL_TABLE, ALL_TABLE) == frozenset()
    assert change("app", "old", "new", {"SELECT"}, ALL_TABLE) == {"SELECT"}
    assert change("PUBLIC", "old", "new", {"SELECT"}, ALL_TABLE) == {"SELECT"}
    assert change("old", "old", None, ALL_TABLE, ALL_TABLE) == ALL_TABLE


def object_plan(overrides, current, obj_type="table", name=("hello", "birthdays")):
    req = request(**overrides)
    plan = pg_privs.plan_object(req.objects[0], current, req.role, req.state, req.exclusive)
    return req, plan, pg_privs.object_statements(plan, resolved(obj_type, *name), req.role)


def test_seed_grants_exactly_and_is_idempotent(render):
    overrides = dict(role="app_user", exclusive=True, objects=[{"type": "table", "name": "hello.birthdays", "privileges": ["select", "insert", "update"]}])
    dummy_req, plan, statements = object_plan(overrides, state())
    assert [render(s) for s in statements] == ['GRANT SELECT, INSERT, UPDATE ON TABLE "hello"."birthdays" TO "app_user"']
    assert plan.before == frozenset() and plan.after == {"SELECT", "INSERT", "UPDATE"}
    dummy_req, plan, statements = object_plan(overrides, state(grantee={"SELECT", "INSERT", "UPDATE"}))
    assert statements == [] and plan.before == plan.after


def test_exclusive_revokes_extras(render):
    overrides = dict(role="app_user", exclusive=True, objects=[{"type": "table", "name": "hello.birthdays", "privileges": ["select"]}])
    dummy_req, plan, statements = object_plan(overrides, state(grantee={"SELECT", "DELETE", "TRUNCATE"}))
    assert [render(s) for s in statements] == ['REVOKE DELETE, TRUNCATE ON TABLE "hello"."birthdays" FROM "app_user"']
    assert plan.after == {"SELECT"}


def test_public_revoke_on_default_acl(render):
    # a NULL datacl reads as acldefault: PUBLIC holds CONNECT and TEMPORARY
    overrides = dict(role="PUBLIC", state="absent", objects=[{"type": "database", "name": "hello", "privileges": ["connect"]}])
    dummy_req, plan, statements = object_plan(overrides, state(grantee={"CONNECT", "TEMPORARY"}), "database", ("hello",))
    assert [render(s) for s in statements] == ['REVOKE CONNECT ON DATABASE "hello" FROM PUBLIC']
    assert plan.after == {"TEMPORARY"}
    dummy_req, plan, statements = object_plan(overrides, state(grantee={"TEMPORARY"}), "database", ("hello",))
    assert statements == []


def test_owner_change_comes_first_and_is_simulated(render):
    overrides = dict(role="hello", exclusive=True, objects=[{"type": "table", "name": "hello.birthdays", "owner": "hello", "privileges": ["select"]}])
    dummy_req, plan, statements = object_plan(overrides, state(owner="postgres", grantee=(), owner_privileges=ALL_TABLE))
    assert [render(s) for s in statements] == [
        'ALTER TABLE "hello"."birthdays" OWNER TO "hello"',
        'REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE "hello"."birthdays" FROM "hello"',
    ]
    assert (plan.before_owner, plan.after_owner) == ("postgres", "hello")


def test_ownership_only(render):
    overrides = dict(objects=[{"type": "schema", "name": "hello", "owner": "hello"}])
    dummy_req, plan, statements = object_plan(overrides, state(owner="postgres"), "schema", ("hello",))
    assert [render(s) for s in statements] == ['ALTER SCHEMA "hello" OWNER TO "hello"']
    dummy_req, plan, statements = object_plan(overrides, state(owner="hello"), "schema", ("hello",))
    assert statements == []


def test_hostile_identifiers_in_statements(render):
    schema, table, grantee = 'Sch "ema', '"; drop table x; --', 'App User"'
    overrides = dict(role=grantee, objects=[{"type": "table", "schema": schema, "name": table, "privileges": ["select"], "owner": "Own er"}])
    req, dummy_plan, statements = object_plan(overrides, state(owner="postgres"), "table", (schema, table))
    assert [render(s) for s in statements] == [
        'ALTER TABLE "Sch ""ema"."""; drop table x; --" OWNER TO "Own er"',
        'GRANT SELECT ON TABLE "Sch ""ema"."""; drop table x; --" TO "App User"""',
    ]
    assert req.objects[0].label == 'table "Sch ""ema"."""; drop table x; --"'


def test_default_privileges_plans(render):
    req = request(
        role="app_user",
        exclusive=True,
        default_privileges=[
            {"type": "tables", "owner": "hello", "schema": "hello", "privileges": ["select"]},
            {"type": "functions", "owner": "hello", "privileges": []},
        ],
    )
    plans = [
        pg_privs.plan_default(req.defaults[0], frozenset({"SELECT", "DELETE"}), req.state, req.exclusive),
        pg_privs.plan_default(req.defaults[1], frozenset({"EXECUTE"}), req.state, req.exclusive),
    ]
    statements = [render(s) for p in plans for s in pg_privs.default_statements(p, req.role)]
    assert statements == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "hello" IN SCHEMA "hello" REVOKE DELETE ON TABLES FROM "app_user"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "hello" REVOKE EXECUTE ON FUNCTIONS FROM "app_user"',
    ]
    again = pg_privs.plan_default(req.defaults[0], plans[0].after, req.state, req.exclusive)
    assert pg_privs.default_statements(again, req.role) == []


def test_default_privileges_grant_to_public(render):
    req = request(role="PUBLIC", default_privileges=[{"type": "sequences", "owner": "hello", "privileges": ["usage"]}])
    plan = pg_privs.plan_default(req.defaults[0], frozenset(), req.state, req.exclusive)
    assert [render(s) for s in pg_privs.default_statements(plan, req.role)] == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "hello" GRANT USAGE ON SEQUENCES TO PUBLIC'
    ]


def test_summary_for_diff():
    req = request(
        role="app_user",
        objects=[
            {"type": "schema", "name": "hello", "privileges": ["usage"], "owner": "hello"},
            {"type": "table", "name": "hello.birthdays", "owner": "hello"},
        ],
        default_privileges=[{"type": "tables", "owner": "hello", "privileges": ["select"]}],
    )
    object_plans = [
        pg_privs.plan_object(req.objects[0], state(owner="postgres", owner_privileges={"USAGE", "CREATE"}), req.role, req.state, req.exclusive),
        pg_privs.plan_object(req.objects[1], state(owner="hello"), req.role, req.state, req.exclusive),
    ]
    default_plans = [pg_privs.plan_default(req.defaults[0], frozenset(), req.state, req.exclusive)]
    before = pg_privs.summarize(req.role, object_plans, default_plans, "before")
    after = pg_privs.summarize(req.role, object_plans, default_plans, "after")
    assert before == {
        "role": "app_user",
        "privileges": {"schema hello": []},
        "owners": {"schema hello": "postgres", "table hello.birthdays": "hello"},
        "default_privileges": {"tables created by hello in any schema": []},
    }
    assert after["privileges"] == {"schema hello": ["USAGE"]}
    assert after["owners"] == {"schema hello": "hello", "table hello.birthdays": "hello"}
    assert after["default_privileges"] == {"tables created by hello in any schema": ["SELECT"]}


def test_privilege_keywords_come_only_from_the_whitelist():
    statement = pg_privs.privileges_sql("table", frozenset({"SELECT", "TRIGGER"}))
    assert isinstance(statement, sql.Composed)
    assert [part.string for part in statement.seq if isinstance(part, sql.SQL)] == ["SELECT", ", ", "TRIGGER"]
