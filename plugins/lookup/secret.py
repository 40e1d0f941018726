# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup plugin: a secret generated once on the controller and kept, vault-encrypted."""

from __future__ import annotations

DOCUMENTATION = r"""
name: secret
author: hello.platform developers (@hello-platform)
short_description: Read a secret kept on the controller, generating and storing it on first use
description:
  - Returns the secret stored in O(directory)/V(term). When the file does not exist yet, a new
    random secret of the requested O(kind) is generated, written there (mode C(0600), parent
    directories C(0700)) and returned; later runs return the same value.
  - By default the file is encrypted with the Ansible Vault secret of the current run
    (C(--vault-password-file), C(ANSIBLE_VAULT_PASSWORD_FILE) or C(--vault-id)), so generated
    secrets never sit on disk in clear text. Existing files are decrypted transparently.
  - Generation is serialised with a lock file, so parallel forks asking for the same secret get
    the same value.
  - The file is written even in check mode. A secret that is generated but not yet used does no harm,
    and check mode then shows the same values a real run will use.
options:
  _terms:
    description:
      - Names of the secrets, relative to O(directory), for example V(consul/gossip_key).
      - Absolute paths and C(..) components are refused.
    required: true
    type: list
    elements: str
  directory:
    description: Directory on the controller that holds the secrets. C(~) is expanded.
    required: true
    type: path
  kind:
    description:
      - V(uuid) is a random UUID (Consul ACL token IDs).
      - V(base64) is O(length) random bytes, base64-encoded (Consul gossip keys need 32).
      - V(password) is O(length) random letters and digits.
    type: str
    default: password
    choices: [uuid, base64, password]
  length:
    description: Number of random bytes (V(base64)) or characters (V(password)).
    type: int
    default: 32
  encrypt:
    description:
      - Store new secrets vault-encrypted. Fails with a clear message when the run has no vault secret.
      - Set to V(false) only for throw-away environments.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Read or create the gossip encryption key
  ansible.builtin.set_fact:
    __consul_gossip_key: "{{ lookup('hello.platform.secret', 'consul/gossip_key', directory=consul_secrets_dir, kind='base64', length=32) }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: The secrets, one per term, without trailing new line.
  type: list
  elements: str
"""

import base64
import fcntl
import os
import secrets
import string
import tempfile
import uuid

from ansible.errors import AnsibleError, AnsibleLookupError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import is_encrypted
from ansible.plugins.lookup import LookupBase

_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def generate(kind, length):
    """Return a new random secret of the given kind."""
    if kind == "uuid":
        return str(uuid.uuid4())
    if length < 16:
        raise AnsibleLookupError("length must be at least 16 for kind %s, got %d" % (kind, length))
    if kind == "base64":
        return to_text(base64.b64encode(secrets.token_bytes(length)))
    if kind == "password":
        return "".join(secrets.choice(_PASSWORD_ALPHABET) for dummy in range(length))
    raise AnsibleLookupError("unknown kind %r: use uuid, base64 or password" % kind)


def secret_path(directory, term):
    """Join directory and term, refusing anything that escapes the directory."""
    if not term or os.path.isabs(term) or ".." in term.split("/"):
        raise AnsibleLookupError(
            "secret name %r must be a relative path inside the secrets directory (no '..', not absolute)" % term
        )
    return os.path.join(directory, term)


def write_private(path, data):
    """Atomically write bytes to path with mode 0600, creating 0700 parents."""
    parent = os.path.dirname(path)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class LookupModule(LookupBase):
    """Read or create controller-side secrets."""

    def _vault(self):
        vault = getattr(self._loader, "_vault", None)
        if vault is None or not vault.secrets:
            raise AnsibleLookupError(
                "hello.platform.secret needs an Ansible Vault secret to encrypt new secrets: run with "
                "--vault-password-file (or set ANSIBLE_VAULT_PASSWORD_FILE), or pass encrypt=false "
                "for a throw-away environment"
            )
        return vault

    def _read(self, path):
        with open(path, "rb") as handle:
            data = handle.read()
        if is_encrypted(data):
            try:
                data = self._vault().decrypt(data)
            except AnsibleError as exc:
                raise AnsibleLookupError("cannot decrypt secret file %s: %s" % (path, exc)) from exc
        value = to_text(data).strip()
        if not value:
            raise AnsibleLookupError("secret file %s is empty: delete it to generate a new secret" % path)
        return value

    def _create(self, path, kind, length, encrypt):
        value = generate(kind, length)
        data = to_bytes(value + "\n")
        if encrypt:
            data = self._vault().encrypt(data)
        write_private(path, data)
        return value

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        directory = os.path.expanduser(self.get_option("directory"))
        kind = self.get_option("kind")
        length = self.get_option("length")
        encrypt = self.get_option("encrypt")

        values = []
        for term in terms:
            path = secret_path(directory, to_text(term))
            if os.path.exists(path):
                values.append(self._read(path))
                continue
            if encrypt:
                self._vault()  # fail before creating anything
            os.makedirs(directory, mode=0o700, exist_ok=True)
            with open(os.path.join(directory, ".lock"), "a") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    if os.path.exists(path):
                        values.append(self._read(path))
                    else:
                        values.append(self._create(path, kind, length, encrypt))
                finally:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return values
