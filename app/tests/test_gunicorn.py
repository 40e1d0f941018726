# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke test of the real thing: gunicorn with hello_service.gunicorn_conf (2 gthread workers) on a
free port against the local PostgreSQL: PUT/GET, /metrics aggregated over the workers, JSON logs,
and SIGTERM: the in-flight request finishes, the master exits cleanly within seconds."""

import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests

from conftest import APP_DIR, free_port

pytestmark = pytest.mark.slow


def _total(metrics_text, name, **labels):
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _read(path):
    return path.read_bytes().decode(errors="replace")


def _environ(pg, tmp_path, port, **extra):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HELLO_", "PROMETHEUS_"))}
    environ.update({
        "PYTHONPATH": str(APP_DIR / "src"),
        "HELLO_BIND": f"127.0.0.1:{port}",
        "HELLO_WORKERS": "2",
        "HELLO_THREADS": "4",
        "HELLO_DB_HOSTS": f"{pg.host}:{pg.port}",
        "HELLO_DB_NAME": pg.db_name,
        "HELLO_DB_USER": pg.app_user,
        "HELLO_DB_PASSWORD_FILE": str(tmp_path / "pw"),
        "HELLO_GRACEFUL_TIMEOUT": "15",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    })
    environ.update(extra)
    (tmp_path / "pw").write_text(pg.app_password + "\n")
    return environ


def _gunicorn(environ, tmp_path):
    stdout, stderr = open(tmp_path / "stdout", "wb"), open(tmp_path / "stderr", "wb")  # pylint: disable=consider-using-with
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:hello_service.gunicorn_conf", "hello_service.wsgi:app"],
                            env=environ, stdout=stdout, stderr=stderr, cwd=str(tmp_path))
    return proc, stdout, stderr


def _wait_ready(proc, tmp_path, url, workers=2, **request_args):
    deadline = time.monotonic() + 30
    while True:
        try:
            # ready, and both workers have created their app (logged after the pool is set up)
            if requests.get(url, timeout=2, **request_args).status_code == 200 and _read(tmp_path / "stderr").count('"hello-service started"') >= workers:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("gunicorn did not become ready:\n" + _read(tmp_path / "stderr")[-4000:])
        time.sleep(0.1)


@pytest.fixture
def server(pg, tmp_path, rows):
    port = free_port()
    proc, stdout, stderr = _gunicorn(_environ(pg, tmp_path, port), tmp_path)
    base = f"http://127.0.0.1:{port}"
    _wait_ready(proc, tmp_path, base + "/health/ready")
    info = {"proc": proc, "base": base, "metrics_dir": tmp_path / "metrics", "stdout": tmp_path / "stdout", "stderr": tmp_path / "stderr"}
    yield info
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    stdout.close()
    stderr.close()


def test_gunicorn_serves_counts_and_stops_gracefully(server, pg, admin_db, rows):
    base = server["base"]
    session = requests.Session()
    response = session.put(base + "/hello/alice", json={"dateOfBirth": "1990-06-20"}, timeout=10, headers={"X-Request-ID": "smoke-put-1"})
    assert response.status_code == 204
    assert response.headers["X-Request-ID"] == "smoke-put-1"
    gets = 30
    for _attempt in range(gets):  # new connections, so both workers get some
        response = requests.get(base + "/hello/alice", timeout=10, headers={"Connection": "close"})
        assert response.status_code == 200
        assert response.json()["message"].startswith("Hello, alice! ")
    assert requests.get(base + "/hello/nobody", timeout=10).status_code == 404
    assert requests.put(base + "/hello/bad1", json={"dateOfBirth": "1990-06-20"}, timeout=10).status_code == 400

    # every scrape, whichever worker answers, shows the sum over all workers
    for _attempt in range(4):
        text = requests.get(base + "/metrics", timeout=10, headers={"Connection": "close"}).text
        assert _total(text, "hello_http_requests_total", method="GET", route="/hello/<username>", status="200") == gets
        assert _total(text, "hello_http_requests_total", method="PUT", route="/hello/<username>", status="204") == 1
        assert _total(text, "hello_http_requests_total", method="PUT", route="/hello/<username>", status="400") == 1
        assert _total(text, "hello_http_request_duration_seconds_count", method="GET", route="/hello/<username>") >= gets
        assert "hello_db_leader_changes_total" in text and "hello_db_retries_total" in text
        assert re.search(r"^hello_db_leader_known(\{[^}]*\})? 1\.0$", text, re.M), text
    pids = {m.group(1) for m in (re.search(r"_(\d+)\.db$", p.name) for p in server["metrics_dir"].iterdir()) if m}
    assert len(pids) >= 2, pids  # one set of metric files per worker

    # SIGTERM while a request is in flight (blocked on a table lock): it still completes
    admin_db.autocommit = False
    result = {}
    try:
        with admin_db.cursor() as cur:
            cur.execute("lock table hello.birthdays in access exclusive mode")

        def slow_put():
            result["response"] = requests.put(base + "/hello/bob", json={"dateOfBirth": "1980-01-01"}, timeout=20)

        writer = threading.Thread(target=slow_put)
        writer.start()
        time.sleep(0.5)
        started = time.monotonic()
        server["proc"].send_signal(signal.SIGTERM)
        time.sleep(1.0)
    finally:
        admin_db.rollback()
        admin_db.autocommit = True
    writer.join(20)
    assert result["response"].status_code == 204
    assert server["proc"].wait(15) == 0
    assert time.monotonic() - started < 8
    assert rows.get("bob") is not None

    out, err = _read(server["stdout"]), _read(server["stderr"])
    assert pg.app_password not in out + err
    access = [json.loads(line) for line in out.splitlines() if line.strip()]
    put_lines = [a for a in access if a.get("request_id") == "smoke-put-1"]
    assert len(put_lines) == 1
    entry = put_lines[0]
    assert entry["logger"] == "gunicorn.access" and entry["method"] == "PUT" and entry["path"] == "/hello/alice" and entry["status"] == 204
    assert isinstance(entry["duration_ms"], float) and entry["ts"] and entry["level"] == "INFO"
    assert all(uuid.UUID(a["request_id"]) for a in access if a["request_id"] != "smoke-put-1")
    for line in err.splitlines():
        if line.strip():
            record = json.loads(line)  # every log line is JSON
            assert {"ts", "level", "logger", "message"} <= set(record)
    assert "shutdown begun" in err


def _pki(directory):
    """A CA, a server certificate for 127.0.0.1, a client certificate of that CA and one of another CA."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel

    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(name, issuer=None, ca=False, san=None, usage=None):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer[0].subject if issuer else subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        if usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
        (directory / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                  serialization.NoEncryption()))
        return cert, key

    ca = issue("ca", ca=True)
    other_ca = issue("other-ca", ca=True)
    issue("server", ca, san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], usage=[ExtendedKeyUsageOID.SERVER_AUTH])
    issue("client", ca, usage=[ExtendedKeyUsageOID.CLIENT_AUTH])
    issue("stranger", other_ca, usage=[ExtendedKeyUsageOID.CLIENT_AUTH])
    return {name: (str(directory / f"{name}.crt"), str(directory / f"{name}.key")) for name in ("ca", "server", "client", "stranger")}


