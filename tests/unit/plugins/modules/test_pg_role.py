"""Unit tests for the pg_role module: option validation, password decisions, planning (pure parts)."""
import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hello.platform.plugins.module_utils import scram
from ansible_collections.hello.platform.plugins.module_utils.postgres import PgError
from ansible_collections.hello.platform.plugins.modules import pg_role

VERIFIER = scram.build_verifier("old-password", salt=b"0123456789abcdef")


def params(**overrides):
    """Validated module parameters, as AnsibleModule would pass them."""
    result = ArgumentSpecValidator(pg_role.argument_spec()).validate(dict({"name": "app_user"}, **overrides))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def role(**overrides):
    """A role as read_role() returns it."""
    state = dict(pg_role.NEW_ROLE_DEFAULTS)
    state.update(login=True, password_readable=True, password_verifier=VERIFIER)
    state.update(overrides)
    return state


def rendered(statements, render):
    return [render(shown) for dummy_run, shown in statements]


# ---- argument spec and validation


def test_password_is_no_log_and_update_password_is_not():
    spec = pg_role.argument_spec()
    assert spec["password"]["no_log"] is True
    assert spec["login_password"]["no_log"] is True
    assert spec["update_password"]["no_log"] is False
    result = ArgumentSpecValidator(spec).validate({"name": "r", "password": "s3cret"})
    assert "s3cret" in result._no_log_values


def test_attributes_default_to_unset():
    validated = params()
    for option, dummy_yes, dummy_no, dummy_column in pg_role.ATTRIBUTES:
        assert validated[option] is None
    assert validated["member_of"] is None and validated["membership"] == "add" and validated["state"] == "present"


def test_bad_choice_is_refused():
    result = ArgumentSpecValidator(pg_role.argument_spec()).validate({"name": "r", "membership": "replace"})
    assert any("membership" in message for message in result.error_messages)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"name": "x" * 64}, "would truncate"),
        ({"connection_limit": -2}, "connection_limit must be -1"),
        ({"member_of": ["app_user"]}, "cannot be a member of itself"),
        ({"member_of": ["ok", "bad\x00"]}, "NUL"),
        ({"password": "SCRAM-SHA-256$4096:abc"}, "starts with SCRAM-SHA-256\\$ but is not a valid"),
        ({"password": "x" * 1025}, "at most 1024"),
    ],
)
def test_validate_refuses(overrides, message):
    with pytest.raises(PgError, match=message):
        pg_role.validate(params(**overrides))


def test_validate_accepts_good_input_and_ignores_options_when_absent():
    pg_role.validate(params(password=VERIFIER, member_of=["readers"], connection_limit=-1))
    pg_role.validate(params(state="absent", connection_limit=-5))


# ---- password decisions


@pytest.mark.parametrize(
    "password,update_password,current,expected",
    [
        (None, "always", role(), None),
        ("old-password", "always", role(), None),  # verified against the stored verifier
        ("new-password", "always", role(), "set"),
        ("old-password", "always", None, "set"),  # new role
        ("new-password", "on_create", role(), None),
        ("new-password", "on_create", None, "set"),
        (VERIFIER, "always", role(), None),  # same pre-hashed verifier
        (scram.build_verifier("old-password"), "always", role(), "set"),  # same password, other salt: a different verifier
        ("old-password", "always", role(password_verifier="md5" + "0" * 32), "set"),
        ("old-password", "always", role(password_verifier=None), "set"),
        ("old-password", "always", role(password_readable=False, password_verifier=None), "set"),
        ("", "always", role(), "remove"),
        ("", "always", role(password_verifier=None), None),
        ("", "always", role(password_readable=False, password_verifier=None), "remove"),
    ],
)
def test_password_action(password, update_password, current, expected):
    assert pg_role.password_action(password, update_password, current) == expected


# ---- planning


def test_create_role_masks_the_password(render):
    statements, before, after = pg_role.plan(
        params(login=True, createdb=True, connection_limit=5, member_of=["readers"]), None, "2030-01-01 00:00:00+00", "set", VERIFIER
    )
    assert rendered(statements, render) == [
        "CREATE ROLE \"app_user\" WITH CREATEDB LOGIN CONNECTION LIMIT 5 VALID UNTIL '2030-01-01 00:00:00+00' PASSWORD '********'",
        'GRANT "readers" TO "app_user"',
    ]
    assert render(statements[0][0]).endswith("PASSWORD '%s'" % VERIFIER)  # the verifier is what runs
    assert before == {"name": "app_user", "state": "absent"}
    assert after["password"] == "(changed)" and after["login"] and after["createdb"] and not after["superuser"]
    assert after["member_of"] == ["readers"] and after["connection_limit"] == 5


