# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the Grafana dashboards of roles/grafana: their structure, and every query against a live
Prometheus and Loki.

Structure (always, no network): unique dashboard uids and titles, unique panel ids, every datasource
uid one the role provisions (roles/grafana/templates/datasources.yml.j2) with the matching type, every
$variable used defined (and defined before the variables whose queries use it), multi-value variables
used only with regex matchers (=~, !~), unique refIds, a non-empty expression in every query.

Queries: every PromQL and LogQL expression of the panels, template variables and annotations, with the
Grafana variables replaced by values that select everything ($datacenter -> the variable's "All"
value such as .*, $__rate_interval -> 1m, $__range -> the --range window, ...), is run:
  PromQL panel queries      POST <prometheus>/api/v1/query (instant, at now); with --range-queries the
                            panels' range queries (targets without instant: true) and annotations
                            go to /api/v1/query_range over the --range window, as Grafana draws them
  label_values(...) vars    GET  <prometheus>/api/v1/label/<name>/values (match[] = the selector)
  LogQL log queries         GET  <loki>/loki/api/v1/query_range over the --range window
  LogQL metric queries      GET  <loki>/loki/api/v1/query_range (default) or /query (--loki-instant)
and the number of series, values or streams it returned is printed. A query Prometheus or Loki
rejects is an error. With --require-data an empty result is an error too, unless the query is allowed
to be empty on a healthy system: by a panel description that says "Empty on a healthy system: <why>"
("Empty on a healthy system (B): <why>" for some refIds only), by a line of the --allow-empty file,
or because it is an annotation (annotations mark events; none in the window is normal).

Exit status: 0 when everything passed, 1 on any error, 2 on bad usage.

Examples (Python 3.11, standard library only):
  python3 tests/dashboards/check_queries.py                # structure only
  python3 tests/dashboards/check_queries.py --list         # and print every substituted query
  python3 tests/dashboards/check_queries.py --prometheus https://dc1-mon-1:9090 --loki https://dc1-mon-1:3100 --cafile CA \
      --require-data --allow-empty tests/dashboards/allow-empty.txt
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DASHBOARDS = REPO / "roles" / "grafana" / "files" / "dashboards"
DEFAULT_DATASOURCES = REPO / "roles" / "grafana" / "templates" / "datasources.yml.j2"
# Used when the datasource template cannot be read (the checker copied elsewhere).
FALLBACK_DATASOURCES = {"prometheus": "prometheus", "loki": "loki", "alertmanager": "alertmanager"}
# Grafana's built-in annotation source, allowed in the annotation list only.
GRAFANA_BUILTIN_DS = {"-- Grafana --", "grafana"}
QUERY_TYPES = {"prometheus", "loki"}
PANELS_WITHOUT_QUERIES = {"row", "text", "dashlist", "news", "welcome"}

VAR_REF = re.compile(r"\$\{(?P<braced>[A-Za-z_]\w*)(?P<fmt>[.:][^}]*)?\}|\[\[(?P<old>[A-Za-z_]\w*)(?::[^\]]*)?\]\]"
                     r"|\$(?P<plain>[A-Za-z_]\w*)")
EXACT_MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(!=|=)(?![=~])\s*("(?:[^"\\]|\\.)*"|`[^`]*`)')
EMPTY_MARKER = re.compile(r"Empty on a healthy system\s*(?:\((?P<refs>[A-Za-z](?:\s*,\s*[A-Za-z])*)\))?\s*:\s*(?P<why>\S.*)",
                          re.IGNORECASE)
LABEL_VALUES = re.compile(r"^\s*label_values\s*\((?:(?P<expr>.*),)?\s*(?P<label>[A-Za-z_]\w*)\s*\)\s*$", re.DOTALL)
QUERY_RESULT = re.compile(r"^\s*query_result\s*\((?P<expr>.*)\)\s*$", re.DOTALL)
LABEL_NAMES = re.compile(r"^\s*label_names\s*\(\s*\)\s*$")
METRICS = re.compile(r"^\s*metrics\s*\((?P<regex>.*)\)\s*$", re.DOTALL)
DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                   "offset", "inf", "nan", "atan2", "start", "end"}


