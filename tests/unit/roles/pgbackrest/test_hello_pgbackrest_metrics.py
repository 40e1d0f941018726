# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of roles/pgbackrest/files/hello-pgbackrest-metrics.

The fixtures are real `pgbackrest --output=json info` outputs of pgBackRest 2.45 (Debian 12), taken
from a throw-away PostgreSQL 15 with two posix repositories: full, diff and incr backups to repo1,
full and diff to repo2 (the production schedule's shape), an empty stanza, a missing stanza, an
unreadable repo2 and a backup in progress. The script runs as a program; where pgbackrest itself
is not installed, a stand-in program prints a fixture and records its arguments. With pgbackrest
installed (on PATH, or HELLO_PGBACKREST=/path/to/pgbackrest) one more test runs the real one.
"""

import importlib.machinery
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

REPO = pathlib.Path(__file__).resolve().parents[4]
SCRIPT = REPO / "roles" / "pgbackrest" / "files" / "hello-pgbackrest-metrics"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

_loader = importlib.machinery.SourceFileLoader("hello_pgbackrest_metrics", str(SCRIPT))
_spec = importlib.util.spec_from_loader(_loader.name, _loader)
hpm = importlib.util.module_from_spec(_spec)
_write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the role's files/
_loader.exec_module(hpm)
sys.dont_write_bytecode = _write_bytecode

TS = "pgbackrest_backup_last_completion_timestamp_seconds"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def metrics(text):
    """{metric name: {frozenset(labels): value}} through prometheus_client's parser of the text format."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def L(**labels):
    return frozenset(labels.items())


@pytest.fixture()
def stand_in(tmp_path):
    """stand_in(stdout=..., stderr=..., rc=0, sleep=0) -> path of a program that behaves like that and
    appends its arguments (one JSON list per line) to tmp_path/argv.log."""
    def make(stdout="", stderr="", rc=0, sleep=0.0):
        data = tmp_path / "stand-in-output.json"
        data.write_text(stdout)
        prog = tmp_path / "pgbackrest"
        prog.write_text(textwrap.dedent("""\
            #!{python}
            import json, sys, time
            with open({log!r}, "a") as f:
                f.write(json.dumps(sys.argv[1:]) + "\\n")
            time.sleep({sleep})
            sys.stdout.write(open({data!r}).read())
            sys.stderr.write({stderr!r})
            sys.exit({rc})
            """).format(python=sys.executable, log=str(tmp_path / "argv.log"), sleep=sleep, data=str(data),
                        stderr=stderr, rc=rc))
        prog.chmod(0o755)
        return prog
    return make


def run(output, *args):
    return subprocess.run([str(SCRIPT), *map(str, args), str(output)], capture_output=True, text=True, check=False)


def argv_log(tmp_path):
    return [json.loads(line) for line in (tmp_path / "argv.log").read_text().splitlines()]


# --- what is read from pgBackRest's JSON -------------------------------------------------------

def test_two_stanzas_every_repo_and_type():
    samples = hpm.collect(fixture("info-two-stanzas.json"))
    got = {(name, frozenset(labels.items())): value for name, labels, value in samples}
    assert got == {
        ("pgbackrest_stanza_status", L(stanza="empty")): 2,
        ("pgbackrest_backup_running", L(stanza="empty")): 0,
        ("pgbackrest_repo_status", L(stanza="empty", repo="1")): 2,
        ("pgbackrest_repo_status", L(stanza="empty", repo="2")): 2,
        ("pgbackrest_stanza_status", L(stanza="hello")): 0,
        ("pgbackrest_backup_running", L(stanza="hello")): 0,
        ("pgbackrest_repo_status", L(stanza="hello", repo="1")): 0,
        ("pgbackrest_repo_status", L(stanza="hello", repo="2")): 0,
        (TS, L(stanza="hello", repo="1", type="full")): 1796388716,
        (TS, L(stanza="hello", repo="1", type="diff")): 1796388719,
        (TS, L(stanza="hello", repo="1", type="incr")): 1796388721,
        (TS, L(stanza="hello", repo="2", type="full")): 1796388724,
        (TS, L(stanza="hello", repo="2", type="diff")): 1796388726,
    }
    assert len(samples) == len(got)  # no series twice


def test_newest_backup_of_each_type_not_the_last_listed():
    # repo1 holds two full backups and two incr ones; repo2's backups are listed between them.
    got = {frozenset(labels.items()): value for name, labels, value in hpm.collect(fixture("info-hello-two-fulls.json"))
           if name == TS}
    assert got == {
        L(stanza="hello", repo="1", type="full"): 1796388810,
        L(stanza="hello", repo="1", type="diff"): 1796388719,
        L(stanza="hello", repo="1", type="incr"): 1796388918,
        L(stanza="hello", repo="2", type="full"): 1796388724,
        L(stanza="hello", repo="2", type="diff"): 1796388726,
    }


def test_the_order_of_the_list_does_not_matter():
    # pgBackRest lists backups by label; the newest is found by its stop time all the same.
    info = fixture("info-hello-two-fulls.json")
    reordered = json.loads(json.dumps(info))
    reordered[0]["backup"].reverse()
    assert sorted(hpm.collect(reordered), key=repr) == sorted(hpm.collect(info), key=repr)
    assert (TS, {"stanza": "hello", "repo": "1", "type": "full"}, 1796388810) in hpm.collect(reordered)


def test_unreadable_repo_and_running_backup_and_missing_stanza():
    got = {(n, frozenset(lb.items())): v for n, lb, v in hpm.collect(fixture("info-repo2-unreadable.json"))}
    assert got[("pgbackrest_stanza_status", L(stanza="hello"))] == 4
    assert got[("pgbackrest_repo_status", L(stanza="hello", repo="1"))] == 0
    assert got[("pgbackrest_repo_status", L(stanza="hello", repo="2"))] == 99
    assert not any(n == TS and ("repo", "2") in lb for n, lb in got)
    running = {(n, frozenset(lb.items())): v for n, lb, v in hpm.collect(fixture("info-backup-running.json"))}
    assert running[("pgbackrest_backup_running", L(stanza="hello"))] == 1
    missing = {(n, frozenset(lb.items())): v for n, lb, v in hpm.collect(fixture("info-missing-stanza.json"))}
    assert missing == {
        ("pgbackrest_stanza_status", L(stanza="nope")): 1,
        ("pgbackrest_backup_running", L(stanza="nope")): 0,
        ("pgbackrest_repo_status", L(stanza="nope", repo="1")): 1,
        ("pgbackrest_repo_status", L(stanza="nope", repo="2")): 1,
    }


@pytest.mark.parametrize("info", [
    {"name": "hello"},
    [{"name": "hello"}],
    [{"name": "hello", "status": {"code": 0}, "repo": [], "backup": [{"type": "full"}]}],
    [{"name": "hello", "status": {"code": 0}, "repo": [{"key": 1}], "backup": []}],
    ["hello"],
])
def test_another_layout_is_an_error(info):
    with pytest.raises(ValueError):
        hpm.collect(info)


# --- the program ---------------------------------------------------------------------------------

def test_writes_the_text_file(stand_in, tmp_path):
    prog = stand_in(stdout=(FIXTURES / "info-two-stanzas.json").read_text())
    out = tmp_path / "pgbackrest.prom"
    proc = run(out, "--pgbackrest", prog)
    assert proc.returncode == 0, proc.stderr
    assert argv_log(tmp_path) == [["--output=json", "info"]]
    m = metrics(out.read_text())
    assert m["pgbackrest_info_success"] == {frozenset(): 1}
    assert m["pgbackrest_stanza_status"] == {L(stanza="hello"): 0, L(stanza="empty"): 2}
    assert m[TS][L(stanza="hello", repo="1", type="incr")] == 1796388721
    assert len(m[TS]) == 5
    body = out.read_text()
    # Each family once, HELP and TYPE before its samples (node_exporter rejects a family split in two).
    for family in ("pgbackrest_info_success", "pgbackrest_stanza_status", "pgbackrest_repo_status",
                   "pgbackrest_backup_running", TS):
        assert body.count("# TYPE %s gauge\n" % family) == 1


def test_stanza_and_config_are_passed_on(stand_in, tmp_path):
    prog = stand_in(stdout=(FIXTURES / "info-missing-stanza.json").read_text())
    out = tmp_path / "pgbackrest.prom"
    proc = run(out, "--pgbackrest", prog, "--stanza", "nope", "--config", "/etc/pgbackrest/pgbackrest.conf")
    assert proc.returncode == 0, proc.stderr
    assert argv_log(tmp_path) == [["--output=json", "--config=/etc/pgbackrest/pgbackrest.conf", "--stanza=nope", "info"]]
    m = metrics(out.read_text())
    assert m["pgbackrest_stanza_status"] == {L(stanza="nope"): 1}
    assert TS not in m


@pytest.mark.parametrize("behaviour, message", [
    ({"stderr": "ERROR: [055]: unable to open missing file '/etc/pgbackrest.conf' for read\n", "rc": 55}, "exited with 55"),
    ({"stdout": "this is not JSON"}, "printed no JSON"),
    ({"stdout": '{"unexpected": true}'}, "not a list of stanzas"),
    ({"stdout": '[{"name": "hello", "status": {}}]'}, "unexpected layout"),
    ({"stdout": "[]", "sleep": 5}, "timed out"),
])
def test_a_failed_info_writes_success_0_and_exits_1(stand_in, tmp_path, behaviour, message):
    prog = stand_in(**behaviour)
    out = tmp_path / "pgbackrest.prom"
    out.write_text('pgbackrest_info_success 1\npgbackrest_stanza_status{stanza="hello"} 0\n')
    proc = run(out, "--pgbackrest", prog, "--timeout", "1")
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert metrics(out.read_text()) == {"pgbackrest_info_success": {frozenset(): 0}}


def test_missing_program(tmp_path):
    out = tmp_path / "pgbackrest.prom"
    proc = run(out, "--pgbackrest", tmp_path / "no-such-pgbackrest")
    assert proc.returncode == 1
    assert "cannot run" in proc.stderr
    assert metrics(out.read_text()) == {"pgbackrest_info_success": {frozenset(): 0}}


def test_the_file_is_replaced_atomically(stand_in, tmp_path):
    prog = stand_in(stdout=(FIXTURES / "info-two-stanzas.json").read_text())
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    out = textfile_dir / "pgbackrest.prom"
    out.write_text("old content\n")
    os.chmod(out, 0o600)
    with open(out, encoding="utf-8") as reader:
        before = os.stat(out).st_ino
        assert run(out, "--pgbackrest", prog).returncode == 0
        assert reader.read() == "old content\n"
    assert os.stat(out).st_ino != before
    assert os.stat(out).st_mode & 0o777 == 0o644
    assert os.listdir(textfile_dir) == ["pgbackrest.prom"]


def test_unwritable_output_fails_cleanly(stand_in, tmp_path):
    prog = stand_in(stdout="[]")
    proc = run(tmp_path / "no-such-dir" / "pgbackrest.prom", "--pgbackrest", prog)
    assert proc.returncode == 1
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr


def test_usage():
    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "usage: hello-pgbackrest-metrics" in proc.stderr


# --- the real pgbackrest ----------------------------------------------------------------------------

REAL = os.environ.get("HELLO_PGBACKREST") or shutil.which("pgbackrest")


@pytest.mark.skipif(not REAL, reason="pgbackrest is not installed (set HELLO_PGBACKREST to a pgbackrest binary)")
def test_real_pgbackrest_on_an_empty_repository(tmp_path):
    conf = tmp_path / "pgbackrest.conf"
    conf.write_text("[global]\nrepo1-path={0}/repo\nlog-path={0}\nlock-path={0}\nlog-level-file=off\n".format(tmp_path))
    out = tmp_path / "pgbackrest.prom"
    proc = run(out, "--pgbackrest", REAL, "--config", conf)
    assert proc.returncode == 0, proc.stderr
    assert metrics(out.read_text()) == {"pgbackrest_info_success": {frozenset(): 1}}
    proc = run(out, "--pgbackrest", REAL, "--config", conf, "--stanza", "hello")
    assert proc.returncode == 0, proc.stderr
    m = metrics(out.read_text())
    assert m["pgbackrest_stanza_status"] == {L(stanza="hello"): 1}      # missing stanza path
    assert m["pgbackrest_repo_status"] == {L(stanza="hello", repo="1"): 1}
    proc = run(out, "--pgbackrest", REAL, "--config", tmp_path / "missing.conf")
    assert proc.returncode == 1
    assert metrics(out.read_text()) == {"pgbackrest_info_success": {frozenset(): 0}}
