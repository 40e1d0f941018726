# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the archive_command guard (roles/patroni/files/hello-archive-push).

The decision (which segment holds WAL after a fork) is tested here with history files as PostgreSQL
writes them; pgBackRest and the fork itself run for real in the lab (molecule/patroni/verify_failover.yml:
the archive holds no segment of the old timeline past the fork after the killed leader came back).
"""

import importlib.machinery
import importlib.util
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[4]
SCRIPT = REPO / "roles" / "patroni" / "files" / "hello-archive-push"
_loader = importlib.machinery.SourceFileLoader("hello_archive_push", str(SCRIPT))
_spec = importlib.util.spec_from_loader("hello_archive_push", _loader)
guard = importlib.util.module_from_spec(_spec)
_loader.exec_module(guard)

MB16 = 16 * 1024 * 1024
# Timeline 7 as PostgreSQL writes it after two failovers (tab-separated, as in the lab's case).
HISTORY_7 = "1\t0/3000000\tno recovery target specified\n\n5\t0/1E0000A0\tno recovery target specified\n" \
            "6\t0/2B001898\tno recovery target specified\n"


def test_segment_names():
    assert guard.parse_segment("000000060000000000000002B") is None
    assert guard.parse_segment("00000006000000000000002B") == (6, 0, 0x2B)
    assert guard.parse_segment("00000006000000000000002B.partial") is None
    assert guard.parse_segment("00000007.history") is None
    assert guard.parse_segment("0000000600000001000000FF") == (6, 1, 0xFF)


def test_segment_bounds():
    assert guard.segment_bounds(0, 0x2B, MB16) == (0x2B000000, 0x2C000000)
    assert guard.segment_bounds(1, 0xFF, MB16) == (0x1FF000000, 0x200000000)
    assert guard.segment_bounds(2, 3, 1024 ** 3) == (0x2C0000000, 0x300000000)
    with pytest.raises(ValueError):
        guard.segment_bounds(0, 1, 3 * 1024 * 1024)
    with pytest.raises(ValueError):
        guard.segment_bounds(0, 1, 0)


def test_lsn_text():
    assert guard.parse_lsn("0/2B001898") == 0x2B001898
    assert guard.parse_lsn("1A/0") == 0x1A00000000
    assert guard.format_lsn(0x1A2B001898) == "1A/2B001898"


def test_history_file():
    assert guard.parse_history(HISTORY_7) == {1: 0x3000000, 5: 0x1E0000A0, 6: 0x2B001898}
    assert guard.parse_history("# comment\n\n") == {}


def test_switch_point_of_the_next_timeline():
    archive = {7: HISTORY_7}
    assert guard.switch_point(6, archive.get) == (7, 0x2B001898)
    assert guard.switch_point(7, archive.get) is None


def test_switch_point_skips_a_timeline_forked_elsewhere():
    # Timeline 7 came from a point-in-time restore onto timeline 5, so timeline 6 was forked only by 8.
    archive = {7: "5\t0/1E0000A0\trestore\n", 8: "5\t0/1E0000A0\tx\n6\t0/2B001898\tfailover\n"}
    assert guard.switch_point(6, archive.get) == (8, 0x2B001898)


def test_switch_point_stops_at_the_first_missing_history():
    calls = []

    def get(tli):
        calls.append(tli)
        return None

    assert guard.switch_point(6, get) is None
    assert calls == [7]


def test_switch_point_reads_at_most_the_limit():
    calls = []

    def get(tli):
        calls.append(tli)
        return "1\t0/1000000\tother branch\n"

    assert guard.switch_point(6, get, limit=3) is None
    assert calls == [7, 8, 9]


def test_after_fork_boundaries():
    # A segment ending exactly at the fork holds nothing after it.
    assert not guard.after_fork(0x2B000000, 0x2B000000)
    assert guard.after_fork(0x2C000000, 0x2B001898)
    assert not guard.after_fork(0x2B000000, 0x2B001898)


@pytest.fixture()
def pg_wal(tmp_path):
    wal = tmp_path / "pg_wal"
    (wal / "archive_status").mkdir(parents=True)
    return wal


def _segment(wal, name, ready=True):
    path = wal / name
    with open(path, "wb") as f:
        f.truncate(MB16)
    if ready:
        (wal / "archive_status" / (name + ".ready")).touch()
    return str(path)


def _run(path, archive):
    pushed = []
    rc = guard.main(["--stanza", "hello", path], get_history=archive.get,
                    push=lambda: pushed.append(os.path.basename(path)) or 0)
    return rc, pushed


def test_no_fork_pushes(pg_wal):
    path = _segment(pg_wal, "00000006000000000000002B")
    assert _run(path, {}) == (0, ["00000006000000000000002B"])
    assert (pg_wal / "archive_status" / "00000006000000000000002B.ready").exists()


def test_the_segment_holding_the_fork_is_not_pushed(pg_wal, capsys):
    path = _segment(pg_wal, "00000006000000000000002B")
    later = _segment(pg_wal, "00000006000000000000002C")
    rc, pushed = _run(path, {7: HISTORY_7})
    assert (rc, pushed) == (0, [])
    err = capsys.readouterr().err
    assert "00000006000000000000002B NOT archived" in err and "0/2B001898" in err
    # The later segment of the old timeline is marked done so that pgBackRest's async push skips it.
    assert not (pg_wal / "archive_status" / "00000006000000000000002C.ready").exists()
    assert (pg_wal / "archive_status" / "00000006000000000000002C.done").exists()
    assert os.path.exists(later)


def test_a_segment_before_the_fork_is_pushed_and_the_tail_is_held_back(pg_wal):
    path = _segment(pg_wal, "00000006000000000000002A")
    _segment(pg_wal, "00000006000000000000002B")
    _segment(pg_wal, "00000007000000000000002B")
    rc, pushed = _run(path, {7: HISTORY_7})
    assert (rc, pushed) == (0, ["00000006000000000000002A"])
    status = pg_wal / "archive_status"
    assert (status / "00000006000000000000002A.ready").exists()  # PostgreSQL renames it after success
    assert (status / "00000006000000000000002B.done").exists()
    assert (status / "00000007000000000000002B.ready").exists()  # the new timeline is untouched


def test_history_and_partial_files_go_straight_to_pgbackrest(pg_wal):
    for name in ("00000007.history", "00000006000000000000002B.partial"):
        path = pg_wal / name
        path.write_text("6\t0/2B001898\tx\n")

        def refuse(tli):
            raise AssertionError("no archive lookup expected for %s" % name)

        rc = guard.main(["--stanza", "hello", str(path)], get_history=refuse, push=lambda: 0)
        assert rc == 0


def test_archive_error_keeps_the_segment(pg_wal, capsys):
    path = _segment(pg_wal, "00000006000000000000002B")

    def broken(tli):
        raise guard.ArchiveError("pgbackrest archive-get 00000007.history exited 103: unable to connect")

    pushed = []
    rc = guard.main(["--stanza", "hello", path], get_history=broken, push=lambda: pushed.append(1) or 0)
    assert rc == 2 and pushed == []
    assert "pgbackrest --stanza=hello check" in capsys.readouterr().err
    assert (pg_wal / "archive_status" / "00000006000000000000002B.ready").exists()


def test_push_exit_code_is_passed_on(pg_wal):
    path = _segment(pg_wal, "00000006000000000000002B")
    assert guard.main(["--stanza", "hello", path], get_history={}.get, push=lambda: 41) == 41
