# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of tests/dashboards/check_queries.py: extraction, substitution, structure checks, and how
answers of Prometheus and Loki are counted (with a fake HTTP client), plus the role's real dashboards."""

import copy
import importlib.util
import json
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[4]
SPEC = importlib.util.spec_from_file_location("check_queries", REPO / "tests" / "dashboards" / "check_queries.py")
cq = importlib.util.module_from_spec(SPEC)
sys.modules[SPEC.name] = cq  # dataclasses look their module up there
SPEC.loader.exec_module(cq)

DS = {"prometheus": "prometheus", "loki": "loki", "alertmanager": "alertmanager"}
PROM = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}


def var(name, query, all_value=".*", multi=True, include_all=True, **extra):
    v = {"name": name, "type": "query", "datasource": PROM, "multi": multi, "includeAll": include_all,
         "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"}}
    if all_value is not None:
        v["allValue"] = all_value
    v.update(extra)
    return v


def panel(pid, title, *targets, ds=None, description="", ptype="timeseries"):
    return {"id": pid, "type": ptype, "title": title, "description": description, "datasource": ds or PROM,
            "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0}, "targets": list(targets)}


def target(ref, expr, ds=None, **extra):
    t = {"refId": ref, "datasource": ds or PROM, "expr": expr}
    t.update(extra)
    return t


def good_dashboard():
    errors = panel(3, "Errors", target("A", 'sum(rate({host=~"$instance"} |~ "(?i)$search" [$__interval]))', ds=LOKI),
                   target("B", '{host=~"$instance"} |= "error"', ds=LOKI), ds=LOKI,
                   description="Error lines. Empty on a healthy system (B): nothing logs errors then.")
    return {
        "uid": "test-board", "title": "Test board", "id": None, "schemaVersion": 39,
        "templating": {"list": [
            var("datacenter", 'label_values(up{job="node"}, datacenter)'),
            var("instance", 'label_values(up{job="node", datacenter=~"$datacenter"}, instance)', regex="/^dc/"),
            {"name": "search", "type": "textbox", "query": "", "current": {"value": ""}},
        ]},
        "annotations": {"list": [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "name": "Annotations & Alerts"},
            {"name": "Leader changes", "datasource": PROM,
             "expr": 'changes(patroni_primary{datacenter=~"$datacenter"}[1m]) > 0'},
        ]},
        "panels": [
            panel(1, "CPU on $instance",
                  target("A", 'sum by (instance) (rate(node_cpu_seconds_total{instance=~"$instance"}[$__rate_interval]))'),
                  target("B", 'up{job="node", datacenter=~"${datacenter:regex}"}', instant=True)),
            {"id": 2, "type": "row", "title": "Collapsed", "collapsed": True, "gridPos": {"h": 1, "w": 24, "x": 0, "y": 8},
             "panels": [errors]},
            {"id": 4, "type": "text", "title": "Notes", "gridPos": {"h": 2, "w": 24, "x": 0, "y": 9}},
        ],
    }


# ---------------------------------------------------------------------------------------------- parsing

@pytest.mark.parametrize("text, names", [
    ('up{instance=~"$instance"}', ["instance"]),
    ('x{a=~"${datacenter}", b=~"${instance:regex}", c="[[old]]"}', ["datacenter", "instance", "old"]),
    ('rate(x[$__rate_interval]) and y offset $__range', ["__rate_interval", "__range"]),
    ('x{job=~"^(api|web)$"} |~ "a$" | line_format "{{.host}} {{__line__}}"', []),
    ('${var.field} $a_b1', ["var", "a_b1"]),
])
def test_variable_refs(text, names):
    assert cq.variable_refs(text) == names


def test_substitute_replaces_known_variables_and_keeps_unknown():
    values = {"instance": ".*", "__rate_interval": "1m", "datacenter": "dc1"}
    expr = 'rate(x{instance=~"$instance", dc=~"${datacenter:regex}", o=~"[[instance]]", u="$unknown"}[$__rate_interval])'
    assert cq.substitute(expr, values) == 'rate(x{instance=~".*", dc=~"dc1", o=~".*", u="$unknown"}[1m])'