class CheckError(Exception):
    """Bad input to the checker itself (usage, unreadable files)."""


@dataclasses.dataclass
class Query:
    """One expression of a dashboard, where it comes from, and what may be empty."""

    dashboard: str          # dashboard uid
    where: str              # panel title, "variable NAME" or "annotation NAME"
    ref: str                # refId ("-" for variables and annotations)
    ds_type: str            # prometheus | loki
    expr: str               # as written in the dashboard
    source: str = "panel"   # panel | variable | annotation
    instant: bool = False   # a target with instant: true (else Grafana draws a range)
    regex: str = ""         # a variable's regex filter (/.../)
    allow_empty: str = ""   # why an empty result is fine, "" when it is not
    substituted: str = ""

    @property
    def key(self):
        return (self.dashboard, self.where, self.ref)


@dataclasses.dataclass
class Result:
    query: Query
    count: int | None = None
    error: str = ""
    note: str = ""
    status: str = ""        # ok | empty-allowed | empty | error | skipped


# --------------------------------------------------------------------------------------------
# Loading


def load_dashboards(directory):
    """[(path, dashboard dict)] of every *.json in directory, sorted; CheckError when one is not JSON."""
    directory = pathlib.Path(directory)
    files = sorted(directory.glob("*.json"))
    if not files:
        raise CheckError("no dashboard (*.json) in %s" % directory)
    out = []
    for path in files:
        try:
            out.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            raise CheckError("%s: not valid JSON: %s" % (path, exc)) from exc
    return out


def provisioned_datasources(template):
    """{uid: type} of the datasources the role's provisioning template declares."""
    try:
        text = pathlib.Path(template).read_text(encoding="utf-8")
    except OSError:
        return dict(FALLBACK_DATASOURCES)
    out = {}
    for item in re.split(r"^\s*-\s+name:", text, flags=re.M)[1:]:
        uid = re.search(r"^\s*uid:\s*['\"]?([\w-]+)", item, re.M)
        kind = re.search(r"^\s*type:\s*['\"]?([\w-]+)", item, re.M)
        if uid and kind:
            out[uid.group(1)] = kind.group(1)
    return out or dict(FALLBACK_DATASOURCES)


def iter_panels(panels):
    """Every panel, rows' nested panels included, in order."""
    for panel in panels or []:
        yield panel
        yield from iter_panels(panel.get("panels"))


def variable_refs(text):
    """Names of the Grafana variables text refers to ($name, ${name}, ${name:fmt}, [[name]])."""
    if not isinstance(text, str):
        return []
    return [m.group("braced") or m.group("old") or m.group("plain") for m in VAR_REF.finditer(text)]


def _ds_uid(ds):
    if isinstance(ds, dict):
        return ds.get("uid"), ds.get("type")
    if isinstance(ds, str):
        return ds, None
    return None, None


def _var_query_text(var):
    q = var.get("query")
    if isinstance(q, dict):
        return q.get("query") or q.get("expr") or ""
    return q if isinstance(q, str) else ""


