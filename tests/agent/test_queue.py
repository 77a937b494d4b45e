"""The bounded on-disk queue of unsent reports (fleetwatch_agent.queue)."""

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from fleetwatch_agent.queue import ReportQueue, wire_time, write_atomically

T = datetime(2026, 11, 30, 21, 45, 1, 123456, tzinfo=UTC)


def test_one_file_per_report_named_by_time_oldest_first(tmp_path):
    queue = ReportQueue(tmp_path / "q", size=10)
    queue.put({"n": 2}, T + timedelta(seconds=1))
    queue.put({"n": 1}, T)
    queue.put({"n": 3}, T + timedelta(seconds=1))  # the same microsecond as n=2: both kept
    assert sorted(os.listdir(tmp_path / "q")) == [
        "20261130T214501.123456Z.json",
        "20261130T214502.123456Z.json",
        "20261130T214502.123456Z_001.json",
    ]
    entries = queue.entries()
    assert [e.report["n"] for e in entries] == [1, 2, 3]
    assert [e.wire_time for e in entries] == [
        "30-11-2026_21:45:01.123456",
        "30-11-2026_21:45:02.123456",
        "30-11-2026_21:45:02.123456",
    ]
    assert oct((tmp_path / "q" / "20261130T214501.123456Z.json").stat().st_mode & 0o777) == "0o600"


def test_bounded_the_oldest_dropped(tmp_path):
    queue = ReportQueue(tmp_path / "q", size=3)
    for n in range(5):
        queue.put({"n": n}, T + timedelta(minutes=n))
    assert [e.report["n"] for e in queue.entries()] == [2, 3, 4]
    assert (len(queue), queue.dropped) == (3, 2)


def test_remove_and_unreadable_files(tmp_path):
    queue = ReportQueue(tmp_path / "q", size=3)
    queue.put({"n": 0}, T)
    (tmp_path / "q" / "20261130T214400.000000Z.json").write_text("{not json")
    (tmp_path / "q" / ".tmp-abc").write_text("half written")
    entries = queue.entries()
    assert [e.report for e in entries] == [{"n": 0}]
    assert sorted(os.listdir(tmp_path / "q")) == [".tmp-abc", "20261130T214501.123456Z.json"]
    queue.remove(entries[0])
    queue.remove(entries[0])  # twice is harmless
    assert len(queue) == 0


def test_atomic_write_leaves_the_old_file_when_it_fails(tmp_path, monkeypatch):
    path = tmp_path / "credentials.json"
    write_atomically(path, b'{"old": 1}')

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        write_atomically(path, b'{"new": 1}')
    assert json.loads(path.read_text()) == {"old": 1}
    assert os.listdir(tmp_path) == ["credentials.json"]  # no temporary file left


def test_wire_time_is_utc():
    from zoneinfo import ZoneInfo

    assert (
        wire_time(datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Rome"))) == "01-07-2026_10:00:00.000000"
    )