def test_variable_values_select_everything():
    dash = {"templating": {"list": [
        var("a", "label_values(a)"),
        var("b", "label_values(b)", all_value=".+"),
        var("c", "label_values(c)", all_value=None),
        var("d", "label_values(d)", include_all=False, multi=False, current={"value": "dc1"}),
        var("e", "label_values(e)", include_all=False, multi=False, current={"value": ["x"]}),
        {"name": "s", "type": "textbox", "query": "needle", "current": {"value": "other"}},
        {"name": "k", "type": "constant", "query": "hello"},
        {"name": "i", "type": "interval", "query": "1m,5m", "current": {"value": "5m"}},
        {"name": "j", "type": "interval", "query": "30s,1m", "current": {"value": "$__auto_interval_j"}},
    ]}}
    assert cq.variable_values(dash) == {"a": ".*", "b": ".+", "c": ".*", "d": "dc1", "e": "x", "s": "needle",
                                        "k": "hello", "i": "5m", "j": "30s"}


def test_builtin_values():
    values = cq.builtin_values("2h", "30s")
    assert values["__range"] == "2h" and values["__range_s"] == "7200" and values["__range_ms"] == "7200000"
    assert values["__rate_interval"] == values["__interval"] == "30s" and values["__interval_ms"] == "30000"
    with pytest.raises(cq.CheckError):
        cq.builtin_values("an hour")


def test_is_log_query():
    assert cq.is_log_query(' {job="journal"} |= "x"')
    assert not cq.is_log_query('sum by (host) (rate({job="journal"}[1m]))')
    assert not cq.is_log_query('count_over_time({job="journal"}[5m])')


@pytest.mark.parametrize("expr, names", [
    ('sum by (instance) (rate(foo_total{job="x", a=~"y"}[5m])) / on (instance) group_left (b) bar offset 5m > 1e3',
     ["bar", "foo_total"]),
    ('histogram_quantile(0.95, sum by (le) (rate(h_bucket{route!~"/health/.*"}[1m])))', ["h_bucket"]),
    ('(a or b * 0) / c and on (instance) (d == 1) unless e', ["a", "b", "c", "d", "e"]),
    ('time() - pg_postmaster_start_time_seconds', ["pg_postmaster_start_time_seconds"]),
    ('min_over_time((x > 0)[1h:1m])', ["x"]),
])
def test_promql_metric_names(expr, names):
    assert cq.promql_metric_names(expr) == names


def test_js_regex():
    assert cq.js_regex("") is None
    rx = cq.js_regex("/^(?!template[01]$).+$/")
    assert [v for v in ["hello", "template0", "template1", "postgres"] if rx.search(v)] == ["hello", "postgres"]
    assert cq.js_regex("/DC/i").search("dc1")
    assert cq.js_regex("dc2").search("dc2")


# ---------------------------------------------------------------------------------------------- extraction

def test_extract_queries_from_panels_rows_variables_and_annotations():
    queries = cq.extract_queries(good_dashboard(), DS)
    keys = [(q.source, q.where, q.ref, q.ds_type) for q in queries]
    assert keys == [
        ("variable", "variable datacenter", "-", "prometheus"),
        ("variable", "variable instance", "-", "prometheus"),
        ("panel", "CPU on $instance", "A", "prometheus"),
        ("panel", "CPU on $instance", "B", "prometheus"),
        ("panel", "Errors", "A", "loki"),
        ("panel", "Errors", "B", "loki"),
        ("annotation", "annotation Leader changes", "-", "prometheus"),
    ]
    by_key = {(q.where, q.ref): q for q in queries}
    assert by_key[("variable instance", "-")].regex == "/^dc/"
    assert by_key[("Errors", "B")].allow_empty == "nothing logs errors then."
    assert by_key[("Errors", "A")].allow_empty == ""
    assert by_key[("annotation Leader changes", "-")].allow_empty.startswith("annotation")
    assert by_key[("CPU on $instance", "A")].allow_empty == ""


def test_empty_marker_without_refs_covers_every_query():
    p = panel(1, "P", target("A", "x"), target("B", "y"), description="Empty on a healthy system: no locks wait.")
    dash = {"uid": "u", "panels": [p]}
    assert [q.allow_empty for q in cq.extract_queries(dash, DS)] == ["no locks wait."] * 2


def test_alertmanager_targets_are_not_queries():
    p = panel(1, "Alerts", {"refId": "A", "datasource": {"type": "alertmanager", "uid": "alertmanager"}},
              ds={"type": "alertmanager", "uid": "alertmanager"}, ptype="alertlist")
    assert cq.extract_queries({"uid": "u", "panels": [p]}, DS) == []


# ---------------------------------------------------------------------------------------------- structure

def errors_of(dash):
    return cq.validate_dashboard("board.json", dash, DS)