def _strings(obj):
    """Every string inside obj (recursively)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


# --------------------------------------------------------------------------------------------
# Structure


BUILTIN_VARS = {"__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s",
                "__range_ms", "__from", "__to", "__auto", "__dashboard", "__user", "__org", "__name", "__timeFilter",
                "__timezone", "__all", "__series", "__field", "__value", "__data", "__cell", "__url_time_range",
                "__org_id"}


def _is_multi(var):
    return bool(var.get("multi") or var.get("includeAll"))


def validate_dashboard(path, dash, datasources):
    """Structure errors of one dashboard, as strings."""
    name = pathlib.Path(path).name
    errors = []

    def err(msg):
        errors.append("%s: %s" % (name, msg))

    uid = dash.get("uid")
    if not isinstance(uid, str) or not re.match(r"^[A-Za-z0-9_-]{1,40}$", uid or ""):
        err("uid must be 1-40 letters, digits, - or _ (got %r)" % (uid,))
    if not dash.get("title"):
        err("has no title")
    if dash.get("id") not in (None,):
        err("id must be null in a provisioned dashboard (got %r)" % dash.get("id"))
    if not isinstance(dash.get("schemaVersion"), int):
        err("has no schemaVersion")

    variables = (dash.get("templating") or {}).get("list") or []
    defined = {}
    for index, var in enumerate(variables):
        vname = var.get("name")
        if not vname or not re.match(r"^[A-Za-z_]\w*$", vname):
            err("template variable %d has an invalid name %r" % (index, vname))
            continue
        if vname in defined:
            err("template variable %s is defined twice" % vname)
        if var.get("type") == "query":
            ds_uid, ds_type = _ds_uid(var.get("datasource"))
            if ds_uid not in datasources:
                err("variable %s: datasource uid %r is not provisioned by the role (%s)"
                    % (vname, ds_uid, ", ".join(sorted(datasources))))
            elif ds_type and ds_type != datasources[ds_uid]:
                err("variable %s: datasource %s has type %s, not %s" % (vname, ds_uid, datasources[ds_uid], ds_type))
            if not _var_query_text(var).strip():
                err("variable %s has an empty query" % vname)
            for ref in variable_refs(_var_query_text(var)):
                if ref in BUILTIN_VARS:
                    continue
                if ref == vname:
                    err("variable %s refers to itself" % vname)
                elif ref not in defined:
                    err("variable %s uses $%s, which is not defined before it" % (vname, ref))
        defined[vname] = var

    def check_refs(where, text):
        for ref in variable_refs(text):
            if ref not in defined and ref not in BUILTIN_VARS:
                err("%s uses $%s, which is not a template variable of the dashboard" % (where, ref))

    def check_matchers(where, expr):
        for match in EXACT_MATCHER.finditer(expr):
            for ref in variable_refs(match.group(3)):
                if ref in defined and _is_multi(defined[ref]):
                    err("%s: %s%s%s: $%s can hold several values (multi or All): use =~ or !~"
                        % (where, match.group(1), match.group(2), match.group(3), ref))

    for var in variables:
        if var.get("type") == "query":
            check_matchers("variable %s" % var.get("name"), _var_query_text(var))

    ids = set()
    for panel in iter_panels(dash.get("panels")):
        ptype = panel.get("type")
        title = panel.get("title") or ""
        where = "panel %r" % title
        pid = panel.get("id")
        if not isinstance(pid, int):
            err("%s has no integer id" % where)
        elif pid in ids:
            err("%s: panel id %d is used twice" % (where, pid))
        ids.add(pid)
        if not isinstance(panel.get("gridPos"), dict):
            err("%s has no gridPos" % where)
        check_refs(where + " (title)", title)
        if panel.get("repeat"):
            check_refs(where + " (repeat)", "$" + panel["repeat"])
        if ptype in PANELS_WITHOUT_QUERIES:
            continue
        ds_uid, ds_type = _ds_uid(panel.get("datasource"))
        if ds_uid not in datasources:
            err("%s: datasource uid %r is not provisioned by the role (%s)" % (where, ds_uid, ", ".join(sorted(datasources))))
            continue
        if ds_type and ds_type != datasources[ds_uid]:
            err("%s: datasource %s has type %s, not %s" % (where, ds_uid, datasources[ds_uid], ds_type))
        targets = panel.get("targets") or []
        if not targets:
            err("%s has no query" % where)
        refs = set()
        for target in targets:
            ref = target.get("refId")
            if not ref:
                err("%s: a query has no refId" % where)
            elif ref in refs:
                err("%s: refId %s is used twice" % (where, ref))
            refs.add(ref)
            t_uid, t_type = _ds_uid(target.get("datasource")) if target.get("datasource") else (ds_uid, ds_type)
            if t_uid not in datasources:
                err("%s %s: datasource uid %r is not provisioned by the role" % (where, ref, t_uid))
                continue
            if t_uid != ds_uid:
                err("%s %s: query datasource %s differs from the panel's %s (mixed panels are not used)"
                    % (where, ref, t_uid, ds_uid))
            if t_type and t_type != datasources[t_uid]:
                err("%s %s: datasource %s has type %s, not %s" % (where, ref, t_uid, datasources[t_uid], t_type))
            if datasources[t_uid] in QUERY_TYPES:
                expr = target.get("expr")
                if not isinstance(expr, str) or not expr.strip():
                    err("%s %s: empty expression" % (where, ref))
                    continue
                check_refs("%s %s" % (where, ref), expr)
                check_matchers("%s %s" % (where, ref), expr)
            for text in _strings({k: v for k, v in target.items() if k not in ("expr", "legendFormat")}):
                check_refs("%s %s" % (where, ref), text)

    for ann in (dash.get("annotations") or {}).get("list") or []:
        a_uid, a_type = _ds_uid(ann.get("datasource"))
        where = "annotation %r" % ann.get("name")
        if ann.get("builtIn") and a_uid in GRAFANA_BUILTIN_DS:
            continue
        if a_uid not in datasources:
            err("%s: datasource uid %r is not provisioned by the role" % (where, a_uid))
            continue
        if a_type and a_type != datasources[a_uid]:
            err("%s: datasource %s has type %s, not %s" % (where, a_uid, datasources[a_uid], a_type))
        expr = ann.get("expr") or (ann.get("target") or {}).get("expr") or ""
        if datasources[a_uid] in QUERY_TYPES and not expr.strip():
            err("%s: empty expression" % where)
        check_refs(where, expr)
        check_matchers(where, expr)
    return errors


def validate(dashboards, datasources):
    """Structure errors of all dashboards, including uids and titles shared between them."""
    errors = []
    seen_uid, seen_title = {}, {}
    for path, dash in dashboards:
        errors.extend(validate_dashboard(path, dash, datasources))
        name = pathlib.Path(path).name
        uid, title = dash.get("uid"), dash.get("title")
        if uid in seen_uid:
            errors.append("%s: uid %s is also used by %s" % (name, uid, seen_uid[uid]))
        if title in seen_title:
            errors.append("%s: title %r is also used by %s" % (name, title, seen_title[title]))
        seen_uid.setdefault(uid, name)
        seen_title.setdefault(title, name)
    return errors


# --------------------------------------------------------------------------------------------
# Extraction and substitution


def _allowed_empty_refs(panel):
    """{refId or '*': reason} from the panel description's "Empty on a healthy system" marker."""
    match = EMPTY_MARKER.search(panel.get("description") or "")
    if not match:
        return {}
    why = match.group("why").strip()
    refs = match.group("refs")
    if not refs:
        return {"*": why}
    return {r.strip().upper(): why for r in refs.split(",")}


