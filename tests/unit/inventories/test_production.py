# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The example production inventory: every host but the jump hosts is reached through its region's
jump host (ProxyJump), the groups match the lab's, and no secret sits in it in clear text."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
INVENTORY = ROOT / "inventories" / "production"
BIN = pathlib.Path(sys.executable).parent


def _ansible(*args: str) -> str:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    result = subprocess.run([str(BIN / "ansible"), "-i", str(INVENTORY), *args], capture_output=True, text=True,
                            env=env, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _groups(inventory: pathlib.Path) -> dict:
    result = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"], capture_output=True,
                            text=True, cwd=ROOT, check=True)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def ssh_args():
    """Each host's SSH arguments as Ansible resolves them (one run for all hosts)."""
    out = _ansible("all", "-m", "ansible.builtin.debug", "-a", "msg=ARGS={{ ansible_ssh_common_args }}")
    return dict(re.findall(r'^(\S+) \| SUCCESS => \{.*?"msg": "ARGS=(.*?)"', out, re.MULTILINE | re.DOTALL))


def test_every_host_is_resolved(ssh_args):
    assert len(ssh_args) == 18, ssh_args


@pytest.mark.parametrize(("host", "jump"), [("a-db-1", "10.10.0.10"), ("a-consul-3", "10.10.0.10"),
                                            ("b-db-1", "10.20.0.10"), ("b-app-1", "10.20.0.10")])
def test_hosts_go_through_their_regions_jump_host(ssh_args, host, jump):
    assert ssh_args[host] == f"-o ProxyJump=ansible@{jump}"


@pytest.mark.parametrize("host", ["a-bastion-1", "b-bastion-1"])
def test_jump_hosts_are_reached_directly(ssh_args, host):
    assert ssh_args[host] == ""


def test_the_controller_account_may_log_in():
    out = _ansible("a-db-1", "-m", "ansible.builtin.debug", "-a", "msg={{ bastion_admin_users | map(attribute='name') }}")
    assert "ansible" in out


def test_same_groups_as_the_lab():
    prod = {g for g in _groups(INVENTORY) if g not in ("_meta", "ungrouped")}
    lab = {g for g in _groups(ROOT / "inventories" / "lab") if g not in ("_meta", "ungrouped")}
    # In AWS the repository's S3 is the service itself: the example has no s3 host.
    assert lab - {"s3"} == prod


def test_no_clear_text_secret_and_only_an_example_vault():
    files = [p for p in INVENTORY.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name in ("vault.yml", "vault.yaml")], "an unencrypted vault file is in the example"
    for path in files:
        text = path.read_text()
        for line in text.splitlines():
            key, value = (line.split(":", 1) + [""])[:2]
            if any(word in key for word in ("password", "token", "secret", "passphrase", "gossip", "cipher_pass")):
                value = value.strip()
                assert value.startswith('"{{ vault_') or value in ('""', "") or path.suffix == ".example", f"{path}: {line}"