def test_gunicorn_https_requires_a_client_certificate_of_the_ca(pg, tmp_path, rows):
    """HELLO_TLS_*: HTTPS only, and only for clients with a certificate of HELLO_TLS_CLIENT_CA."""
    pki_dir = tmp_path / "pki"
    pki_dir.mkdir()
    pki = _pki(pki_dir)
    port = free_port()
    environ = _environ(pg, tmp_path, port, HELLO_TLS_CERT=pki["server"][0], HELLO_TLS_KEY=pki["server"][1], HELLO_TLS_CLIENT_CA=pki["ca"][0])
    proc, stdout, stderr = _gunicorn(environ, tmp_path)
    base = f"https://127.0.0.1:{port}"
    try:
        _wait_ready(proc, tmp_path, base + "/health/ready", verify=pki["ca"][0], cert=pki["client"])
        response = requests.put(base + "/hello/carol", json={"dateOfBirth": "1991-03-04"}, timeout=10, verify=pki["ca"][0], cert=pki["client"])
        assert response.status_code == 204
        assert rows.get("carol") is not None
        # no certificate, another CA's certificate, plain HTTP: no answer from the application
        for attempt in ({"cert": None}, {"cert": pki["stranger"]}):
            with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
                requests.get(base + "/hello/carol", timeout=10, verify=pki["ca"][0], **attempt)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/hello/carol", timeout=10)
        assert proc.poll() is None  # the failed handshakes cost no worker
        assert requests.get(base + "/health/live", timeout=10, verify=pki["ca"][0], cert=pki["client"]).status_code == 200
    finally:
        proc.terminate()
        proc.wait(20)
        stdout.close()
        stderr.close()