def extract_queries(dash, datasources):
    """Every PromQL and LogQL expression of the dashboard as Query objects."""
    uid = dash.get("uid") or "?"
    out = []
    for var in (dash.get("templating") or {}).get("list") or []:
        if var.get("type") != "query":
            continue
        ds_uid = _ds_uid(var.get("datasource"))[0]
        kind = datasources.get(ds_uid)
        if kind in QUERY_TYPES:
            out.append(Query(uid, "variable %s" % var.get("name"), "-", kind, _var_query_text(var),
                             source="variable", regex=var.get("regex") or ""))
    for panel in iter_panels(dash.get("panels")):
        if panel.get("type") in PANELS_WITHOUT_QUERIES:
            continue
        p_uid = _ds_uid(panel.get("datasource"))[0]
        allowed = _allowed_empty_refs(panel)
        for target in panel.get("targets") or []:
            t_uid = _ds_uid(target.get("datasource"))[0] if target.get("datasource") else p_uid
            kind = datasources.get(t_uid)
            if kind not in QUERY_TYPES or not isinstance(target.get("expr"), str):
                continue
            ref = target.get("refId") or "?"
            out.append(Query(uid, panel.get("title") or "panel %s" % panel.get("id"), ref, kind, target["expr"],
                             instant=bool(target.get("instant")),
                             allow_empty=allowed.get(ref.upper()) or allowed.get("*", "")))
    for ann in (dash.get("annotations") or {}).get("list") or []:
        a_uid = _ds_uid(ann.get("datasource"))[0]
        kind = datasources.get(a_uid)
        expr = ann.get("expr") or (ann.get("target") or {}).get("expr")
        if kind in QUERY_TYPES and expr:
            out.append(Query(uid, "annotation %s" % ann.get("name"), "-", kind, expr, source="annotation", instant=False,
                             allow_empty="annotation: it marks events, and no event in the window is normal"))
    return out


