# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Flask application: routes, JSON errors for everything, request ids, metrics, readiness."""

import datetime
import functools
import importlib.resources
import json
import logging
import re
import threading
import time
import uuid
import zoneinfo
from typing import Callable, Optional

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, UnsupportedMediaType
from werkzeug.routing import PathConverter

from . import __version__, metrics
from .birthdays import DATE_FIELD, ValidationError, greeting, parse_date_of_birth, validate_username
from .config import Settings, load_settings
from .db import Database, DatabaseUnavailable
from .discovery import LeaderPoller
from .logs import configure_logging
from .patroni import PatroniClient

log = logging.getLogger(__name__)

EXTENSION = "hello_service"
MAX_BODY_BYTES = 4096
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ROUTE_CONVERTER_RE = re.compile(r"<[^:<>]+:")
HTTP_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class RestConverter(PathConverter):
    """Like <path:...> but also across newlines, so that every /hello/<anything> reaches the
    username validation (400) instead of ending as an unknown route."""

    regex = r"[^/](?:.|\n)*?"


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class HelloService:
    """Per-process state: settings, database pools, leader discovery, "today", shutdown flag."""

    def __init__(self, settings: Settings, today: Optional[Callable[[], datetime.date]] = None, start_discovery: bool = True):
        self.settings = settings
        self.tz = zoneinfo.ZoneInfo(settings.timezone)
        self._today = today
        self.shutting_down = threading.Event()
        self.poller: Optional[LeaderPoller] = None
        self.database = Database(settings, on_rediscover=self.rediscover)
        if not settings.static_mode:
            client = PatroniClient(settings.patroni_urls, ca_file=settings.patroni_ca_file, timeout=settings.patroni_timeout)
            self.poller = LeaderPoller(client, self.database, settings.poll_interval)
            if start_discovery:
                self.poller.start()
                self.poller.wait_first_poll(timeout=max(2.0, settings.patroni_timeout * 3 * len(settings.patroni_urls)))

    def today(self) -> datetime.date:
        """Today's date in HELLO_TIMEZONE (or what the injected callable says, in tests)."""
        if self._today is not None:
            return self._today()
        return datetime.datetime.now(self.tz).date()

    def rediscover(self) -> None:
        if self.poller is not None:
            self.poller.wake()

    def begin_shutdown(self) -> None:
        if not self.shutting_down.is_set():
            self.shutting_down.set()
            log.info("shutdown begun: readiness now reports 503")

    def close(self) -> None:
        self.begin_shutdown()
        if self.poller is not None:
            self.poller.stop()
        self.database.close()

    def readiness(self):
        """(HTTP status, JSON body) of /health/ready."""
        if self.shutting_down.is_set():
            return 503, {"error": "shutting_down", "message": "shutting down: not accepting new work"}
        if not self.database.leader_known():
            reason = self.poller.last_error if self.poller is not None and self.poller.last_error else "no leader known yet"
            return 503, {"error": "no_leader", "message": f"no leader: {reason}"}
        try:
            self.database.check()
        except DatabaseUnavailable as exc:
            return 503, {"error": "database_unreachable", "message": str(exc)}
        leader = self.database.leader
        body = {"status": "ready", "mode": "static" if self.settings.static_mode else "patroni"}
        if leader is not None:
            body["leader"] = leader.name
        return 200, body


def error_response(status: int, code: str, message: str, headers=None) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _route_label() -> str:
    rule = request.url_rule
    if rule is None:
        return "unmatched"
    return _ROUTE_CONVERTER_RE.sub("<", rule.rule)


@functools.lru_cache(maxsize=1)
def openapi_document() -> bytes:
    return importlib.resources.files(__package__).joinpath("openapi.yaml").read_bytes()


