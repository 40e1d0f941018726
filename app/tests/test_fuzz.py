# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based fuzzing against the OpenAPI document (schemathesis, on hypothesis): for generated
valid and invalid requests of every operation, no 5xx, and every response conforms to the document
(status code, content type, headers, JSON body schema, 405 with Allow for undocumented methods).
The database is the real PostgreSQL; after each PUT the stored row is checked too: written exactly
when the answer is 204, unchanged otherwise."""

import datetime
import importlib.resources
import json
from urllib.parse import quote

import jsonschema
import schemathesis
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from hello_service.birthdays import USERNAME_RE

# Loaded from the package data (the same bytes GET /openapi.yaml serves; test_api checks that).
schema = schemathesis.openapi.from_dict(yaml.safe_load(importlib.resources.files("hello_service").joinpath("openapi.yaml").read_text()))


def _valid_past_date(value, today):
    try:
        return isinstance(value, str) and len(value) == 10 and datetime.date.fromisoformat(value) < today
    except ValueError:
        return False


def _sent_json(response):
    content_type = response.request.headers.get("Content-Type") or ""
    return content_type.split(";")[0].strip().lower() == "application/json"


@schema.parametrize()
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_openapi(case, app, rows, clock):  # pylint: disable=redefined-outer-name
    username = (case.path_parameters or {}).get("username")
    is_put = case.method.upper() == "PUT"
    key = username if isinstance(username, str) and USERNAME_RE.fullmatch(username) else None
    before = rows.all()
    # "Before today" cannot be said in JSON Schema, so a schema-valid future date is rightly a 400:
    # the built-in positive-data check is replaced by the exact assertions below.
    response = case.call_and_validate(app=app, excluded_checks=[positive_data_acceptance])
    event(f"{case.method.upper()} {response.status_code}")
    assert response.status_code < 500, response.text
    if is_put and response.status_code == 204:
        assert key is not None
        assert rows.get(key) == datetime.date.fromisoformat(case.body["dateOfBirth"])
    else:
        assert rows.all() == before, "a request that was not a 204 PUT changed the table"
    if is_put and key is not None and isinstance(case.body, dict) and set(case.body) == {"dateOfBirth"} \
            and _sent_json(response) and _valid_past_date(case.body["dateOfBirth"], clock()):
        assert response.status_code == 204, response.text


ERROR_SCHEMA = schema.raw_schema["components"]["schemas"]["Error"]
DOCUMENTED = {200, 204, 400, 404, 405, 413, 415}
_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                            lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
                            max_leaves=8)
_bodies = st.one_of(
    st.fixed_dictionaries({"dateOfBirth": st.dates().map(str)}).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"dateOfBirth": st.one_of(st.dates().map(str), st.text(max_size=12), _json_values)}).map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["dateOfBirth", "DateOfBirth", "name", ""]), st.dates().map(str), max_size=3).map(lambda v: json.dumps(v).encode()),
)
_usernames = st.one_of(st.from_regex(r"[A-Za-z]{1,30}", fullmatch=True), st.text(max_size=35), st.text(alphabet="aZ0'; -/%\x00\n\u00e9", max_size=35))
_content_types = st.one_of(
    st.just("application/json"),
    st.sampled_from([None, "application/json; charset=utf-8", "text/plain", "APPLICATION/JSON", "application/x-www-form-urlencoded",
                     "multipart/form-data", "application/json;;"]),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
)


@given(method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "PUT", "PUT"]),
       username=_usernames, body=_bodies, content_type=_content_types,
       request_id=st.one_of(st.none(), st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=140)))
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_request_gets_a_documented_status_and_a_json_error(app, rows, method, username, body, content_type, request_id):
    client = app.test_client()
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    before = rows.all()
    response = client.open("/hello/" + quote(username, safe=""), method=method, data=body, headers=headers)
    event(f"status {response.status_code}")
    assert response.status_code in DOCUMENTED, response.get_data(as_text=True)
    assert response.headers.get("X-Request-ID")
    if response.status_code >= 400:
        if method != "HEAD":
            jsonschema.validate(response.get_json(), ERROR_SCHEMA)
        assert rows.all() == before
    elif response.status_code == 204:
        assert method == "PUT" and USERNAME_RE.fullmatch(username)
        assert rows.get(username) == datetime.date.fromisoformat(json.loads(body)["dateOfBirth"])
    else:
        assert rows.all() == before
