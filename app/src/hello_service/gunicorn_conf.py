# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gunicorn configuration: gunicorn -c python:hello_service.gunicorn_conf hello_service.wsgi:app

Reads HELLO_BIND, HELLO_WORKERS, HELLO_THREADS, HELLO_GRACEFUL_TIMEOUT, HELLO_TIMEOUT,
HELLO_KEEPALIVE, HELLO_ACCESS_LOG, the TLS settings (HELLO_TLS_CERT and HELLO_TLS_KEY: serve HTTPS
only; HELLO_TLS_CLIENT_CA: also require a client certificate signed by that CA) and validates the HELLO_* service settings before any worker
starts (exit status 2 with a JSON error line on invalid configuration). Sets up Prometheus
multiprocess mode (PROMETHEUS_MULTIPROC_DIR), JSON error and access logs, and the graceful
shutdown hooks (SIGTERM: readiness 503, in-flight requests finish, the poller thread stops).
"""

import glob
import json
import os
import signal
import ssl
import sys
import shutil
import tempfile

from gunicorn import glogging

from hello_service.config import ConfigError, readable_file, load_settings
from hello_service.logs import JsonFormatter


def _fail(message):
    sys.stderr.write(json.dumps({"level": "CRITICAL", "logger": "hello_service.config", "message": f"invalid configuration: {message}"}) + "\n")
    raise SystemExit(2)


def _env_int(name, default, minimum, maximum):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        return _fail(f"{name}={raw!r} is not an integer")
    if not minimum <= value <= maximum:
        return _fail(f"{name}={value} is outside {minimum}-{maximum}")
    return value


try:
    _SETTINGS = load_settings()
except ConfigError as _exc:
    _fail(str(_exc))

_CPUS = os.cpu_count() or 1


def _tls_file(name):
    path = os.environ.get(name, "").strip()
    if path:
        try:
            readable_file(name, path)  # the same check as the service's other files
        except ConfigError as exc:
            _fail(str(exc))
    return path


_TLS_CERT, _TLS_KEY, _TLS_CLIENT_CA = _tls_file("HELLO_TLS_CERT"), _tls_file("HELLO_TLS_KEY"), _tls_file("HELLO_TLS_CLIENT_CA")
if bool(_TLS_CERT) != bool(_TLS_KEY):
    _fail("set both HELLO_TLS_CERT and HELLO_TLS_KEY (the server certificate and its key), or neither")
if _TLS_CLIENT_CA and not _TLS_CERT:
    _fail("HELLO_TLS_CLIENT_CA asks clients for a certificate, which needs TLS: set HELLO_TLS_CERT and HELLO_TLS_KEY too")

wsgi_app = "hello_service.wsgi:app"
bind = [b.strip() for b in os.environ.get("HELLO_BIND", "127.0.0.1:8080").split(",") if b.strip()]
worker_class = "gthread"
workers = _env_int("HELLO_WORKERS", max(2, 2 * _CPUS), 1, 64)
threads = _env_int("HELLO_THREADS", 4, 1, 256)
# Longer than HELLO_RETRY_TIMEOUT, so a request that rides out a switchover is never cut.
timeout = _env_int("HELLO_TIMEOUT", max(30, int(_SETTINGS.retry_timeout) + 20), 5, 3600)
graceful_timeout = _env_int("HELLO_GRACEFUL_TIMEOUT", max(20, int(_SETTINGS.retry_timeout) + 10), 1, 3600)
keepalive = _env_int("HELLO_KEEPALIVE", 5, 0, 3600)
proc_name = "hello-service"
preload_app = False
# gunicorn >= 25 opens a control socket at one fixed path per user ($HOME/.gunicorn/gunicorn.ctl),
# which two instances (or a service user without a home) would trip over: not used here.
control_socket_disable = True
if _TLS_CERT:
    # HTTPS only. A worker keeps its TLS context while the certificate, key and CA files are
    # unchanged (so clients resume TLS sessions instead of a full handshake per connection) and
    # builds a new one at the first connection after any of them changed: a renewed certificate
    # (same paths) is served from then on, without a restart.
    certfile, keyfile = _TLS_CERT, _TLS_KEY
    if _TLS_CLIENT_CA:
        ca_certs = _TLS_CLIENT_CA
        cert_reqs = ssl.CERT_REQUIRED

# This worker's TLS context and the state of the files it was built from.
_SSL_CONTEXT = {"files": None, "context": None}


def _tls_files_state(config):
    """The identity of the TLS files as they are now (a renewal replaces or rewrites them)."""
    state = []
    for path in (config.certfile, config.keyfile, config.ca_certs):
        try:
            stat = os.stat(path) if path else None
        except OSError:
            stat = None
        state.append((stat.st_ino, stat.st_size, stat.st_mtime_ns) if stat else None)
    return tuple(state)


def ssl_context(config, default_ssl_context_factory):
    """gunicorn's TLS context, TLS 1.2 or newer, kept until the certificate, key or CA file changes."""
    files = _tls_files_state(config)
    if _SSL_CONTEXT["context"] is not None and _SSL_CONTEXT["files"] == files:
        return _SSL_CONTEXT["context"]
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _SSL_CONTEXT.update(files=files, context=context)
    return context


accesslog = None if os.environ.get("HELLO_ACCESS_LOG", "-").strip().lower() in ("off", "none", "false", "0") else "-"
errorlog = "-"
loglevel = _SETTINGS.log_level.lower()

_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Several workers need a shared directory for the metric files; set before any worker
    # imports prometheus_client. systemd: RuntimeDirectory= and PROMETHEUS_MULTIPROC_DIR under /run.
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="hello-service-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


class JsonLogger(glogging.Logger):
    """gunicorn's error and access logs as JSON lines."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter()
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        try:
            status = int(status)
        except (TypeError, ValueError):
            pass
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        request_id = next((v for k, v in headers if k.lower() == "x-request-id"), None)
        duration_ms = round(request_time.total_seconds() * 1000, 3)
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO")
        self.access_log.info("%s %s %s", method, path, status, extra={
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "remote_addr": environ.get("REMOTE_ADDR"),
            "bytes": getattr(resp, "sent", None),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        })


logger_class = JsonLogger


def on_starting(server):
    """Master start: drop metric files left by a previous run (they would be added up)."""
    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        try:
            os.unlink(path)
        except OSError:
            pass
    server.log.info("hello-service master starting",
                    extra={"workers": server.cfg.workers, "threads": server.cfg.threads, "bind": server.cfg.bind,
                           "metrics_dir": os.environ["PROMETHEUS_MULTIPROC_DIR"]})


def post_worker_init(worker):
    """In the worker, after the app is loaded: SIGTERM first turns readiness to 503."""
    from hello_service.wsgi import service  # pylint: disable=import-outside-toplevel

    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        service.begin_shutdown()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)


def worker_exit(server, worker):
    """In the worker, when it exits: stop leader discovery, close the pools."""
    module = sys.modules.get("hello_service.wsgi")
    if module is not None:
        module.service.close()


def child_exit(server, worker):
    """In the master: the exited worker's live gauges no longer count."""
    from prometheus_client import multiprocess  # pylint: disable=import-outside-toplevel

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Master exit: remove the metrics directory if this configuration made it."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
