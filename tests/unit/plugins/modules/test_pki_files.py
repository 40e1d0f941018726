# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for pki_files: real files in a temporary directory, real keys (cryptography) and openssl."""

from __future__ import annotations

import datetime
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess

import pytest
from ansible.module_utils.testing import patch_module_args
# ansible-core itself depends on cryptography: no skip, a missing library fails these tests.
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.hello.platform.plugins.modules import pki_files as m

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def make_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert, cert.public_bytes(serialization.Encoding.PEM).decode()


CA = make_ca()
CA_KEY = CA[0]
CA_CERT = CA[1]
CA_PEM = CA[2]


def run(tmp_path, capsys, **args):
    params = dict(path=str(tmp_path / "tls"), name="svc", owner=USER, group=GROUP, ca_content=CA_PEM)
    params.update(args)
    with patch_module_args(params), pytest.raises(SystemExit):
        m.main()
    return json.loads(capsys.readouterr().out)


def sign_for(key_path, cn="host"):
    with open(key_path, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)]))
            .issuer_name(CA_CERT.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).sign(CA_KEY, hashes.SHA256()))
    return cert


def test_first_call_creates_directory_ca_and_key_then_nothing(tmp_path, capsys):
    out = run(tmp_path, capsys)
    assert out["changed"] and out["key_changed"] and out["certificate"] == ""
    assert out["changes"] == ["created the directory", "installed the CA certificate", "created the key"]
    d = tmp_path / "tls"
    assert stat.S_IMODE(d.stat().st_mode) == 0o750
    assert stat.S_IMODE((d / "svc.key").stat().st_mode) == 0o640
    assert stat.S_IMODE((d / "ca.crt").stat().st_mode) == 0o644
    assert (d / "ca.crt").read_text() == CA_PEM
    assert (d / "svc.key").read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert not [p for p in os.listdir(d) if p.startswith(".pki_files.")]
    again = run(tmp_path, capsys)
    assert not again["changed"] and not again["key_changed"] and again["changes"] == []
    assert again["key_fingerprint"] == out["key_fingerprint"]


def test_fingerprint_is_the_one_openssl_gives_for_the_public_key(tmp_path, capsys):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    out = run(tmp_path, capsys)
    der = subprocess.run([openssl, "pkey", "-in", str(tmp_path / "tls" / "svc.key"), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    digest = subprocess.run([openssl, "dgst", "-sha256", "-hex", "-c"], input=der, check=True,
                            capture_output=True).stdout.decode().split("= ")[-1].strip()
    assert out["key_fingerprint"] == digest.lower() and len(digest.split(":")) == 32


def test_installed_certificate_is_returned_with_the_key_unchanged(tmp_path, capsys):
    run(tmp_path, capsys)
    cert = sign_for(tmp_path / "tls" / "svc.key")
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (tmp_path / "tls" / "svc.crt").write_text(pem)
    out = run(tmp_path, capsys)
    assert not out["changed"] and out["certificate"] == pem


def test_regenerate_makes_a_new_key_and_hides_the_old_certificate(tmp_path, capsys):
    first = run(tmp_path, capsys)
    (tmp_path / "tls" / "svc.crt").write_text(sign_for(tmp_path / "tls" / "svc.key").public_bytes(
        serialization.Encoding.PEM).decode())
    out = run(tmp_path, capsys, regenerate=True)
    assert out["changed"] and out["key_changed"] and out["changes"] == ["created a new key"]
    assert out["key_fingerprint"] != first["key_fingerprint"] and out["certificate"] == ""


def test_a_key_of_another_curve_or_type_is_replaced(tmp_path, capsys):
    first = run(tmp_path, capsys)
    out = run(tmp_path, capsys, key_curve="secp384r1")
    assert out["key_changed"] and out["key_fingerprint"] != first["key_fingerprint"]
    rsa = run(tmp_path, capsys, key_type="RSA", key_size=2048)
    assert rsa["key_changed"] and (tmp_path / "tls" / "svc.key").read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert not run(tmp_path, capsys, key_type="RSA", key_size=2048)["changed"]


def test_a_file_that_is_not_a_key_is_replaced(tmp_path, capsys):
    run(tmp_path, capsys)
    (tmp_path / "tls" / "svc.key").write_text("not a key\n")
    out = run(tmp_path, capsys)
    assert out["key_changed"] and out["changes"] == ["created the key"]


def test_check_mode_reports_and_changes_nothing(tmp_path, capsys):
    out = run(tmp_path, capsys, _ansible_check_mode=True, _ansible_diff=True, watch_dir=str(tmp_path / "watched"))
    assert out["changed"] and out["key_changed"] and out["key_fingerprint"] == ""
    assert "linked the certificate for its expiry metrics" in out["changes"]
    assert out["diff"]["before"]["directory"] is False and out["diff"]["after"]["key"] == "(new)"
    assert not (tmp_path / "tls").exists()
    first = run(tmp_path, capsys)
    out = run(tmp_path, capsys, _ansible_check_mode=True, regenerate=True)
    assert out["changed"] and out["key_fingerprint"] == ""
    assert run(tmp_path, capsys)["key_fingerprint"] == first["key_fingerprint"]


def test_changed_ca_and_mode_are_put_right(tmp_path, capsys):
    run(tmp_path, capsys)
    other = make_ca()[2]
    out = run(tmp_path, capsys, ca_content=other)
    assert out["changes"] == ["installed the CA certificate"] and (tmp_path / "tls" / "ca.crt").read_text() == other
    os.chmod(tmp_path / "tls" / "svc.key", 0o644)
    out = run(tmp_path, capsys, ca_content=other)
    assert out["changes"] == ["set the key's owner, group or mode"]
    assert stat.S_IMODE((tmp_path / "tls" / "svc.key").stat().st_mode) == 0o640


def test_watch_link_points_at_the_certificate(tmp_path, capsys):
    watched = tmp_path / "watched"
    watched.mkdir()
    out = run(tmp_path, capsys, watch_dir=str(watched))
    assert "linked the certificate for its expiry metrics" in out["changes"]
    assert os.readlink(watched / "svc.crt") == str(tmp_path / "tls" / "svc.crt")
    assert not run(tmp_path, capsys, watch_dir=str(watched))["changed"]


@pytest.mark.parametrize("args, message", [
    (dict(name="../x"), "must be a plain file name"),
    (dict(key_type="RSA", key_size=1024), "too small"),
    (dict(watch_dir="/nonexistent/watched"), "is not a directory"),
])
def test_bad_input_fails_and_changes_nothing(tmp_path, capsys, args, message):
    out = run(tmp_path, capsys, **args)
    assert out["failed"] and message in out["msg"] and not (tmp_path / "tls").exists()


def test_without_cryptography_check_mode_on_a_fresh_host_still_reports(tmp_path, capsys, monkeypatch):
    # The pki role installs python3-cryptography in its main entry point, which check mode does not run.
    monkeypatch.setattr(m, "HAS_CRYPTOGRAPHY", False)
    out = run(tmp_path, capsys, _ansible_check_mode=True)
    assert out["changed"] and out["key_changed"] and not (tmp_path / "tls").exists()
    out = run(tmp_path, capsys)
    assert out["failed"] and "cryptography" in out["msg"] and not (tmp_path / "tls").exists()
