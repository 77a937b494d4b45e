"""The agent as a real subprocess against a real Fleetwatch (gunicorn on SQLite): one report
with ``--once``, the monitoring agent's retry rules (200 delete, 400 drop, anything else keep),
the loop and its clean end on SIGTERM, and the exit statuses."""

from __future__ import annotations

import itertools
import signal
from datetime import UTC, datetime, timedelta

import psutil
import pytest
from fleetwatch_agent.queue import ReportQueue

from tests.agent.live import (
    PORTS,
    LiveFleetwatch,
    free_port,
    run_agent,
    start_agent,
    wait_for_line,
    write_config,
)

T = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
_numbers = itertools.count()


@pytest.fixture(scope="module")
def server():
    live = LiveFleetwatch().start()
    yield live
    live.remove()


@pytest.fixture
def device(server) -> dict:
    return server.device(next(_numbers))


def config_for(tmp_path, server, device, **values):
    return write_config(
        tmp_path / "agent.toml",
        server=server.url,
        device_id=device["id"],
        key=device["key"],
        state_dir=str(tmp_path / "state"),
        **values,
    )


def test_once_sends_this_hosts_report(tmp_path, server, device):
    result = run_agent(config_for(tmp_path, server, device), "--once")
    assert result.returncode == 0, result.stderr
    assert len(ReportQueue(tmp_path / "state" / "queue", 10)) == 0
    [memory] = server.read("memory", device)
    assert memory.fields["total_memory"] == psutil.virtual_memory().total
    [cpu] = server.read("cpu", device)
    assert cpu.fields["load_1"] >= 0


def test_retry_rules_200_deletes_400_drops(tmp_path, server, device):
    queue = ReportQueue(tmp_path / "state" / "queue", 10)
    queue.put(
        {
            "type": "DeviceMonitoring",
            "interfaces": [{"name": "wan", "statistics": {"rx_bytes": 900, "tx_bytes": 40}}],
        },
        T,
    )
    queue.put({"type": "NotMonitoring"}, T + timedelta(minutes=1))  # 400: never acceptable
    result = run_agent(config_for(tmp_path, server, device), "--once")
    assert result.returncode == 0, result.stderr
    assert len(queue) == 0
    assert "refused for good (400), dropped" in result.stderr
    traffic = server.read("traffic", device, ifname="wan")
    assert [(p.time, p.fields["rx_bytes"], p.fields["tx_bytes"]) for p in traffic] == [(T, 900, 40)]


def test_anything_else_keeps_the_reports(tmp_path, server, device):
    queue = ReportQueue(tmp_path / "state" / "queue", 10)
    queue.put(
        {
            "type": "DeviceMonitoring",
            "interfaces": [{"name": "wan", "statistics": {"rx_bytes": 1, "tx_bytes": 1}}],
        },
        T,
    )
    wrong_key = run_agent(config_for(tmp_path, server, {**device, "key": "not-the-key"}), "--once")
    assert wrong_key.returncode == 75, wrong_key.stderr
    assert "the server answered 403" in wrong_key.stderr
    assert len(queue) == 2  # the old one and this run's: neither lost
    nobody = run_agent(
        write_config(
            tmp_path / "down.toml",
            server=f"http://127.0.0.1:{free_port(PORTS)}",
            device_id=device["id"],
            key=device["key"],
            state_dir=str(tmp_path / "state"),
        ),
        "--once",
    )
    assert nobody.returncode == 75
    assert len(queue) == 3
    assert server.read("traffic", device) == []
    # The server answers again: all three go, oldest first.
    assert run_agent(config_for(tmp_path, server, device), "--once").returncode == 0
    assert len(queue) == 0
    assert [p.time for p in server.read("traffic", device, ifname="wan")] == [T]


def test_the_loop_reports_then_ends_cleanly_on_sigterm(tmp_path, server, device):
    process = start_agent(config_for(tmp_path, server, device, interval=3600))
    try:
        wait_for_line(process, "queue sent")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(server.read("memory", device)) == 1


def test_exit_statuses(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('server = "http://127.0.0.1:1"\ncomands = true\n')
    result = run_agent(bad, "--once")
    assert result.returncode == 78
    assert "comands: unknown key" in result.stderr
    no_credentials = write_config(
        tmp_path / "none.toml", server="http://127.0.0.1:1", state_dir=str(tmp_path / "s")
    )
    result = run_agent(no_credentials, "--once")
    assert result.returncode == 78
    assert "no credentials: set `token`" in result.stderr
