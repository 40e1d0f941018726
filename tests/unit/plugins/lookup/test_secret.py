"""Unit tests for the hello.platform.secret lookup, with a real Ansible Vault."""
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret, is_encrypted

from ansible.plugins.loader import lookup_loader

from ansible_collections.hello.platform.plugins.lookup import secret as secret_mod

COLLECTIONS_PATH = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".collections"))


def make_lookup(password=b"unit-test-password"):
    loader = DataLoader()
    if password is not None:
        loader.set_vault_secrets([("default", VaultSecret(password))])
    return lookup_loader.get("hello.platform.secret", loader=loader)


def test_generates_once_and_keeps(tmp_path):
    lookup = make_lookup()
    first = lookup.run(["consul/gossip"], directory=str(tmp_path), kind="base64", length=32)[0]
    second = make_lookup().run(["consul/gossip"], directory=str(tmp_path), kind="base64", length=32)[0]
    assert first == second
    assert len(secret_mod.base64.b64decode(first)) == 32


def test_file_is_vault_encrypted_and_private(tmp_path):
    value = make_lookup().run(["t"], directory=str(tmp_path), kind="uuid")[0]
    path = tmp_path / "t"
    data = path.read_bytes()
    assert is_encrypted(data)
    assert value.encode() not in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wrong_vault_password_is_a_clear_error(tmp_path):
    make_lookup().run(["t"], directory=str(tmp_path))
    with pytest.raises(AnsibleLookupError, match="cannot decrypt"):
        make_lookup(b"another-password").run(["t"], directory=str(tmp_path))


def test_no_vault_secret_refuses_and_writes_nothing(tmp_path):
    with pytest.raises(AnsibleLookupError, match="vault-password-file"):
        make_lookup(None).run(["t"], directory=str(tmp_path / "s"))
    assert not (tmp_path / "s").exists()


def test_plain_when_encrypt_false(tmp_path):
    value = make_lookup(None).run(["p"], directory=str(tmp_path), encrypt=False, kind="password", length=20)[0]
    assert (tmp_path / "p").read_text().strip() == value
    assert len(value) == 20 and value.isalnum()


@pytest.mark.parametrize("term", ["../escape", "/etc/passwd", "a/../../b", ""])
def test_refuses_paths_outside_directory(tmp_path, term):
    with pytest.raises(AnsibleLookupError, match="relative path"):
        make_lookup().run([term], directory=str(tmp_path))


def test_short_length_refused(tmp_path):
    with pytest.raises(AnsibleLookupError, match="at least 16"):
        make_lookup().run(["x"], directory=str(tmp_path), kind="password", length=8)


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "e").write_text("\n")
    with pytest.raises(AnsibleLookupError, match="empty"):
        make_lookup().run(["e"], directory=str(tmp_path))


def test_parallel_processes_get_the_same_secret(tmp_path):
    """Forks racing for a new secret must all see one value (the lock file)."""
    script = textwrap.dedent("""
        import sys
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import VaultSecret
        from ansible.plugins.loader import init_plugin_loader, lookup_loader
        init_plugin_loader([sys.argv[2]])
        loader = DataLoader()
        loader.set_vault_secrets([("default", VaultSecret(b"pw"))])
        print(lookup_loader.get("hello.platform.secret", loader=loader).run(["race"], directory=sys.argv[1], kind="uuid")[0])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), COLLECTIONS_PATH], stdout=subprocess.PIPE,
                              env=dict(os.environ)) for dummy in range(8)]
    values = {p.communicate()[0].decode().strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(values) == 1
