# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of roles/pki/files/hello-tls-metrics against real certificates that openssl makes in tmp_path
(`openssl ca` with exact start and end dates, so the expected expiry is known to the second)."""

import calendar
import importlib.machinery
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

REPO = pathlib.Path(__file__).resolve().parents[4]
SCRIPT = REPO / "roles" / "pki" / "files" / "hello-tls-metrics"

_loader = importlib.machinery.SourceFileLoader("hello_tls_metrics", str(SCRIPT))
_spec = importlib.util.spec_from_loader(_loader.name, _loader)
htm = importlib.util.module_from_spec(_spec)
_write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the role's files/
_loader.exec_module(htm)
sys.dont_write_bytecode = _write_bytecode

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")

CA_CONFIG = """\
[ca]
default_ca = test_ca
[test_ca]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/issued
serial = {dir}/serial
certificate = {dir}/ca.crt
private_key = {dir}/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
"""


def openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    """A throw-away CA directory for `openssl ca` (EC keys: fast)."""
    d = tmp_path_factory.mktemp("ca")
    (d / "issued").mkdir()
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "openssl.cnf").write_text(CA_CONFIG.format(dir=d))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(d / "ca.key"),
            "-out", str(d / "ca.crt"), "-subj", "/CN=hello test CA", "-days", "3650")
    return d


@pytest.fixture()
def make_cert(ca, tmp_path):
    """make_cert(name, enddate) -> path of a PEM certificate valid until enddate (YYYYMMDDHHMMSSZ)."""
    def make(name, enddate, startdate="20200101000000Z"):
        key, csr, crt = tmp_path / (name + ".key"), tmp_path / (name + ".csr"), tmp_path / (name + ".crt")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
                "-out", str(csr), "-subj", "/CN=" + name)
        openssl("ca", "-batch", "-config", str(ca / "openssl.cnf"), "-in", str(csr), "-out", str(crt), "-notext",
                "-startdate", startdate, "-enddate", enddate)
        return crt
    return make


def run(output, *certs, env=None):
    return subprocess.run([str(SCRIPT), str(output), *map(str, certs)], capture_output=True, text=True, env=env, check=False)


def families(text):
    """{metric name: {frozenset(labels): value}} through prometheus_client's parser of the text format."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def ts(*fields):
    return calendar.timegm(tuple(fields) + (0, 0, 0))


def test_expiry_of_real_certificates_to_the_second(make_cert, tmp_path):
    soon = make_cert("dc1-db-1", "20310601120000Z")        # printed "Jun  1 ..." (day padded with a space)
    expired = make_cert("old", "20240229235959Z")          # a leap day, in the past
    far = make_cert("far", "20520117093005Z")              # GeneralizedTime (after 2049)
    out = tmp_path / "hello_tls.prom"
    proc = run(out, soon, expired, far)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    m = families(out.read_text())
    assert m["hello_tls_certificate_not_after_timestamp_seconds"] == {
        frozenset({("path", str(soon))}): ts(2031, 6, 1, 12, 0, 0),
        frozenset({("path", str(expired))}): ts(2024, 2, 29, 23, 59, 59),
        frozenset({("path", str(far))}): ts(2052, 1, 17, 9, 30, 5),
    }
    assert m["hello_tls_certificate_read_errors"] == {frozenset(): 0}


def test_unreadable_files_are_counted_not_fatal(make_cert, tmp_path):
    good = make_cert("good", "20300101000000Z")
    der = tmp_path / "good.der"
    openssl("x509", "-in", str(good), "-outform", "DER", "-out", str(der))
    text = tmp_path / "notes.crt"
    text.write_text("not a certificate\n")
    empty = tmp_path / "empty.crt"
    empty.write_text("")
    out = tmp_path / "hello_tls.prom"
    proc = run(out, tmp_path / "missing.crt", der, good, text, empty, tmp_path)
    assert proc.returncode == 0
    m = families(out.read_text())
    assert m["hello_tls_certificate_read_errors"] == {frozenset(): 4}
    # OpenSSL 3 reads a DER certificate as well as a PEM one.
    assert m["hello_tls_certificate_not_after_timestamp_seconds"] == {
        frozenset({("path", str(good))}): ts(2030, 1, 1, 0, 0, 0),
        frozenset({("path", str(der))}): ts(2030, 1, 1, 0, 0, 0),
    }
    for bad in ("missing.crt", "notes.crt", "empty.crt"):
        assert str(tmp_path / bad) in proc.stderr
    assert str(der) not in proc.stderr