def test_good_dashboard_has_no_structure_errors():
    assert errors_of(good_dashboard()) == []


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["panels"][0].update(datasource={"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}),
     "datasource uid 'P1809F7CD0C75ACF3' is not provisioned"),
    (lambda d: d["panels"][0].update(datasource={"type": "loki", "uid": "prometheus"}), "has type prometheus, not loki"),
    (lambda d: d["panels"][0]["targets"][0].update(expr='up{instance=~"$host"}'), "uses $host, which is not a template"),
    (lambda d: d["panels"][0]["targets"][0].update(expr='up{instance="$instance"}'), "use =~ or !~"),
    (lambda d: d["panels"][0]["targets"][0].update(expr='up{instance!="$instance"}'), "use =~ or !~"),
    (lambda d: d["panels"][0]["targets"][1].update(refId="A"), "refId A is used twice"),
    (lambda d: d["panels"][0]["targets"][1].update(expr="  "), "B: empty expression"),
    (lambda d: d["panels"][0]["targets"][1].update(datasource=LOKI), "differs from the panel's prometheus"),
    (lambda d: d["panels"][1]["panels"][0].update(id=1), "panel id 1 is used twice"),
    (lambda d: d["panels"][0].pop("gridPos"), "has no gridPos"),
    (lambda d: d["panels"][0].update(title="CPU on $nothing"), "(title) uses $nothing"),
    (lambda d: d["panels"][0].update(targets=[]), "has no query"),
    (lambda d: d.update(id=12), "id must be null"),
    (lambda d: d.update(uid="has spaces"), "uid must be"),
    (lambda d: d["templating"]["list"].reverse(), "uses $datacenter, which is not defined before it"),
    (lambda d: d["templating"]["list"].append(copy.deepcopy(d["templating"]["list"][0])), "defined twice"),
    (lambda d: d["templating"]["list"][0]["query"].update(query=""), "variable datacenter has an empty query"),
    (lambda d: d["templating"]["list"][0].update(datasource={"uid": "influx"}), "variable datacenter: datasource uid"),
    (lambda d: d["annotations"]["list"][1].update(expr='changes(x{dc="$datacenter"}[1m])'), "use =~ or !~"),
    (lambda d: d["annotations"]["list"][1].update(datasource={"uid": "other"}), "annotation 'Leader changes'"),
])
def test_structure_errors(mutate, message):
    dash = good_dashboard()
    mutate(dash)
    errors = errors_of(dash)
    assert any(message in e for e in errors), errors


def test_single_value_variable_may_be_used_with_equality():
    dash = good_dashboard()
    dash["templating"]["list"].append(var("one", "label_values(x)", include_all=False, multi=False))
    dash["panels"][0]["targets"][0]["expr"] = 'up{instance="$one"}'
    assert errors_of(dash) == []


def test_uids_and_titles_unique_across_dashboards():
    a, b = good_dashboard(), good_dashboard()
    errors = cq.validate([("a.json", a), ("b.json", b)], DS)
    assert any("uid test-board is also used by a.json" in e for e in errors)
    assert any("title 'Test board' is also used by a.json" in e for e in errors)


def test_provisioned_datasources_read_from_the_role_template():
    assert cq.provisioned_datasources(cq.DEFAULT_DATASOURCES) == DS


def test_provisioned_datasources_fall_back_when_the_template_is_missing(tmp_path):
    assert cq.provisioned_datasources(tmp_path / "missing.yml") == DS


# ---------------------------------------------------------------------------------------------- allow-empty list

def test_read_and_apply_allow_empty(tmp_path):
    f = tmp_path / "allow.txt"
    f.write_text("# comment\n\ntest-board | Errors | A  # quiet lab: no errors\ntest-board | Gone | *  # removed panel\n")
    allowed = cq.read_allow_empty(f)
    assert allowed == {("test-board", "Errors", "A"): "quiet lab: no errors", ("test-board", "Gone", "*"): "removed panel"}
    queries = cq.extract_queries(good_dashboard(), DS)
    stale = cq.apply_allow_empty(queries, allowed)
    assert stale == [("test-board", "Gone", "*")]
    assert {(q.where, q.ref): q.allow_empty for q in queries}[("Errors", "A")] == "quiet lab: no errors"


@pytest.mark.parametrize("line", ["test-board | Errors | A\n", "test-board | Errors  # reason\n"])
def test_allow_empty_lines_need_three_fields_and_a_reason(tmp_path, line):
    f = tmp_path / "allow.txt"
    f.write_text(line)
    with pytest.raises(cq.CheckError):
        cq.read_allow_empty(f)


# ---------------------------------------------------------------------------------------------- running (fake HTTP)

