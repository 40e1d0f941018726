# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke test of the real thing: gunicorn with hello_service.gunicorn_conf (2 gthread workers) on a
free port against the local PostgreSQL: PUT/GET, /metrics aggregated over the workers, JSON logs,
and SIGTERM: the in-flight request finishes, the master exits cleanly within seconds."""

import json
import os
import re
import signal
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


@pytest.fixture
def server(pg, tmp_path, rows):
    port = free_port()
    metrics_dir = tmp_path / "metrics"
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
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    })
    (tmp_path / "pw").write_text(pg.app_password + "\n")
    stdout, stderr = open(tmp_path / "stdout", "wb"), open(tmp_path / "stderr", "wb")  # pylint: disable=consider-using-with
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:hello_service.gunicorn_conf", "hello_service.wsgi:app"],
                            env=environ, stdout=stdout, stderr=stderr, cwd=str(tmp_path))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            # ready, and both workers have created their app (logged after the pool is set up)
            if requests.get(base + "/health/ready", timeout=2).status_code == 200 and _read(tmp_path / "stderr").count('"hello-service started"') >= 2:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("gunicorn did not become ready:\n" + _read(tmp_path / "stderr")[-4000:])
        time.sleep(0.1)
    info = {"proc": proc, "base": base, "metrics_dir": metrics_dir, "stdout": tmp_path / "stdout", "stderr": tmp_path / "stderr"}
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
