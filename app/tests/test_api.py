# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP contract against the real PostgreSQL: PUT/GET, every 4xx (and that nothing was written),
29 February, time zone, request ids, health, metrics, the OpenAPI document."""

import datetime
import importlib.resources
import json
import re
import time
from urllib.parse import quote

import pytest
import yaml
from prometheus_client import REGISTRY

from hello_service.app import create_app, get_service

from conftest import make_settings

ERROR_KEYS = {"error", "message"}


def put(client, username, body=None, raw=None, content_type="application/json", **kwargs):
    data = raw if raw is not None else json.dumps(body)
    headers = kwargs.pop("headers", {})
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.put(f"/hello/{username}", data=data, headers=headers, **kwargs)


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS, body
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert response.headers.get("X-Request-ID")
    return body


# -- the happy path -----------------------------------------------------------------------------

def test_put_then_get(client, rows):
    response = put(client, "alice", {"dateOfBirth": "1990-06-20"})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert rows.all() == [("alice", datetime.date(1990, 6, 20))]
    response = client.get("/hello/alice")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"message": "Hello, alice! Your birthday is in 5 day(s)"}


def test_put_updates_the_date(client, rows):
    assert put(client, "alice", {"dateOfBirth": "1990-06-20"}).status_code == 204
    assert put(client, "alice", {"dateOfBirth": "1985-06-16"}).status_code == 204
    assert rows.all() == [("alice", datetime.date(1985, 6, 16))]
    assert client.get("/hello/alice").get_json() == {"message": "Hello, alice! Your birthday is in 1 day(s)"}


def test_birthday_today(client, rows):
    assert put(client, "bob", {"dateOfBirth": "2000-06-15"}).status_code == 204
    assert client.get("/hello/bob").get_json() == {"message": "Hello, bob! Happy birthday!"}


def test_birthday_yesterday_is_almost_a_year_away(client, rows):
    assert put(client, "bob", {"dateOfBirth": "2000-06-14"}).status_code == 204
    # 2024-06-15 -> 2025-06-14
    assert client.get("/hello/bob").get_json() == {"message": "Hello, bob! Your birthday is in 364 day(s)"}


def test_days_across_the_year_end(client, rows, clock):
    clock.date = datetime.date(2023, 12, 30)
    assert put(client, "carol", {"dateOfBirth": "1999-01-02"}).status_code == 204
    assert client.get("/hello/carol").get_json() == {"message": "Hello, carol! Your birthday is in 3 day(s)"}
    clock.date = datetime.date(2023, 12, 31)
    assert put(client, "dave", {"dateOfBirth": "1999-12-30"}).status_code == 204
    assert client.get("/hello/dave").get_json() == {"message": "Hello, dave! Your birthday is in 365 day(s)"}  # 2024 is leap


def test_username_is_case_sensitive_and_stored_as_given(client, rows):
    assert put(client, "Alice", {"dateOfBirth": "1990-01-01"}).status_code == 204
    assert put(client, "alice", {"dateOfBirth": "1991-02-02"}).status_code == 204
    assert rows.all() == [("Alice", datetime.date(1990, 1, 1)), ("alice", datetime.date(1991, 2, 2))]
    assert_error(client.get("/hello/ALICE"), 404, "user_not_found")


def test_thirty_letters_are_accepted(client, rows):
    name = "a" * 15 + "B" * 15
    assert put(client, name, {"dateOfBirth": "1990-01-01"}).status_code == 204
    assert rows.get(name) == datetime.date(1990, 1, 1)
    assert client.get(f"/hello/{name}").status_code == 200


def test_charset_parameter_is_accepted(client, rows):
    response = put(client, "erin", {"dateOfBirth": "1990-01-01"}, content_type="application/json; charset=utf-8")
    assert response.status_code == 204
    assert rows.get("erin") == datetime.date(1990, 1, 1)


def test_oldest_and_newest_dates(client, rows):
    assert put(client, "old", {"dateOfBirth": "0001-01-01"}).status_code == 204
    assert put(client, "young", {"dateOfBirth": "2024-06-14"}).status_code == 204  # yesterday
    assert rows.get("old") == datetime.date(1, 1, 1)
    assert client.get("/hello/young").get_json() == {"message": "Hello, young! Your birthday is in 364 day(s)"}


def test_unknown_user_is_404(client, rows):
    body = assert_error(client.get("/hello/nobody"), 404, "user_not_found")
    assert "nobody" in body["message"]


# -- 29 February --------------------------------------------------------------------------------

@pytest.mark.parametrize("today, expected", [
    (datetime.date(2023, 2, 27), "Your birthday is in 1 day(s)"),
    (datetime.date(2023, 2, 28), "Happy birthday!"),             # common year: celebrated on 28 Feb
    (datetime.date(2023, 3, 1), "Your birthday is in 365 day(s)"),  # next: 2024-02-29
    (datetime.date(2024, 2, 28), "Your birthday is in 1 day(s)"),  # leap year: 29 Feb
    (datetime.date(2024, 2, 29), "Happy birthday!"),
    (datetime.date(2024, 3, 1), "Your birthday is in 364 day(s)"),  # next: 2025-02-28
    (datetime.date(2024, 12, 31), "Your birthday is in 59 day(s)"),  # 2025-02-28
    (datetime.date(2027, 12, 31), "Your birthday is in 60 day(s)"),  # 2028-02-29
])
def test_29_february(client, rows, clock, today, expected):
    clock.date = datetime.date(2024, 6, 15)
    assert put(client, "leap", {"dateOfBirth": "2000-02-29"}).status_code == 204
    clock.date = today
    assert client.get("/hello/leap").get_json() == {"message": f"Hello, leap! {expected}"}


def test_29_february_of_a_common_year_is_rejected(client, rows):
    assert_error(put(client, "leap", {"dateOfBirth": "2001-02-29"}), 400, "invalid_date")
    assert rows.count() == 0


def test_put_29_february_while_today_is_28_february(client, rows, clock):
    clock.date = datetime.date(2023, 2, 28)
    assert put(client, "leap", {"dateOfBirth": "2020-02-29"}).status_code == 204
    assert client.get("/hello/leap").get_json() == {"message": "Hello, leap! Happy birthday!"}


# -- every 4xx, and nothing is written ----------------------------------------------------------

BAD_USERNAMES = [
    ("digit", "bob1"),
    ("digits only", "12345"),
    ("hyphen", "bo-b"),
    ("underscore", "bo_b"),
    ("space", "bo%20b"),
    ("dot", "bob.smith"),
    ("31 letters", "a" * 31),
    ("e acute", quote("jos\u00e9")),
    ("cyrillic a", quote("\u0430lice")),
    ("fullwidth letters", quote("\uff41\uff42")),
    ("emoji", quote("\U0001F600")),
    ("sql injection", quote("bob'; drop table hello.birthdays; --", safe="")),
    ("sql quote", quote("x' or '1'='1", safe="")),
    ("encoded slash", "bob%2Fx"),
    ("sub path", "bob/x"),
    ("trailing slash", "bob/"),
    ("nul", "bob%00"),
    ("newline", "bob%0A"),
]


@pytest.mark.parametrize("label, username", BAD_USERNAMES, ids=[b[0] for b in BAD_USERNAMES])
def test_invalid_username_put(client, rows, label, username):
    assert put(client, "bob", {"dateOfBirth": "1980-01-01"}).status_code == 204
    before = rows.all()
    assert_error(put(client, username, {"dateOfBirth": "1990-01-01"}), 400, "invalid_username")
    assert rows.all() == before


@pytest.mark.parametrize("label, username", BAD_USERNAMES, ids=[b[0] for b in BAD_USERNAMES])
def test_invalid_username_get(client, rows, label, username):
    assert put(client, "bob", {"dateOfBirth": "1980-01-01"}).status_code == 204
    assert_error(client.get(f"/hello/{username}"), 400, "invalid_username")


@pytest.mark.parametrize("path", ["/hello/", "/hello"])
def test_empty_username(client, rows, path):
    assert_error(client.put(path, json={"dateOfBirth": "1990-01-01"}), 400, "invalid_username")
    assert_error(client.get(path), 400, "invalid_username")
    assert rows.count() == 0


BAD_BODIES = [
    ("invalid json", b"{", "invalid_json"),
    ("truncated json", b'{"dateOfBirth": "1990-01-01"', "invalid_json"),
    ("empty body", b"", "invalid_json"),
    ("not utf-8", b'{"dateOfBirth": "1990-01-01\xff"}', "invalid_json"),
    ("utf-8 bom", '\ufeff{"dateOfBirth": "1990-01-01"}'.encode(), "invalid_json"),
    ("single quotes", b"{'dateOfBirth': '1990-01-01'}", "invalid_json"),
    ("NaN", b'{"dateOfBirth": NaN}', "invalid_date"),
    ("deep nesting", b"[" * 2000 + b"]" * 2000, "invalid_json"),
    ("huge and deep", b"[" * 100000 + b"]" * 100000, "payload_too_large"),
    ("null", b"null", "invalid_body"),
    ("array", b'["1990-01-01"]', "invalid_body"),
    ("string", b'"1990-01-01"', "invalid_body"),
    ("number", b"19900101", "invalid_body"),
    ("missing field", b"{}", "missing_field"),
    ("wrong field name", b'{"dateofbirth": "1990-01-01"}', "unexpected_field"),
    ("extra field", b'{"dateOfBirth": "1990-01-01", "name": "bob"}', "unexpected_field"),
    ("duplicate field", b'{"dateOfBirth": "1990-01-01", "dateOfBirth": "1991-01-01"}', "invalid_body"),
    ("null date", b'{"dateOfBirth": null}', "invalid_date"),
    ("number date", b'{"dateOfBirth": 19900101}', "invalid_date"),
    ("boolean date", b'{"dateOfBirth": true}', "invalid_date"),
    ("array date", b'{"dateOfBirth": ["1990-01-01"]}', "invalid_date"),
    ("object date", b'{"dateOfBirth": {"y": 1990}}', "invalid_date"),
    ("no dashes", b'{"dateOfBirth": "19900101"}', "invalid_date_format"),
    ("slashes", b'{"dateOfBirth": "1990/01/01"}', "invalid_date_format"),
    ("one-digit month", b'{"dateOfBirth": "1990-1-01"}', "invalid_date_format"),
    ("two-digit year", b'{"dateOfBirth": "90-01-01"}', "invalid_date_format"),
    ("five-digit year", b'{"dateOfBirth": "01990-01-01"}', "invalid_date_format"),
    ("day first", b'{"dateOfBirth": "01-01-1990"}', "invalid_date_format"),
    ("datetime", b'{"dateOfBirth": "1990-01-01T00:00:00"}', "invalid_date_format"),
    ("leading space", b'{"dateOfBirth": " 1990-01-01"}', "invalid_date_format"),
    ("trailing newline", b'{"dateOfBirth": "1990-01-01\\n"}', "invalid_date_format"),
    ("arabic-indic digits", '{"dateOfBirth": "\u0661\u0669\u0669\u0660-\u0660\u0661-\u0660\u0661"}'.encode(), "invalid_date_format"),
    ("empty date", b'{"dateOfBirth": ""}', "invalid_date_format"),
    ("30 February", b'{"dateOfBirth": "2023-02-30"}', "invalid_date"),
    ("month 13", b'{"dateOfBirth": "2023-13-01"}', "invalid_date"),
    ("month 00", b'{"dateOfBirth": "2023-00-10"}', "invalid_date"),
    ("day 00", b'{"dateOfBirth": "2023-01-00"}', "invalid_date"),
    ("year 0000", b'{"dateOfBirth": "0000-01-01"}', "invalid_date"),
    ("today", b'{"dateOfBirth": "2024-06-15"}', "date_not_in_past"),
    ("tomorrow", b'{"dateOfBirth": "2024-06-16"}', "date_not_in_past"),
    ("far future", b'{"dateOfBirth": "9999-12-31"}', "date_not_in_past"),
    ("sql in date", b'{"dateOfBirth": "1990-01-01\'); drop table hello.birthdays; --"}', "invalid_date_format"),
]


@pytest.mark.parametrize("label, raw, code", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_invalid_body(client, rows, label, raw, code):
    assert put(client, "bob", {"dateOfBirth": "1980-01-01"}).status_code == 204
    before = rows.all()
    status = 413 if code == "payload_too_large" else 400
    body = assert_error(put(client, "bob", raw=raw), status, code)
    assert rows.all() == before
    if code.startswith("invalid_date") or code == "date_not_in_past" or code == "missing_field":
        assert "dateOfBirth" in body["message"]


def test_invalid_body_for_a_new_user_writes_nothing(client, rows):
    assert_error(put(client, "newbie", {"dateOfBirth": "2030-01-01"}), 400, "date_not_in_past")
    assert rows.count() == 0


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "application/jsonx", "application/problem+json", "text/json"])
def test_wrong_content_type(client, rows, content_type):
    assert put(client, "bob", {"dateOfBirth": "1980-01-01"}).status_code == 204
    before = rows.all()
    body = assert_error(put(client, "bob", {"dateOfBirth": "1990-01-01"}, content_type=content_type), 415, "unsupported_media_type")
    assert "application/json" in body["message"]
    assert rows.all() == before


@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"])
def test_wrong_method(client, rows, method):
    assert put(client, "bob", {"dateOfBirth": "1980-01-01"}).status_code == 204
    before = rows.all()
    response = client.open("/hello/bob", method=method, json={"dateOfBirth": "1990-01-01"})
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "PUT"}
    assert rows.all() == before


@pytest.mark.parametrize("path, method", [("/health/live", "PUT"), ("/metrics", "POST"), ("/health/ready", "DELETE")])
def test_wrong_method_elsewhere(client, path, method):
    response = client.open(path, method=method)
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/", "/nope", "/hello2/bob", "/hello//bob", "/health", "/static/x.js"])
def test_unknown_route(client, rows, path):
    assert_error(client.get(path), 404, "not_found")
    assert_error(client.put(path, json={"dateOfBirth": "1990-01-01"}), 404, "not_found")
    assert rows.count() == 0


def test_body_too_large(client, rows):
    raw = json.dumps({"dateOfBirth": "1990-01-01", "pad": "x" * 10000}).encode()
    assert_error(put(client, "bob", raw=raw), 413, "payload_too_large")
    assert rows.count() == 0


def test_head_is_get_without_body(client, rows):
    assert put(client, "bob", {"dateOfBirth": "1980-01-01"}).status_code == 204
    response = client.head("/hello/bob")
    assert response.status_code == 200
    assert response.get_data() == b""


# -- time zone, request id ----------------------------------------------------------------------

@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Europe/Berlin"])
def test_today_is_the_date_in_the_configured_time_zone(pg, tz):
    import zoneinfo  # pylint: disable=import-outside-toplevel

    application = create_app(make_settings(pg, timezone=tz))
    try:
        before = datetime.datetime.now(zoneinfo.ZoneInfo(tz)).date()
        today = get_service(application).today()
        after = datetime.datetime.now(zoneinfo.ZoneInfo(tz)).date()
        assert today in (before, after)
    finally:
        get_service(application).close()


def test_request_id_is_echoed_when_sane(client):
    response = client.get("/health/live", headers={"X-Request-ID": "abc-123.XYZ:9"})
    assert response.headers["X-Request-ID"] == "abc-123.XYZ:9"


@pytest.mark.parametrize("supplied", ["", "has space", "x" * 200, "bad\"quote", "<script>"])
def test_request_id_is_generated_when_not_sane(client, supplied):
    response = client.get("/health/live", headers={"X-Request-ID": supplied})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


# -- health, metrics, OpenAPI -------------------------------------------------------------------

def test_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_in_static_mode(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "mode": "static"}


def test_ready_when_every_connection_is_busy(pg):
    application = create_app(make_settings(pg, pool_max=1))
    try:
        client = application.test_client()
        assert client.get("/health/ready").status_code == 200
        pool = get_service(application).database._leader_pool  # pylint: disable=protected-access
        with pool.connection(1.0):
            started = time.monotonic()
            assert client.get("/health/ready").status_code == 200
            assert time.monotonic() - started < 2.0
    finally:
        get_service(application).close()


def test_ready_is_503_once_shutdown_began(app, client):
    get_service(app).begin_shutdown()
    body = assert_error(client.get("/health/ready"), 503, "shutting_down")
    assert "shutting down" in body["message"]
    assert client.get("/health/live").status_code == 200


def test_ready_is_503_when_the_database_is_unreachable(pg):
    from conftest import free_port  # pylint: disable=import-outside-toplevel

    application = create_app(make_settings(pg, db_hosts=(("127.0.0.1", free_port()),), retry_timeout=0.3))
    try:
        client = application.test_client()
        body = assert_error(client.get("/health/ready"), 503, "database_unreachable")
        assert body["message"].startswith("database unreachable: ")
        response = client.get("/hello/bob")
        body = assert_error(response, 503, "service_unavailable")
        assert response.headers["Retry-After"] == "1"
    finally:
        get_service(application).close()


def test_wrong_password_is_503_and_never_logged(pg, caplog):
    password = "not-the-password-" + "q" * 8
    application = create_app(make_settings(pg, db_password=password, retry_timeout=0.3))
    try:
        client = application.test_client()
        with caplog.at_level("DEBUG"):
            assert_error(client.get("/health/ready"), 503, "database_unreachable")
            body = assert_error(client.put("/hello/bob", json={"dateOfBirth": "1990-01-01"}), 503, "service_unavailable")
        assert password not in body["message"]
        assert caplog.records
        for record in caplog.records:
            assert password not in record.getMessage()
            assert password not in json.dumps(record.__dict__, default=str)
    finally:
        get_service(application).close()


def _sample(name, labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_requests_by_route_template(client, rows):
    labels = {"method": "PUT", "route": "/hello/<username>", "status": "204"}
    before = _sample("hello_http_requests_total", labels)
    before_404 = _sample("hello_http_requests_total", {"method": "GET", "route": "unmatched", "status": "404"})
    assert put(client, "metric", {"dateOfBirth": "1980-01-01"}).status_code == 204
    assert client.get("/no/such/route").status_code == 404
    assert _sample("hello_http_requests_total", labels) == before + 1
    assert _sample("hello_http_requests_total", {"method": "GET", "route": "unmatched", "status": "404"}) == before_404 + 1
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    for name in ("hello_http_requests_total", "hello_http_request_duration_seconds_bucket", "hello_db_leader_changes_total",
                 "hello_db_leader_known", "hello_db_retries_total"):
        assert name in text
    assert 'route="/hello/<username>"' in text
    assert "metric" not in re.findall(r'route="([^"]*)"', text)  # never the raw path


def test_openapi_document_is_served_from_package_data(client):
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    packaged = importlib.resources.files("hello_service").joinpath("openapi.yaml").read_bytes()
    assert response.get_data() == packaged
    document = yaml.safe_load(packaged)
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/hello/{username}", "/health/live", "/health/ready", "/metrics", "/openapi.yaml"}


def test_concurrent_first_puts_of_one_username_all_succeed(pg, rows):
    """PostgreSQL's MERGE is not an atomic upsert: two sessions that both find no row both take the
    NOT MATCHED branch, and the second INSERT fails with unique_violation. The service must retry
    (the retry takes the MATCHED branch) instead of answering 5xx. Found by the molecule scenario,
    where two app hosts ran the same MERGE at the same moment."""
    import threading

    threads_per_name, names = 8, 25
    application = create_app(make_settings(pg, pool_max=threads_per_name), today=lambda: datetime.date(2024, 6, 15))
    statuses = []
    lock = threading.Lock()
    try:
        for n in range(names):
            username = "racer" + "abcdefghijklmnopqrstuvwxyz"[n]
            barrier = threading.Barrier(threads_per_name)

            def worker(day):
                client = application.test_client()
                barrier.wait()
                status = put(client, username, {"dateOfBirth": f"1990-01-{day:02d}"}).status_code
                with lock:
                    statuses.append(status)

            workers = [threading.Thread(target=worker, args=(i + 1,)) for i in range(threads_per_name)]
            for t in workers:
                t.start()
            for t in workers:
                t.join()
    finally:
        get_service(application).close()
    assert statuses == [204] * (threads_per_name * names)
    assert len(rows.all()) == names
