# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the chaos suite's two-primaries check (benchmarks/chaos_primaries.py).

The polls are real in the lab (molecule/chaos); here the sweep is tested on logs written by hand,
in the pollers' format, for the cases that matter: a clean failover, a kill, and a real overlap.
"""

import importlib.util
import json
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("chaos_primaries", REPO / "benchmarks" / "chaos_primaries.py")
chaos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chaos)


def log(*samples):
    return "\n".join("%s %s" % s for s in samples) + "\n"


def test_parse_reads_answers_and_errors():
    text = "100.0 f,6\n100.2 psql: error: connection to server failed\n100.4 t,7\ngarbage\n\n"
    assert chaos.parse(text) == [(100.0, True, 6), (100.2, False, None), (100.4, False, 7)]


def test_a_killed_leader_and_a_promoted_standby_never_overlap():
    old = log((100.0, "f,6"), (100.2, "f,6"), (100.4, "f,6"))  # killed after 100.4: no more samples
    new = log((100.0, "t,6"), (120.0, "t,6"), (120.2, "f,6"), (120.4, "f,7"))
    report = chaos.analyse({"db1": old, "db2": new})
    assert report["max_writable"] == 1
    assert report["overlaps"] == []
    assert report["writable_hosts"] == ["db1", "db2"]
    assert report["timelines"] == {"db1": [6, 6], "db2": [6, 7]}


def test_a_node_is_writable_until_seen_otherwise():
    # db1 says f at 100.0 and is next seen (demoted) at 101.0; db2 is writable from 100.5: overlap.
    old = log((100.0, "f,6"), (101.0, "t,6"))
    new = log((100.0, "t,6"), (100.5, "f,7"), (100.7, "f,7"))
    report = chaos.analyse({"db1": old, "db2": new})
    assert report["max_writable"] == 2
    assert report["overlaps"] == [{"from": 100.5, "to": 100.7, "seconds": 0.2, "hosts": ["db1", "db2"]}]


def test_touching_intervals_do_not_overlap():
    old = log((100.0, "f,6"), (100.5, "t,6"))
    new = log((100.5, "f,7"), (100.7, "f,7"))
    assert chaos.analyse({"db1": old, "db2": new})["max_writable"] == 1


def test_no_writable_node_at_all():
    report = chaos.analyse({"db1": log((1.0, "t,3")), "db2": ""})
    assert report["max_writable"] == 0
    assert report["samples"] == {"db1": 1, "db2": 0}


def test_command_line(tmp_path, capsys):
    a = tmp_path / "a.log"
    a.write_text(log((1.0, "f,1"), (2.0, "f,1")))
    assert chaos.main(["db1=%s" % a]) == 0
    assert json.loads(capsys.readouterr().out)["max_writable"] == 1
    assert chaos.main(["no-equals-sign"]) == 2


def test_a_killed_host_polled_again_after_its_restart_was_not_writable_meanwhile():
    # db1 (the old leader) killed after 100.4, started again, first sample at 160.0 as a replica.
    old = log((100.0, "f,6"), (100.4, "f,6"), (160.0, "t,6"), (160.2, "t,7"))
    new = log((100.0, "t,6"), (120.0, "f,7"), (140.0, "f,7"), (160.0, "f,7"))
    report = chaos.analyse({"db1": old, "db2": new})
    assert report["max_writable"] == 1
    assert report["overlaps"] == []


def test_a_restarted_host_that_comes_back_writable_is_caught():
    old = log((100.0, "f,6"), (100.4, "f,6"), (160.0, "f,6"), (160.2, "f,6"))
    new = log((159.9, "f,7"), (160.1, "f,7"), (160.3, "f,7"))
    assert chaos.analyse({"db1": old, "db2": new})["max_writable"] == 2
