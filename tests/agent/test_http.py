"""Commands over HTTP, the agent as a subprocess against a STAND-IN of the command endpoints
(tests/agent/standin.py; the real poll and cmdlog endpoints are on helper C's branch): enabled
vs disabled, a seq offered twice runs once, a re-offered seq gets its stored result again,
results gzip-posted to cmdlog; and the adaptive poll period."""

from __future__ import annotations

import pytest
from fleetwatch_agent.main import PollPeriod

from tests.agent.live import run_agent, write_config
from tests.agent.standin import StandIn

DEVICE = "2b1c0f3e-5d7a-4c11-9f0e-8a6b2d4c1e77"


def config(tmp_path, standin, **values):
    return write_config(
        tmp_path / "agent.toml",
        server=standin.url,
        device_id=DEVICE,
        key="device-key",
        state_dir=str(tmp_path / "state"),
        **values,
    )


def test_disabled_commands_end_err(tmp_path):
    marker = tmp_path / "ran"
    with StandIn() as standin:
        standin.offer = [{"seq": 1, "action": "exec", "argument": f"touch {marker}"}]
        result = run_agent(config(tmp_path, standin), "--once")
    assert result.returncode == 0, result.stderr
    assert standin.results == [(1, "ERR", "remote commands are disabled")]
    assert not marker.exists()
    report = next(q for p, q, _ in standin.requests if p.startswith("/api/v1/monitoring/"))
    assert report["features"] == ""


def test_a_seq_offered_twice_runs_once_and_is_answered_again(tmp_path):
    marker = tmp_path / "runs"
    with StandIn() as standin:
        # Offered by the report's answer and again by the poll before its result is in, and
        # (keep_offering) again on the next run, as a server that lost the result would.
        standin.offer = [{"seq": 4, "action": "exec", "argument": f"echo once >> {marker}; echo hi"}]
        standin.keep_offering = True
        path = config(tmp_path, standin, commands=True)
        first = run_agent(path, "--once")
        assert first.returncode == 0, first.stderr
        second = run_agent(path, "--once")
        assert second.returncode == 0, second.stderr
    assert marker.read_text() == "once\n"
    assert standin.results == [(4, "OK", "hi\n"), (4, "OK", "hi\n")]
    cmdlog = [q for p, q, _ in standin.requests if p.endswith("/cmdlog/")]
    assert [(q["key"], q["seq"], q["status"]) for q in cmdlog] == [("device-key", "4", "OK")] * 2
    assert {q["features"] for p, q, _ in standin.requests if not p.endswith("/cmdlog/")} == {"c"}


def test_commands_in_order_each_with_its_result(tmp_path):
    with StandIn() as standin:
        standin.offer = [
            {"seq": 1, "action": "test"},
            {"seq": 2, "action": "restart", "argument": "sshd"},
            {"seq": 3, "action": "exec", "argument": "exit 2"},
        ]
        path = config(tmp_path, standin, commands=True)
        # The oldest pending command is offered until its result comes: one per run.
        for _ in range(3):
            assert run_agent(path, "--once").returncode == 0
        assert standin.offer == []
    assert [(seq, status) for seq, status, _ in standin.results] == [(1, "OK"), (2, "ERR"), (3, "ERR")]
    assert standin.results[1][2] == "service 'sshd' may not be restarted (allowed: none)"
    assert standin.results[2][2] == "\n[exit status 2]"


def test_the_hub_agents_adaptive_period():
    period = PollPeriod(90, 3600, 1.5, 10)
    assert [period.after(True, False) for _ in range(3)] == [135, 202.5, 303.75]
    assert period.after(False, False) == 10  # offline: every 10 s, the growth kept
    assert period.after(True, False) == pytest.approx(455.625)
    assert period.after(True, True) == 90  # a command: back to the start
    for _ in range(20):
        period.after(True, False)
    assert period.current == 3600