def test_create_role_without_options(render):
    statements, dummy_before, after = pg_role.plan(params(connection_limit=-1), None, None, None, None)
    assert rendered(statements, render) == ['CREATE ROLE "app_user"']  # -1 is the default: not repeated
    assert after["login"] is False and after["inherit"] is True and after["password"] == "(none)"


def test_unchanged_role_plans_nothing():
    current = role(member_of=["readers"])
    statements, before, after = pg_role.plan(params(login=True, member_of=["readers"], connection_limit=-1), current, None, None, None)
    assert statements == []
    assert before == after
    assert after["password"] == "(set)"


def test_alter_only_what_differs(render):
    current = role(createdb=True, valid_until="2030-01-01 00:00:00+00")
    statements, before, after = pg_role.plan(
        params(login=False, createdb=True, superuser=False, valid_until="2031"), current, "2031-01-01 00:00:00+00", None, None
    )
    assert rendered(statements, render) == ["ALTER ROLE \"app_user\" WITH NOLOGIN VALID UNTIL '2031-01-01 00:00:00+00'"]
    assert before["login"] is True and after["login"] is False
    assert after["valid_until"] == "2031-01-01 00:00:00+00"


def test_password_change_only(render):
    statements, before, after = pg_role.plan(params(password="new"), role(), None, "set", "SCRAM-SHA-256$x")
    assert rendered(statements, render) == ["ALTER ROLE \"app_user\" WITH PASSWORD '********'"]
    assert before["password"] == "(set)" and after["password"] == "(changed)"


def test_password_removal(render):
    statements, dummy_before, after = pg_role.plan(params(password=""), role(), None, "remove", None)
    assert rendered(statements, render) == ['ALTER ROLE "app_user" WITH PASSWORD NULL']
    assert after["password"] == "(none)"


def test_membership_add_keeps_others(render):
    current = role(member_of=["a", "b"])
    statements, dummy_before, after = pg_role.plan(params(member_of=["b", "c", "c"]), current, None, None, None)
    assert rendered(statements, render) == ['GRANT "c" TO "app_user"']
    assert after["member_of"] == ["a", "b", "c"]


def test_membership_exclusive_revokes_others(render):
    current = role(member_of=["a", "b"])
    statements, dummy_before, after = pg_role.plan(params(member_of=["b", "c"], membership="exclusive"), current, None, None, None)
    assert rendered(statements, render) == ['GRANT "c" TO "app_user"', 'REVOKE "a" FROM "app_user"']
    assert after["member_of"] == ["b", "c"]


def test_membership_exclusive_empty_list_revokes_all(render):
    statements, dummy_before, after = pg_role.plan(params(member_of=[], membership="exclusive"), role(member_of=["a"]), None, None, None)
    assert rendered(statements, render) == ['REVOKE "a" FROM "app_user"']
    assert after["member_of"] == []


def test_membership_unset_leaves_memberships_alone():
    statements, dummy_before, after = pg_role.plan(params(membership="exclusive"), role(member_of=["a"]), None, None, None)
    assert statements == [] and after["member_of"] == ["a"]


def test_drop(render):
    statements, before, after = pg_role.plan(params(state="absent"), role(), None, None, None)
    assert rendered(statements, render) == ['DROP ROLE "app_user"']
    assert before["state"] == "present" and after == {"name": "app_user", "state": "absent"}
    statements, before, after = pg_role.plan(params(state="absent"), None, None, None, None)
    assert statements == [] and before == after


def test_hostile_names_are_quoted(render):
    name = 'Robert"); DROP TABLE students; --'
    statements, dummy_before, dummy_after = pg_role.plan(params(name=name, member_of=["Group One"]), None, None, None, None)
    assert rendered(statements, render) == [
        'CREATE ROLE "Robert""); DROP TABLE students; --"',
        'GRANT "Group One" TO "Robert""); DROP TABLE students; --"',
    ]


def test_unreadable_password_is_shown_as_unknown():
    current = role(password_readable=False, password_verifier=None)
    dummy_statements, before, after = pg_role.plan(params(), current, None, None, None)
    assert before["password"] == after["password"] == "(unknown)"