def _tls_get(port, context, session=None):
    """GET /health/live on a connection of its own: the TLS session, whether it was resumed, the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as conn:
            conn.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            response = b""
            while chunk := conn.recv(65536):
                response += chunk
            return conn.session, conn.session_reused, response


def test_gunicorn_keeps_its_tls_context_until_the_certificate_changes(pg, tmp_path, rows):  # pylint: disable=unused-argument
    """A worker reuses its TLS context (clients resume their TLS session) and serves a renewed
    certificate, written over the same paths, from the next connection on, without a restart."""
    pki_dir, renewed_dir = tmp_path / "pki", tmp_path / "renewed"
    pki_dir.mkdir()
    renewed_dir.mkdir()
    pki, renewed = _pki(pki_dir), _pki(renewed_dir)
    port = free_port()
    environ = _environ(pg, tmp_path, port, HELLO_WORKERS="1",
                       HELLO_TLS_CERT=pki["server"][0], HELLO_TLS_KEY=pki["server"][1], HELLO_TLS_CLIENT_CA=pki["ca"][0])
    proc, stdout, stderr = _gunicorn(environ, tmp_path)
    try:
        _wait_ready(proc, tmp_path, f"https://127.0.0.1:{port}/health/ready", workers=1, verify=pki["ca"][0], cert=pki["client"])
        client = ssl.create_default_context(cafile=pki["ca"][0])
        client.load_cert_chain(*pki["client"])
        session, _reused, response = _tls_get(port, client)
        assert response.startswith(b"HTTP/1.1 200"), response
        assert session is not None
        _session, reused, response = _tls_get(port, client, session=session)
        assert response.startswith(b"HTTP/1.1 200"), response
        assert reused, "the worker built a new TLS context although no file changed"

        # the renewal: another certificate and key over the same files (the CA file is unchanged)
        shutil.copyfile(renewed["server"][0], pki["server"][0])
        shutil.copyfile(renewed["server"][1], pki["server"][1])
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        unverified.load_cert_chain(*pki["client"])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with unverified.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                served = conn.getpeercert(binary_form=True)
        assert served == ssl.PEM_cert_to_DER_cert(_read(renewed_dir / "server.crt")), "the renewed certificate is not served"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(20)
        stdout.close()
        stderr.close()


@pytest.mark.parametrize("settings, message", [
    ({"HELLO_TLS_CERT": "server.crt"}, "set both HELLO_TLS_CERT and HELLO_TLS_KEY"),
    ({"HELLO_TLS_CLIENT_CA": "ca.crt"}, "HELLO_TLS_CLIENT_CA asks clients for a certificate, which needs TLS"),
    ({"HELLO_TLS_CERT": "missing.crt", "HELLO_TLS_KEY": "server.key"}, "does not exist or is not a file"),
])
def test_gunicorn_refuses_a_half_tls_setting(pg, tmp_path, settings, message):
    """A TLS setting that cannot work stops the master before any worker, with one JSON line (exit 2)."""
    for name in ("server.crt", "server.key", "ca.crt"):
        (tmp_path / name).write_text("-")
    environ = _environ(pg, tmp_path, free_port(), **{k: str(tmp_path / v) for k, v in settings.items()})
    proc, stdout, stderr = _gunicorn(environ, tmp_path)
    try:
        assert proc.wait(30) == 2
    finally:
        stdout.close()
        stderr.close()
    lines = [json.loads(line) for line in _read(tmp_path / "stderr").splitlines() if line.strip().startswith("{")]
    assert any(message in line["message"] and line["level"] == "CRITICAL" for line in lines), _read(tmp_path / "stderr")
