"""The agent endpoint on a real server (gunicorn, 2 workers × 4 threads, SQLite files), while
other processes hold its locks: concurrency and outages as agents meet them.

Each waiting report must get 503 + Retry-After within a bounded wait (the lock timeout is 1 s
here), write nothing, and the health endpoint must keep answering.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bench.server import Server

from fleetwatch.timeseries import ReadQuery, load_backend

LOCK_TIMEOUT = 1.0
T = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
GB = 10**9


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer(Server):
    """bench/server.py's gunicorn on a free port, a fresh data dir, a 1 s lock timeout."""

    def __init__(self):
        super().__init__(port=free_port(), log="gunicorn.log")
        self.env.pop("FLEETWATCH_TIMESERIES", None)
        self.env.pop("FLEETWATCH_DATABASE", None)
        self.env["FLEETWATCH_SQLITE_LOCK_TIMEOUT"] = str(LOCK_TIMEOUT)
        self.dir = Path(self.dir)

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = 30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def report(self, device: dict, rx: int, at: datetime):
        body = {
            "type": "DeviceMonitoring",
            "interfaces": [{"name": "wan", "statistics": {"rx_bytes": rx, "tx_bytes": 0}}],
        }
        path = f"/api/v1/monitoring/device/{device['id']}/?key={device['key']}&time={at:%d-%m-%Y_%H:%M:%S.%f}"
        return self.request("POST", path, json.dumps(body).encode())

    @property
    def timeseries_file(self) -> Path:
        return self.dir / "timeseries.sqlite3"

    @property
    def database_file(self) -> Path:
        return self.dir / "fleetwatch.sqlite3"

    def traffic(self, device: dict) -> list[tuple[datetime, int]]:
        backend = load_backend({"BACKEND": "sqlite", "NAME": str(self.timeseries_file)})
        try:
            rows = backend.read(ReadQuery("traffic", ["rx_bytes"], {"object_id": device["id"]}))
        finally:
            backend.close()
        return [(row.time, int(row.fields["rx_bytes"])) for row in rows]


@pytest.fixture(scope="module")
def server():
    live = LiveServer().start()
    yield live
    live.stop()
    shutil.rmtree(live.dir, ignore_errors=True)


_devices = iter(range(1000))


@pytest.fixture
def device(server) -> dict:
    n = next(_devices)
    server.manage("org", "create", "--name", f"Org {n}", "--slug", f"org-{n}")
    lines = server.manage("device", "create", "--org", f"org-{n}", "--name", f"router-{n}")
    fields = dict(line.split(": ", 1) for line in lines.strip().splitlines())
    return {"id": fields["id"], "key": fields["key"]}


HOLD = """
import sys, time, sqlite3
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""

HOLD_WRITER_LOCK = """
import sys
from fleetwatch.timeseries.backends.sqlite.writer_lock import WriterLock
lock = WriterLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
lock.release()
"""


class Holder:
    """Another process holding a database's write lock until released."""

    def __init__(self, script: str, path: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", script, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.process.communicate("\n", timeout=10)


def test_concurrent_reports_of_one_device_count_as_one_by_one(server, device):
    readings = [(T + timedelta(minutes=5 * i), (i + 1) * GB) for i in range(24)]
    statuses = []

    def send(part):
        for at, rx in part:
            statuses.append(server.report(device, rx, at)[0])

    threads = [threading.Thread(target=send, args=(readings[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 24
    assert server.traffic(device) == [(at, GB) for at, _ in readings]  # 1 GB whole, then 1 GB each


@pytest.mark.parametrize("script", [HOLD, HOLD_WRITER_LOCK], ids=["sqlite-lock", "writer-lock"])
def test_a_held_timeseries_lock_answers_503_fast_and_health_keeps_answering(server, device, script):
    assert server.report(device, GB, T)[0] == 200
    holder = Holder(script, server.timeseries_file)
    try:
        answers = []

        def send(i):
            started = time.monotonic()
            status, headers, _ = server.report(device, (2 + i) * GB, T + timedelta(minutes=5 * (i + 1)))
            answers.append((status, headers.get("Retry-After"), time.monotonic() - started))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
        started = time.monotonic()
        health = server.request("GET", "/api/v1/health/", timeout=10)
        health_wait = time.monotonic() - started
        for thread in threads:
            thread.join()
    finally:
        holder.release()
    assert health[0] == 200
    assert json.loads(health[2]) == {"status": "ok", "timeseries": {"backend": "sqlite", "reachable": True}}
    # Reports queue for the device's relational lock, then each waits at most the timeout for
    # the time-series lock: a bound of a few timeouts, not the minute the other process holds it.
    assert health_wait < 8 * LOCK_TIMEOUT
    assert [(status, retry) for status, retry, _ in answers] == [(503, "30")] * 8
    assert max(wait for _, _, wait in answers) < 10 * LOCK_TIMEOUT
    assert server.traffic(device) == [(T, GB)]  # nothing of the refused reports was written
    assert server.report(device, 2 * GB, T + timedelta(minutes=5))[0] == 200  # and the retry is stored
    assert server.traffic(device) == [(T, GB), (T + timedelta(minutes=5), GB)]


def test_a_locked_relational_database_answers_503_and_writes_no_point(server, device):
    """Another process holds the relational database's write lock (SQLite's own, as any
    transaction of another Fleetwatch process or a sqlite3 shell does)."""
    assert server.report(device, GB, T)[0] == 200
    holder = Holder(HOLD, server.database_file)
    try:
        started = time.monotonic()
        status, headers, body = server.report(device, 3 * GB, T + timedelta(minutes=5))
        waited = time.monotonic() - started
    finally:
        holder.release()
    assert (status, headers.get("Retry-After")) == (503, "30")
    assert json.loads(body) == {"detail": "The database is unavailable; keep the sample and retry."}
    assert waited < 5 * LOCK_TIMEOUT
    assert server.traffic(device) == [(T, GB)]
    assert server.report(device, 3 * GB, T + timedelta(minutes=5))[0] == 200
    assert server.traffic(device) == [(T, GB), (T + timedelta(minutes=5), 2 * GB)]
