"""Enrollment by the agent (a subprocess) against a STAND-IN of ``POST /api/v1/enroll/``
(tests/agent/standin.py; the real endpoint is on helper A's branch): pending (202) then
approved (201), credentials kept with mode 0600 and used, refusals end the agent."""

from __future__ import annotations

import json
import os
import stat

import pytest
from fleetwatch_agent import AGENT

from tests.agent.live import run_agent, start_agent, wait_for_line, write_config
from tests.agent.standin import StandIn

DEVICE = "2b1c0f3e-5d7a-4c11-9f0e-8a6b2d4c1e77"
APPROVED = {
    "status": "approved",
    "device": {"id": DEVICE, "name": "station-7", "organization": "org-a"},
    "http": {"url": "https://fleet.example.org", "key": "k" * 32},
    "broker": None,
}


def config(tmp_path, standin, **values):
    return write_config(
        tmp_path / "agent.toml",
        server=standin.url,
        token="fwe_secret",
        serial="SG-1234RPI4ABCD",
        name="station-7",
        state_dir=str(tmp_path / "state"),
        **values,
    )


def test_pending_then_approved_then_remembered(tmp_path):
    with StandIn() as standin:
        standin.enroll = [
            (202, {"Retry-After": "60"}, {"status": "pending", "detail": "waiting for approval"}),
            (201, {}, APPROVED),
        ]
        path = config(tmp_path, standin)
        pending = run_agent(path, "--once")
        assert pending.returncode == 75
        assert "enrollment: waiting for approval" in pending.stderr
        assert not (tmp_path / "state" / "credentials.json").exists()

        approved = run_agent(path, "--once")
        assert approved.returncode == 0, approved.stderr
        credentials = tmp_path / "state" / "credentials.json"
        assert json.loads(credentials.read_text()) == APPROVED
        assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600

        again = run_agent(path, "--once")
        assert again.returncode == 0, again.stderr
        assert standin.paths() == [
            "/api/v1/enroll/",
            "/api/v1/enroll/",
            "/api/v1/monitoring/device/<id>/",
            "/api/v1/devices/<id>/agent/",
            "/api/v1/monitoring/device/<id>/",
            "/api/v1/devices/<id>/agent/",
        ]
    sent = json.loads(standin.requests[0][2])
    assert {k: sent[k] for k in ("token", "serial", "name", "agent")} == {
        "token": "fwe_secret",
        "serial": "SG-1234RPI4ABCD",
        "name": "station-7",
        "agent": AGENT,
    }
    assert set(sent) - {"token", "serial", "name", "agent"} <= {"model", "os", "system", "mac_address"}
    # HTTP goes on to the configured server (not the answer's public URL), with the device's key.
    path, query, _ = standin.requests[2]
    assert path == f"/api/v1/monitoring/device/{DEVICE}/"
    assert (query["key"], query["features"]) == ("k" * 32, "")


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (400, "serial: Ensure this field has no more than 64 characters."),
        (401, "Unknown enrollment token."),
        (403, "This enrollment token was revoked."),
    ],
)
def test_a_refusal_ends_the_agent(tmp_path, status, detail):
    with StandIn() as standin:
        standin.enroll = [(status, {}, {"detail": detail})]
        result = run_agent(config(tmp_path, standin), "--once")
    assert result.returncode == 77
    assert f"enrollment refused ({status}): {detail}" in result.stderr
    assert standin.paths() == ["/api/v1/enroll/"]


def test_the_loop_waits_for_approval(tmp_path):
    with StandIn() as standin:
        standin.enroll = [(202, {"Retry-After": "0"}, {"status": "pending"}), (201, {}, APPROVED)]
        process = start_agent(config(tmp_path, standin, interval=3600))
        try:
            wait_for_line(process, "queue sent")
        finally:
            process.terminate()
            assert process.wait(timeout=30) == 0
        assert standin.paths()[:3] == [
            "/api/v1/enroll/",
            "/api/v1/enroll/",
            "/api/v1/monitoring/device/<id>/",
        ]