def parse_duration(text):
    match = DURATION.match(text or "")
    if not match:
        raise CheckError("%r is not a duration like 30s, 5m or 1h" % text)
    return int(match.group(1)) * DURATION_SECONDS[match.group(2)]


def builtin_values(window="1h", interval="1m"):
    """Values of Grafana's built-in variables for a dashboard showing the last `window`."""
    window_s = parse_duration(window)
    interval_s = parse_duration(interval)
    return {
        "__interval": interval, "__interval_ms": str(int(interval_s * 1000)),
        "__rate_interval": interval, "__rate_interval_ms": str(int(interval_s * 1000)),
        "__auto": interval,
        "__range": window, "__range_s": str(int(window_s)), "__range_ms": str(int(window_s * 1000)),
    }


def variable_values(dash):
    """{name: value} selecting everything: the All value of multi/All variables, the default of the others."""
    out = {}
    for var in (dash.get("templating") or {}).get("list") or []:
        name = var.get("name")
        kind = var.get("type")
        current = (var.get("current") or {}).get("value")
        if isinstance(current, list):
            current = current[0] if len(current) == 1 else None
        if kind in ("textbox", "constant"):
            value = var.get("query") if isinstance(var.get("query"), str) else (current or "")
        elif kind == "interval":
            options = [o.strip() for o in (var.get("query") or "").split(",") if o.strip()]
            value = current if current and not str(current).startswith("$__") else (options[0] if options else "1m")
        elif var.get("includeAll"):
            value = var.get("allValue") or ".*"
        elif current and current != "$__all":
            value = current
        else:
            value = ".*"
        out[name] = "" if value is None else str(value)
    return out


def substitute(expr, values):
    """expr with every $var, ${var}, ${var:format} and [[var]] replaced; unknown names are left alone."""
    def repl(match):
        name = match.group("braced") or match.group("old") or match.group("plain")
        return values.get(name, match.group(0))
    return VAR_REF.sub(repl, expr)


def is_log_query(expr):
    """LogQL: a log query starts with its stream selector; anything else is a metric query."""
    return expr.lstrip().startswith("{")


def promql_metric_names(expr):
    """Metric names an (already substituted) PromQL expression selects; for diagnostics only."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    names = set()
    text = re.sub(r"\{[^{}]*\}", "{}", text)
    text = re.sub(r"\[[^\[\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    for token in re.finditer(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?|([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = token.group(1), token.group(2)
        if name and not call and name.lower() not in PROMQL_KEYWORDS:
            names.add(name)
    return sorted(names)


def js_regex(text):
    """Compile Grafana's variable regex (/pattern/flags or a bare pattern); None when empty."""
    if not text:
        return None
    match = re.match(r"^/(.*)/([gimsuy]*)$", text, re.DOTALL)
    pattern, flags = (match.group(1), match.group(2)) if match else (text, "")
    return re.compile(pattern, re.IGNORECASE if "i" in flags else 0)


# --------------------------------------------------------------------------------------------
# Allow-empty list