def test_first_certificate_of_a_chain_file_and_each_path_once(make_cert, tmp_path, ca):
    leaf = make_cert("leaf", "20290315060000Z")
    chain = tmp_path / "chain.crt"
    chain.write_text(leaf.read_text() + (ca / "ca.crt").read_text())
    out = tmp_path / "hello_tls.prom"
    proc = run(out, chain, chain, leaf)
    assert proc.returncode == 0, proc.stderr
    body = out.read_text()
    assert body.count('path="%s"' % chain) == 1
    m = families(body)
    assert m["hello_tls_certificate_not_after_timestamp_seconds"] == {
        frozenset({("path", str(chain))}): ts(2029, 3, 15, 6, 0, 0),
        frozenset({("path", str(leaf))}): ts(2029, 3, 15, 6, 0, 0),
    }


def test_label_values_are_escaped(make_cert, tmp_path):
    cert = make_cert("odd", "20300101000000Z")
    odd = tmp_path / 'we"ird\\name\nwith newline.crt'
    shutil.copy(cert, odd)
    out = tmp_path / "hello_tls.prom"
    assert run(out, odd).returncode == 0
    body = out.read_text()
    assert 'path="%s"' % str(odd).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') in body
    m = families(body)
    assert m["hello_tls_certificate_not_after_timestamp_seconds"] == {frozenset({("path", str(odd))}): ts(2030, 1, 1, 0, 0, 0)}


def test_no_certificates_gives_zero_errors(tmp_path):
    out = tmp_path / "hello_tls.prom"
    assert run(out).returncode == 0
    m = families(out.read_text())
    assert m == {"hello_tls_certificate_read_errors": {frozenset(): 0}}


def test_without_openssl_every_certificate_is_a_read_error(make_cert, tmp_path):
    cert = make_cert("c", "20300101000000Z")
    nobin = tmp_path / "empty-bin"
    nobin.mkdir()
    out = tmp_path / "hello_tls.prom"
    proc = run(out, cert, env=dict(os.environ, PATH=str(nobin)))
    assert proc.returncode == 0
    assert families(out.read_text())["hello_tls_certificate_read_errors"] == {frozenset(): 1}
    assert "openssl" in proc.stderr


def test_the_file_is_replaced_atomically(make_cert, tmp_path):
    cert = make_cert("c", "20300101000000Z")
    out = tmp_path / "hello_tls.prom"
    out.write_text("old content\n")
    os.chmod(out, 0o600)
    with open(out, encoding="utf-8") as reader:
        before = os.stat(out).st_ino
        assert run(out, cert).returncode == 0
        # A reader that opened the old file still reads it whole: the new file was renamed over it.
        assert reader.read() == "old content\n"
    assert os.stat(out).st_ino != before
    assert os.stat(out).st_mode & 0o777 == 0o644
    assert "hello_tls_certificate_not_after_timestamp_seconds" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_unwritable_output_fails_cleanly(make_cert, tmp_path):
    cert = make_cert("c", "20300101000000Z")
    proc = run(tmp_path / "no-such-dir" / "hello_tls.prom", cert)
    assert proc.returncode == 1
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "no-such-dir").exists()


def test_usage():
    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "usage: hello-tls-metrics" in proc.stderr


@pytest.mark.parametrize("line, expected", [
    ("notAfter=Jun  1 12:00:00 2031 GMT", ts(2031, 6, 1, 12, 0, 0)),
    ("notAfter=Dec 31 23:59:59 1999 GMT\n", ts(1999, 12, 31, 23, 59, 59)),
    ("notAfter=Feb 29 00:00:00 2028 GMT", ts(2028, 2, 29, 0, 0, 0)),
    ("notAfter=Jun  1 12:00:00 2031", None),          # no zone
    ("notAfter=Juin  1 12:00:00 2031 GMT", None),     # not OpenSSL's month names
    ("notAfter=Jun 41 12:00:00 2031 GMT", None),
    ("notBefore=Jun  1 12:00:00 2031 GMT", None),
    ("", None),
])
def test_parse_enddate(line, expected):
    assert htm.parse_enddate(line) == expected