class FakeHttp:
    """Answers by URL suffix; records the calls."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def get(self, url, params=None, data=None, headers=None):
        self.calls.append((url, params, data))
        self.headers = headers
        for suffix, answer in self.answers.items():
            if url.endswith(suffix):
                return answer(params, data) if callable(answer) else answer
        raise AssertionError("unexpected URL " + url)


def vector(n):
    return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}] * n}}


def q(expr, ds="prometheus", source="panel", **kw):
    return cq.Query("d", "p", "A", ds, expr, source=source, substituted=expr, **kw)


def test_prometheus_instant_query_counts_series():
    http = FakeHttp({"/api/v1/query": vector(3)})
    runner = cq.Runner("http://prom:9090/", window="1h", http=http, now=1000.0)
    res = runner.run(q("up"))
    assert res.count == 3 and res.status == ""
    url, params, data = http.calls[0]
    assert url == "http://prom:9090/api/v1/query" and data == {"query": "up", "time": "1000.000"}


def test_prometheus_error_and_missing_metric_note():
    http = FakeHttp({"/api/v1/query": lambda p, d: vector(0) if "rate" in d["query"] else
                     {"status": "error", "errorType": "bad_data", "error": "parse error"},
                     "/api/v1/label/__name__/values": {"status": "success", "data": ["up"]}})
    runner = cq.Runner("http://prom:9090", http=http, now=1000.0)
    bad = runner.run(q("sum(("))
    assert bad.status == "error" and "bad_data: parse error" in bad.error
    empty = runner.run(q('rate(nope_total{job="x"}[1m]) + on () up'))
    assert empty.count == 0 and empty.note == "no series of: nope_total"
    assert cq.classify(empty).status == "empty"


def test_label_values_variable_uses_the_labels_api_and_the_regex():
    http = FakeHttp({"/api/v1/label/datname/values": {"status": "success",
                                                      "data": ["hello", "postgres", "template0", "template1"]}})
    runner = cq.Runner("http://prom:9090", window="1h", http=http, now=7200.0)
    res = runner.run(q('label_values(pg_stat_database_numbackends{job="postgres", instance=~".*"}, datname)',
                       source="variable", regex="/^(?!template[01]$).+$/"))
    assert res.count == 2 and res.note == "values: hello, postgres"
    params = http.calls[0][1]
    assert ("match[]", 'pg_stat_database_numbackends{job="postgres", instance=~".*"}') in params
    assert ("start", "3600.000") in params and ("end", "7200.000") in params


def test_label_values_without_selector_and_unsupported_variable_query():
    http = FakeHttp({"/api/v1/label/job/values": {"status": "success", "data": ["node"]}})
    runner = cq.Runner("http://prom:9090", http=http, now=10.0)
    assert runner.run(q("label_values(job)", source="variable")).count == 1
    assert not any(p[0] == "match[]" for p in http.calls[0][1])
    assert runner.run(q("classify_me(x)", source="variable")).status == "error"


def test_loki_log_query_counts_streams_over_the_window():
    answer = {"status": "success", "data": {"resultType": "streams", "result": [
        {"stream": {"host": "a"}, "values": [["1", "x"], ["2", "y"]]}, {"stream": {"host": "b"}, "values": [["3", "z"]]}]}}
    http = FakeHttp({"/loki/api/v1/query_range": answer})
    runner = cq.Runner(loki="http://loki:3100", window="1h", http=http, now=3600.0)
    res = runner.run(q('{host=~".+"}', ds="loki"))
    assert res.count == 2 and res.note == "3 lines"
    params = http.calls[0][1]
    assert params["start"] == "0" and params["end"] == str(3600 * 10**9) and params["direction"] == "backward"
    assert http.headers == {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


def test_loki_metric_query_range_or_instant():
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": []}]}}
    http = FakeHttp({"/loki/api/v1/query_range": matrix, "/loki/api/v1/query": matrix})
    expr = 'sum(rate({host=~".+"}[1m]))'
    cq.Runner(loki="http://loki:3100", http=http, now=3600.0).run(q(expr, ds="loki"))
    cq.Runner(loki="http://loki:3100", loki_instant=True, http=http, now=3600.0).run(q(expr, ds="loki"))
    assert http.calls[0][0].endswith("/query_range") and http.calls[0][1]["step"] == "60"
    assert http.calls[1][0].endswith("/loki/api/v1/query")


def test_loki_error_and_skipped_datasources():
    http = FakeHttp({"/loki/api/v1/query_range": {"status": "error", "error": "parse error at line 1"}})
    res = cq.Runner(loki="http://loki:3100", http=http).run(q("{}", ds="loki"))
    assert res.status == "error" and "parse error" in res.error
    assert cq.Runner(http=http).run(q("up")).status == "skipped"
    assert cq.Runner(http=http).run(q("{a=\"b\"}", ds="loki")).status == "skipped"


def test_classify_allowed_and_required():
    res = cq.classify(cq.Result(q("x", allow_empty="no locks wait"), count=0))
    assert res.status == "empty-allowed" and "allowed: no locks wait" in res.note
    assert cq.classify(cq.Result(q("x"), count=2)).status == "ok"


# ---------------------------------------------------------------------------------------------- the role's dashboards

def test_the_roles_dashboards_are_valid_and_fully_substituted():
    dashboards = cq.load_dashboards(cq.DEFAULT_DASHBOARDS)
    datasources = cq.provisioned_datasources(cq.DEFAULT_DATASOURCES)
    assert cq.validate(dashboards, datasources) == []
    uids = {d["uid"] for dummy, d in dashboards}
    assert {"hello-cluster-overview", "hello-postgresql", "hello-app", "hello-logs"} <= uids
    for dummy, dash in dashboards:
        values = dict(cq.builtin_values())
        values.update(cq.variable_values(dash))
        queries = cq.extract_queries(dash, datasources)
        assert queries, dash["uid"]
        for query in queries:
            assert cq.variable_refs(cq.substitute(query.expr, values)) == [], (dash["uid"], query.where)
        # Loki needs one matcher that cannot match "": the logs dashboard's All values are .+
        if any(qq.ds_type == "loki" for qq in queries):
            assert all(v.get("allValue") == ".+" for v in dash["templating"]["list"] if v.get("includeAll"))


def test_main_structure_only_on_the_roles_dashboards(capsys):
    assert cq.main([]) == 0
    assert "0 structure errors" in capsys.readouterr().out


def test_main_fails_on_a_broken_dashboard(tmp_path, capsys):
    dash = good_dashboard()
    dash["panels"][0]["datasource"] = {"type": "prometheus", "uid": "nope"}
    (tmp_path / "a.json").write_text(json.dumps(dash))
    assert cq.main(["--dashboards", str(tmp_path)]) == 1
    assert "STRUCTURE ERROR" in capsys.readouterr().out
    (tmp_path / "b.json").write_text("{not json")
    assert cq.main(["--dashboards", str(tmp_path)]) == 2


def test_main_require_data_with_fake_backends(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.json").write_text(json.dumps(good_dashboard()))

    def fake_get(self, url, params=None, data=None, headers=None):
        if "/label/" in url:
            return {"status": "success", "data": ["dc1"]}
        if url.endswith("/api/v1/query"):
            return vector(0 if "node_cpu" in data["query"] else 1)
        return {"status": "success", "data": {"resultType": "streams", "result": []}}

    monkeypatch.setattr(cq.Http, "get", fake_get)
    args = ["--dashboards", str(tmp_path), "--prometheus", "http://p", "--loki", "http://l"]
    assert cq.main(args) == 0                      # empty results are only reported
    assert cq.main(args + ["--require-data"]) == 1  # CPU (A) and Errors (A) are empty and not allowed
    out = capsys.readouterr().out
    assert "EMPTY" in out and "allowed: nothing logs errors then." in out
    allow = tmp_path / "allow.txt"
    allow.write_text("test-board | CPU on $instance | A  # no CPU metrics here\ntest-board | Errors | *  # quiet\n")
    assert cq.main(args + ["--require-data", "--allow-empty", str(allow)]) == 0


def test_range_queries_option_runs_range_targets_and_annotations_over_the_window():
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"]]}]}}
    http = FakeHttp({"/api/v1/query_range": matrix, "/api/v1/query": vector(1)})
    runner = cq.Runner("http://prom:9090", window="1h", range_queries=True, http=http, now=7200.0)
    assert runner.run(q("rate(x[1m])")).count == 1                                   # a range target
    assert runner.run(q("x", instant=True)).count == 1                               # instant: true stays instant
    assert runner.run(q("changes(x[1m]) > 0", source="annotation")).count == 1      # annotations: range
    assert [c[0].rsplit("/", 1)[1] for c in http.calls] == ["query_range", "query", "query_range"]
    assert http.calls[0][2] == {"query": "rate(x[1m])", "start": "3600.000", "end": "7200.000", "step": "15"}
    plain = cq.Runner("http://prom:9090", http=http, now=7200.0)
    plain.run(q("rate(x[1m])"))
    assert http.calls[-1][0].endswith("/api/v1/query")                              # default: instant at now


def test_extracted_instant_flags():
    queries = {(x.where, x.ref): x for x in cq.extract_queries(good_dashboard(), DS)}
    assert queries[("CPU on $instance", "B")].instant and not queries[("CPU on $instance", "A")].instant
    assert not queries[("annotation Leader changes", "-")].instant