def read_allow_empty(path):
    """{(dashboard uid, where, ref): reason} from lines "uid | where | ref  # reason"; ref * = any."""
    out = {}
    for number, line in enumerate(pathlib.Path(path).read_text(encoding="utf-8").splitlines(), 1):
        body, dummy, reason = line.partition("#")
        if not body.strip():
            continue
        parts = [p.strip() for p in body.split("|")]
        if len(parts) != 3 or not all(parts):
            raise CheckError("%s:%d: expected 'dashboard uid | panel title | refId  # reason'" % (path, number))
        if not reason.strip():
            raise CheckError("%s:%d: say why the query may be empty (after #)" % (path, number))
        out[tuple(parts)] = reason.strip()
    return out


def apply_allow_empty(queries, allowed):
    """Mark the queries the allow-empty entries name; return the entries that matched none."""
    used = set()
    for q in queries:
        for key in ((q.dashboard, q.where, q.ref), (q.dashboard, q.where, "*")):
            if key in allowed:
                q.allow_empty = q.allow_empty or allowed[key]
                used.add(key)
    return [k for k in allowed if k not in used]


# --------------------------------------------------------------------------------------------
# Running


class Http:
    """Tiny JSON-over-HTTP client (stdlib only)."""

    def __init__(self, timeout=30.0, cafile=None):
        self.timeout = timeout
        # https URLs (Loki with loki_tls) are verified against this CA, else the system's.
        self.context = ssl.create_default_context(cafile=cafile)

    def get(self, url, params=None, data=None, headers=None):
        query = urllib.parse.urlencode(params or [], doseq=True)
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(url + ("?" + query if query else ""), data=body, headers=headers or {})
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            try:
                payload = json.loads(text)
            except ValueError:
                payload = {"status": "error", "error": text.strip() or str(exc)}
            payload.setdefault("status", "error")
            payload.setdefault("error", str(exc))
            return payload