def _parse_json_body():
    """The request body as JSON (bodies larger than MAX_BODY_BYTES were refused with 413)."""
    raw = request.get_data(cache=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("invalid_json", "request body is not valid UTF-8 encoded JSON") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKey as exc:
        raise ValidationError("invalid_body", f"request body has the field {_short(str(exc))} more than once") from None
    except (ValueError, RecursionError):
        raise ValidationError("invalid_json", "request body is not valid JSON") from None


def _short(text: str, limit: int = 40) -> str:
    text = json.dumps(text)
    return text if len(text) <= limit else text[:limit - 4] + '..."'


def create_app(settings: Optional[Settings] = None, *, today: Optional[Callable[[], datetime.date]] = None,
               start_discovery: bool = True) -> Flask:
    """The WSGI application. settings default to load_settings() (HELLO_* environment variables);
    today overrides the date (tests); start_discovery=False leaves the Patroni poller stopped."""
    if settings is None:
        settings = load_settings()
    configure_logging(settings.log_level)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.url_map.merge_slashes = False
    app.url_map.converters["rest"] = RestConverter
    service = HelloService(settings, today=today, start_discovery=start_discovery)
    app.extensions[EXTENSION] = service
    log.info("hello-service started", extra={"version": __version__, "settings": settings.describe()})

    def route(rule, **options):
        options.setdefault("provide_automatic_options", False)
        return app.route(rule, **options)

    @app.before_request
    def _start_request():
        g.started = time.perf_counter()
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if REQUEST_ID_RE.fullmatch(supplied) else uuid.uuid4().hex

    @app.after_request
    def _finish_request(response):
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        started = g.get("started")
        route_label = _route_label()
        method = metrics.method_label(request.method)
        metrics.HTTP_REQUESTS.labels(method, route_label, str(response.status_code)).inc()
        if started is not None:
            metrics.HTTP_DURATION.labels(method, route_label).observe(time.perf_counter() - started)
        return response

    @route("/hello/<rest:username>", methods=["PUT"])
    @route("/hello/", methods=["PUT"], defaults={"username": ""}, strict_slashes=False)
    def put_birthday(username):
        validate_username(username)
        if request.mimetype != "application/json":
            raise UnsupportedMediaType(f"Content-Type must be application/json, not {_short(request.mimetype or 'none')}")
        body = _parse_json_body()
        if not isinstance(body, dict):
            raise ValidationError("invalid_body", f'request body must be a JSON object like {{"{DATE_FIELD}": "YYYY-MM-DD"}}')
        extra = sorted(k for k in body if k != DATE_FIELD)
        if extra:
            names = ", ".join(_short(k) for k in extra[:3]) + (", ..." if len(extra) > 3 else "")
            raise ValidationError("unexpected_field", f"unexpected field(s) {names}: the body must have only {DATE_FIELD}")
        if DATE_FIELD not in body:
            raise ValidationError("missing_field", f"the field {DATE_FIELD} is required")
        born = parse_date_of_birth(body[DATE_FIELD], service.today())
        service.database.upsert_birthday(username, born)
        return Response(status=204)

    @route("/hello/<rest:username>", methods=["GET"])
    @route("/hello/", methods=["GET"], defaults={"username": ""}, strict_slashes=False)
    def get_birthday(username):
        validate_username(username)
        born = service.database.get_birthday(username)
        if born is None:
            return error_response(404, "user_not_found", f"no date of birth is stored for the username {username}")
        return jsonify(message=greeting(username, born, service.today()))

    @route("/health/live", methods=["GET"])
    def live():
        return jsonify(status="ok")

    @route("/health/ready", methods=["GET"])
    def ready():
        status, body = service.readiness()
        response = jsonify(body)
        response.status_code = status
        if status == 503:
            response.headers["Retry-After"] = "1"
        return response

    @route("/metrics", methods=["GET"])
    def metrics_endpoint():
        body, content_type = metrics.render()
        return Response(body, status=200, content_type=content_type)

    @route("/openapi.yaml", methods=["GET"])
    def openapi():
        return Response(openapi_document(), status=200, content_type="application/yaml")

    @app.errorhandler(ValidationError)
    def _validation_error(exc):
        return error_response(400, exc.code, exc.message)

    @app.errorhandler(DatabaseUnavailable)
    def _database_unavailable(exc):
        return error_response(503, "service_unavailable", f"the database is unavailable ({exc}); retry later", {"Retry-After": "1"})

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        status = exc.code or 500
        code = HTTP_ERROR_CODES.get(status) or re.sub(r"[^a-z0-9]+", "_", (exc.name or "error").lower()).strip("_")
        headers = {}
        if status == 404:
            message = f"no such route: {request.method} {_short(request.path, 80)}"
        elif status == 405:
            allowed = sorted(set(getattr(exc, "valid_methods", None) or []))
            headers["Allow"] = ", ".join(allowed)
            message = f"method {_short(request.method)} is not allowed here; allowed: {', '.join(allowed) or 'none'}"
        elif status == 413:
            message = f"request body is larger than {MAX_BODY_BYTES} bytes"
        else:
            message = exc.description or exc.name
        if status >= 500:
            log.error("HTTP error", extra={"status": status, "error": message})
        return error_response(status, code, message, headers)

    @app.errorhandler(Exception)
    def _unexpected_error(exc):
        log.exception("unhandled exception while handling the request", extra={"error": exc.__class__.__name__})
        return error_response(500, "internal_error", "internal server error; the request id in X-Request-ID identifies it in the logs")

    return app


def get_service(app: Flask) -> HelloService:
    return app.extensions[EXTENSION]
