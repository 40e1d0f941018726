"""Unit tests for module_utils/scram.py: SCRAM-SHA-256 verifiers as PostgreSQL computes them."""
import base64
import hashlib
import hmac
import re

import pytest

from ansible_collections.hello.platform.plugins.module_utils import scram

# Verifiers made by a real PostgreSQL 15.18 server (testbed/local-postgres.sh) with
# CREATE ROLE ... PASSWORD '<clear>' and read back from pg_authid.rolpassword.
SERVER_VERIFIERS = [
    # plain ASCII
    (
        "pencil",
        "SCRAM-SHA-256$4096:fFiDobFWgBViY4B79fLohQ==$sfUppzeEXtkxlW4XX7bfpBxQMh0nUeijnhjpnqbhML0="
        ":oz2RjEpQgQmSPI3faeUTxDBOTBBJ3M/sCvfo10R76l4=",
    ),
    # non-ASCII: SASLprep applies NFKC (the "fi" ligature U+FB01 becomes "fi")
    (
        "\u00dcn\u00efc\u00f8d\u00e9 \ufb01 pass",
        "SCRAM-SHA-256$4096:23UkDLElx5fU/Qj7wHD5xA==$K5k5apRq1Upy0gHcBQf9Tti1tJkRY3QDYr+3me+yUeQ="
        ":rBd9gRlmN0BBmFGxkZx0y/NfnqbKsdsq4XlmVysBwJk=",
    ),
    # non-ASCII with a prohibited control character: SASLprep refuses, the raw bytes are hashed
    (
        "bell\x07pass\u00a0x",
        "SCRAM-SHA-256$4096:8zDKkCJ/7L3a8S6aekZodA==$qIB22Pn+VdWarOglIi0uv+t3+bc0ergtMimsYcScs5k="
        ":ghGwEXmkLiljbj+lfiCfEmhpAf4DjqNmJCKuOAm6Au8=",
    ),
    # NO-BREAK SPACE maps to SPACE, SOFT HYPHEN maps to nothing
    (
        "nbsp\u00a0soft\u00adhy",
        "SCRAM-SHA-256$4096:KRixiPMAECYZncwYF1Y6mw==$8zCIKr3Pi+OhhdNYulVWCgHIh3wc9Q7MQckQWU90RGY="
        ":vgWBLmzgXsVi5JRYZ855ovXujhlbeDgujMsdF72Eimo=",
    ),
]


def test_rfc7677_example_exchange():
    """The SCRAM-SHA-256 example of RFC 7677 section 3: client proof and server signature."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    salted = scram.salted_password("pencil", salt, 4096)
    client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    client_final_without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth_message = ",".join([client_first_bare, server_first, client_final_without_proof]).encode()
    client_signature = hmac.new(scram.stored_key(salted), auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(scram.client_key(salted), client_signature))
    assert base64.b64encode(proof).decode() == "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    server_signature = hmac.new(scram.server_key(salted), auth_message, hashlib.sha256).digest()
    assert base64.b64encode(server_signature).decode() == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


@pytest.mark.parametrize("password,verifier", SERVER_VERIFIERS)
def test_verifies_against_real_server_verifiers(password, verifier):
    assert scram.verify_password(password, verifier)
    assert not scram.verify_password(password + "x", verifier)
    assert not scram.verify_password(password.upper(), verifier)


@pytest.mark.parametrize("password,verifier", SERVER_VERIFIERS)
def test_build_with_the_server_salt_gives_the_server_verifier(password, verifier):
    iterations, salt, dummy_stored, dummy_server = scram.parse_verifier(verifier)
    assert scram.build_verifier(password, salt=salt, iterations=iterations) == verifier


def test_build_verifier_format_and_random_salt():
    first = scram.build_verifier("s3cret")
    second = scram.build_verifier("s3cret")
    pattern = r"^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$"
    assert re.match(pattern, first)
    assert first != second  # a new 16-byte salt each time
    assert scram.verify_password("s3cret", first) and scram.verify_password("s3cret", second)
    assert "s3cret" not in first


def test_iteration_count_is_honoured():
    verifier = scram.build_verifier("pw", salt=b"0123456789abcdef", iterations=10000)
    assert verifier.startswith("SCRAM-SHA-256$10000:")
    assert scram.verify_password("pw", verifier)


@pytest.mark.parametrize(
    "password,expected",
    [
        ("pencil", b"pencil"),
        ("ascii\x07control", b"ascii\x07control"),  # pure ASCII is used as is, even control characters
        ("a\u00a0b", b"a b"),  # non-ASCII space maps to SPACE
        ("a\u00adb", b"ab"),  # mapped to nothing
        ("\u2168", b"IX"),  # NFKC: ROMAN NUMERAL NINE
        ("\u00adx\u0007", "\u00adx\u0007".encode()),  # prohibited after mapping: raw bytes
        ("\u00ad", "\u00ad".encode()),  # nothing left after mapping: raw bytes
        ("\u05d0\u05d1", "\u05d0\u05d1".encode()),  # right-to-left only: accepted unchanged
        ("\u05d0a\u05d1", "\u05d0a\u05d1".encode()),  # RandAL mixed with L: refused, raw bytes
        ("\u05d01", "\u05d01".encode()),  # RandAL not last: refused, raw bytes
        ("a\U000e0001", "a\U000e0001".encode()),  # tagging character (prohibited): raw bytes
    ],
)
def test_normalize_password_follows_postgresql_saslprep(password, expected):
    assert scram.normalize_password(password) == expected


def test_too_long_password_is_refused():
    scram.normalize_password("x" * 1024)
    with pytest.raises(ValueError, match="at most 1024"):
        scram.normalize_password("x" * 1025)


@pytest.mark.parametrize(
    "value,message",
    [
        ("SCRAM-SHA-256$4096:salt", "expected SCRAM-SHA-256"),
        ("SCRAM-SHA-256$0:c2FsdA==$" + "A" * 43 + "=:" + "A" * 43 + "=", "iteration count"),
        ("SCRAM-SHA-256$4096:c2FsdA==$QUJD:QUJD", "32 bytes"),
        ("SCRAM-SHA-256$4096:c2FsdA=$" + "A" * 43 + "=:" + "A" * 43 + "=", "bad base64"),
        ("md5" + "0" * 32, "expected SCRAM-SHA-256"),
    ],
)
def test_malformed_verifiers_are_refused(value, message):
    with pytest.raises(scram.VerifierError, match=message):
        scram.parse_verifier(value)


def test_looks_like_verifier():
    assert scram.looks_like_verifier(SERVER_VERIFIERS[0][1])
    assert scram.looks_like_verifier("SCRAM-SHA-256$garbage")
    assert not scram.looks_like_verifier("scram-sha-256$lower")
    assert not scram.looks_like_verifier("pencil")
    assert not scram.looks_like_verifier(None)