class Runner:
    """Runs queries against Prometheus and Loki and turns the answers into Results."""

    def __init__(self, prometheus=None, loki=None, window="1h", loki_instant=False, range_queries=False, http=None,
                 now=None):
        self.prometheus = prometheus.rstrip("/") if prometheus else None
        self.loki = loki.rstrip("/") if loki else None
        self.window_s = parse_duration(window)
        self.loki_instant = loki_instant
        self.range_queries = range_queries
        self.http = http or Http()
        self.now = now if now is not None else time.time()
        self._metric_names = None

    def run(self, q):
        expr = q.substituted or q.expr
        if q.ds_type == "prometheus":
            if not self.prometheus:
                return Result(q, status="skipped", note="no --prometheus")
            return self._prometheus(q, expr)
        if not self.loki:
            return Result(q, status="skipped", note="no --loki")
        return self._loki(q, expr)

    # Prometheus
    def _prometheus(self, q, expr):
        if q.source == "variable":
            return self._prometheus_variable(q, expr)
        if self.range_queries and not q.instant:
            answer = self.http.get(self.prometheus + "/api/v1/query_range", data={
                "query": expr, "start": "%.3f" % (self.now - self.window_s), "end": "%.3f" % self.now,
                "step": str(max(int(self.window_s // 240), 15))})
        else:
            answer = self.http.get(self.prometheus + "/api/v1/query", data={"query": expr, "time": "%.3f" % self.now})
        if answer.get("status") != "success":
            return Result(q, status="error", error="%s: %s" % (answer.get("errorType", "error"), answer.get("error")))
        data = answer.get("data") or {}
        result = data.get("result")
        count = len(result) if data.get("resultType") in ("vector", "matrix") else (0 if result is None else 1)
        res = Result(q, count=count)
        if count == 0:
            missing = [n for n in promql_metric_names(expr) if n not in self.metric_names()]
            if missing:
                res.note = "no series of: " + ", ".join(missing)
        return res

    def metric_names(self):
        if self._metric_names is None:
            answer = self.http.get(self.prometheus + "/api/v1/label/__name__/values")
            self._metric_names = set(answer.get("data") or []) if answer.get("status") == "success" else set()
        return self._metric_names

    def _prometheus_variable(self, q, expr):
        start, end = "%.3f" % (self.now - self.window_s), "%.3f" % self.now
        match = LABEL_VALUES.match(expr)
        if match:
            params = [("start", start), ("end", end)]
            if match.group("expr") and match.group("expr").strip():
                params.append(("match[]", match.group("expr").strip()))
            answer = self.http.get("%s/api/v1/label/%s/values" % (self.prometheus, match.group("label")), params=params)
        elif LABEL_NAMES.match(expr):
            answer = self.http.get(self.prometheus + "/api/v1/labels", params=[("start", start), ("end", end)])
        elif METRICS.match(expr):
            answer = self.http.get(self.prometheus + "/api/v1/label/__name__/values")
            if answer.get("status") == "success":
                pattern = re.compile(METRICS.match(expr).group("regex").strip())
                answer["data"] = [n for n in answer.get("data") or [] if pattern.search(n)]
        elif QUERY_RESULT.match(expr):
            answer = self.http.get(self.prometheus + "/api/v1/query",
                                   data={"query": QUERY_RESULT.match(expr).group("expr"), "time": end})
            if answer.get("status") == "success":
                answer["data"] = (answer.get("data") or {}).get("result") or []
        else:
            return Result(q, status="error", error="unsupported variable query (use label_values, label_names, "
                                                   "metrics or query_result)")
        if answer.get("status") != "success":
            return Result(q, status="error", error="%s: %s" % (answer.get("errorType", "error"), answer.get("error")))
        values = answer.get("data") or []
        regex = js_regex(q.regex)
        if regex is not None:
            values = [v for v in values if isinstance(v, str) and regex.search(v)]
        note = "values: " + ", ".join(map(str, values[:6])) + (", ..." if len(values) > 6 else "") if values else ""
        return Result(q, count=len(values), note=note)

    # Loki
    def _loki(self, q, expr):
        end_ns = int(self.now * 1e9)
        start_ns = int((self.now - self.window_s) * 1e9)
        log_query = is_log_query(expr)
        if not log_query and self.loki_instant:
            answer = self.http.get(self.loki + "/loki/api/v1/query", params={"query": expr, "time": str(end_ns)})
        else:
            params = {"query": expr, "start": str(start_ns), "end": str(end_ns)}
            if log_query:
                params.update(limit="1000", direction="backward")
            else:
                params["step"] = str(max(int(self.window_s // 60), 15))
            # Loki 3 splits streams by structured metadata unless asked to keep it apart from the labels.
            answer = self.http.get(self.loki + "/loki/api/v1/query_range", params=params,
                                   headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"})
        if answer.get("status") != "success":
            return Result(q, status="error", error=str(answer.get("error") or answer.get("message") or answer))
        data = answer.get("data") or {}
        result = data.get("result") or []
        res = Result(q, count=len(result))
        if data.get("resultType") == "streams" and result:
            lines = sum(len(s.get("values") or []) for s in result)
            res.note = "%d lines" % lines
        return res


def classify(res):
    if res.status in ("error", "skipped"):
        return res
    if res.count:
        res.status = "ok"
    elif res.query.allow_empty:
        res.status = "empty-allowed"
        res.note = (res.note + "; " if res.note else "") + "allowed: " + res.query.allow_empty
    else:
        res.status = "empty"
    return res


# --------------------------------------------------------------------------------------------
# Output


def _cut(text, width):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def print_table(results, require_data, verbose=False, out=None):
    out = out or sys.stdout
    rows = [("DASHBOARD", "PANEL / VARIABLE / ANNOTATION", "REF", "DS", "RESULT", "NOTE")]
    for res in results:
        q = res.query
        if res.status == "error":
            shown = "ERROR"
            note = res.error
        elif res.status == "skipped":
            shown, note = "skipped", res.note
        else:
            shown = str(res.count) if res.count else ("empty" if res.status == "empty-allowed" or not require_data
                                                      else "EMPTY")
            note = res.note
        rows.append((q.dashboard, _cut(q.where, 44), q.ref, "prom" if q.ds_type == "prometheus" else "loki",
                     shown, _cut(note, 90) if not verbose else note))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:5])) + "  " + row[5], file=out)
    if verbose:
        print(file=out)
        for res in results:
            q = res.query
            print("%s | %s | %s:\n    %s" % (q.dashboard, q.where, q.ref, q.substituted or q.expr), file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--dashboards", default=str(DEFAULT_DASHBOARDS), help="directory of the dashboard JSON files")
    parser.add_argument("--datasources-template", default=str(DEFAULT_DATASOURCES),
                        help="the role's datasource provisioning template (uids and types)")
    parser.add_argument("--prometheus", metavar="URL", help="Prometheus base URL, e.g. https://dc1-mon-1:9090")
    parser.add_argument("--loki", metavar="URL", help="Loki base URL, e.g. http://dc1-mon-1:3100")
    parser.add_argument("--range", default="1h", help="time window of the dashboard: $__range, Loki queries (1h)")
    parser.add_argument("--interval", default="1m", help="value of $__interval and $__rate_interval (1m)")
    parser.add_argument("--range-queries", action="store_true",
                        help="run the panels' range queries and the annotations over the --range window "
                             "(/api/v1/query_range) instead of instant queries at now")
    parser.add_argument("--loki-instant", action="store_true",
                        help="run LogQL metric queries as instant queries (default: over the --range window)")
    parser.add_argument("--require-data", action="store_true",
                        help="fail on any query without series or streams unless it is allowed to be empty")
    parser.add_argument("--allow-empty", metavar="FILE",
                        help="lines 'dashboard uid | panel title | refId  # reason' that may be empty")
    parser.add_argument("--list", action="store_true", help="print every substituted query (no network)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print the substituted expressions too")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request (30)")
    parser.add_argument("--cafile", metavar="FILE", help="CA of https URLs (the platform CA for Prometheus and Loki); default: the system's")
    args = parser.parse_args(argv)

    try:
        dashboards = load_dashboards(args.dashboards)
        datasources = provisioned_datasources(args.datasources_template)
        allowed = read_allow_empty(args.allow_empty) if args.allow_empty else {}
        values_builtin = builtin_values(args.range, args.interval)
    except CheckError as exc:
        print("ERROR:", exc, file=sys.stderr)
        return 2

    errors = validate(dashboards, datasources)
    queries = []
    for dummy, dash in dashboards:
        values = dict(values_builtin)
        values.update(variable_values(dash))
        for q in extract_queries(dash, datasources):
            q.substituted = substitute(q.expr, values)
            queries.append(q)
    stale = apply_allow_empty(queries, allowed)

    for e in errors:
        print("STRUCTURE ERROR:", e)
    for key in stale:
        print("WARNING: allow-empty entry %s matches no query" % " | ".join(key))
    panels = sum(1 for dummy, d in dashboards for p in iter_panels(d.get("panels")) if p.get("type") != "row")
    print("%d dashboards, %d panels, %d queries (%d PromQL, %d LogQL); %d structure errors"
          % (len(dashboards), panels, len(queries), sum(q.ds_type == "prometheus" for q in queries),
             sum(q.ds_type == "loki" for q in queries), len(errors)))

    if args.list:
        for q in queries:
            print("%s | %s | %s [%s]\n    %s" % (q.dashboard, q.where, q.ref, q.ds_type, q.substituted))
    if not args.prometheus and not args.loki:
        return 1 if errors else 0

    runner = Runner(args.prometheus, args.loki, window=args.range, loki_instant=args.loki_instant,
                    range_queries=args.range_queries,
                    http=Http(args.timeout, args.cafile))
    results = [classify(runner.run(q)) for q in queries]
    print()
    print_table(results, args.require_data, verbose=args.verbose)
    counts = {}
    for res in results:
        counts[res.status] = counts.get(res.status, 0) + 1
    failed = counts.get("error", 0) + (counts.get("empty", 0) if args.require_data else 0)
    print()
    print("queries: %s" % ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items())))
    if counts.get("empty") and not args.require_data:
        print("(%d empty results; --require-data makes them errors)" % counts["empty"])
    return 1 if errors or failed else 0


if __name__ == "__main__":
    sys.exit(main())
