# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SCRAM-SHA-256 password verifiers as PostgreSQL stores them (RFC 5802, RFC 7677, RFC 4013).

PostgreSQL keeps ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` in pg_authid
(base64 fields). This module builds such a verifier from a clear password on the client, so the
clear text is never sent to the server, and checks a clear password against a stored verifier
by recomputing StoredKey and ServerKey with the stored salt and iteration count.

The password is normalised the way PostgreSQL does it (src/common/saslprep.c): a pure-ASCII
password is used as is; otherwise SASLprep is applied, and when SASLprep refuses the password
(prohibited or unassigned characters, bad bidirectional text, nothing left after mapping) the
raw UTF-8 bytes are used instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import stringprep
import unicodedata

PREFIX = "SCRAM-SHA-256$"
DEFAULT_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations in PostgreSQL 16+)
SALT_LENGTH = 16  # bytes, PostgreSQL's SCRAM_DEFAULT_SALT_LEN
MAX_PASSWORD_LENGTH = 1024  # bytes, PostgreSQL refuses longer passwords in SASLprep

_B64 = r"[A-Za-z0-9+/]+={0,2}"
_VERIFIER_RE = re.compile(
    r"^SCRAM-SHA-256\$(?P<iterations>[0-9]{1,10}):(?P<salt>" + _B64 + r")"
    r"\$(?P<stored_key>" + _B64 + r"):(?P<server_key>" + _B64 + r")$"
)

_PROHIBITED_OUTPUT = (
    stringprep.in_table_c12,
    stringprep.in_table_c21,
    stringprep.in_table_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
    stringprep.in_table_a1,  # unassigned code points are refused too, as PostgreSQL does
)


class VerifierError(ValueError):
    """A string that starts like a SCRAM verifier but is not a valid one."""


def looks_like_verifier(value):
    """True when value is meant as a pre-hashed SCRAM-SHA-256 verifier (it has the prefix)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def parse_verifier(value):
    """Split a verifier into (iterations, salt, stored_key, server_key); raise VerifierError."""
    match = _VERIFIER_RE.match(value or "")
    if not match:
        raise VerifierError(
            "not a valid SCRAM-SHA-256 verifier: expected "
            "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>"
        )
    try:
        salt = base64.b64decode(match.group("salt"), validate=True)
        stored_key = base64.b64decode(match.group("stored_key"), validate=True)
        server_key = base64.b64decode(match.group("server_key"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerifierError("not a valid SCRAM-SHA-256 verifier: bad base64 (%s)" % exc) from exc
    iterations = int(match.group("iterations"))
    if iterations < 1:
        raise VerifierError("not a valid SCRAM-SHA-256 verifier: the iteration count must be positive")
    if len(stored_key) != 32 or len(server_key) != 32:
        raise VerifierError("not a valid SCRAM-SHA-256 verifier: StoredKey and ServerKey must be 32 bytes")
    if not salt:
        raise VerifierError("not a valid SCRAM-SHA-256 verifier: the salt is empty")
    return iterations, salt, stored_key, server_key


def _saslprep_or_none(password):
    """RFC 4013 SASLprep as PostgreSQL implements it; None when the password is refused."""
    mapped = []
    for char in password:
        if stringprep.in_table_c12(char):
            mapped.append(" ")  # non-ASCII space characters map to SPACE
        elif stringprep.in_table_b1(char):
            continue  # "commonly mapped to nothing"
        else:
            mapped.append(char)
    if not mapped:
        return None
    normalized = unicodedata.normalize("NFKC", "".join(mapped))
    if not normalized:
        return None
    for char in normalized:
        if any(check(char) for check in _PROHIBITED_OUTPUT):
            return None
    if any(stringprep.in_table_d1(char) for char in normalized):
        if any(stringprep.in_table_d2(char) for char in normalized):
            return None
        if not (stringprep.in_table_d1(normalized[0]) and stringprep.in_table_d1(normalized[-1])):
            return None
    return normalized


def normalize_password(password):
    """Return the bytes PostgreSQL feeds to PBKDF2 for this clear-text password."""
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_LENGTH:
        raise ValueError("the password is %d bytes long; PostgreSQL accepts at most %d" % (len(raw), MAX_PASSWORD_LENGTH))
    if password.isascii():
        return raw
    prepared = _saslprep_or_none(password)
    if prepared is None:
        return raw
    return prepared.encode("utf-8")


def salted_password(password, salt, iterations):
    """SaltedPassword := Hi(Normalize(password), salt, i) (RFC 5802), Hi being PBKDF2-HMAC-SHA-256."""
    return hashlib.pbkdf2_hmac("sha256", normalize_password(password), salt, iterations)


def client_key(salted):
    """ClientKey := HMAC(SaltedPassword, "Client Key")."""
    return hmac.new(salted, b"Client Key", hashlib.sha256).digest()


def stored_key(salted):
    """StoredKey := H(ClientKey)."""
    return hashlib.sha256(client_key(salted)).digest()


def server_key(salted):
    """ServerKey := HMAC(SaltedPassword, "Server Key")."""
    return hmac.new(salted, b"Server Key", hashlib.sha256).digest()


def build_verifier(password, salt=None, iterations=DEFAULT_ITERATIONS):
    """The verifier PostgreSQL would store for this password (random salt unless given)."""
    if salt is None:
        salt = os.urandom(SALT_LENGTH)
    salted = salted_password(password, salt, iterations)
    return "%s%d:%s$%s:%s" % (
        PREFIX,
        iterations,
        base64.b64encode(salt).decode("ascii"),
        base64.b64encode(stored_key(salted)).decode("ascii"),
        base64.b64encode(server_key(salted)).decode("ascii"),
    )


def verify_password(password, verifier):
    """True when the clear-text password matches the stored verifier (constant-time compare)."""
    iterations, salt, expected_stored, expected_server = parse_verifier(verifier)
    salted = salted_password(password, salt, iterations)
    return hmac.compare_digest(stored_key(salted), expected_stored) and hmac.compare_digest(
        server_key(salted), expected_server
    )
