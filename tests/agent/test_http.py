"""Commands over HTTP, the agent as a subprocess against a live Fleetwatch's command endpoints
(the ``{"cmd": …}`` answer of the report, the poll ``/api/v1/devices/<id>/agent/`` and
``/api/v1/devices/<id>/cmdlog/``) with commands queued by ``fleetwatch.messaging.commands``:
enabled vs disabled, a seq offered again runs once and is answered with its stored result,
commands in order each with its result; and the adaptive poll period."""

from __future__ import annotations

import json

import pytest
from fleetwatch_agent.main import PollPeriod

from tests.agent.live import LiveFleetwatch, run_agent, write_config

PORTS = range(18850, 18900)  # helper F's live servers

QUEUE = """
import json
from fleetwatch.inventory.models import Device
from fleetwatch.messaging.commands import queue
device = Device.objects.get(pk=%r)
print(json.dumps([queue(device, action, argument, None).seq for action, argument in %r]))
"""

COMMANDS = """
import json
from fleetwatch.messaging.models import Command, DeviceChannel
rows = Command.objects.filter(device_id=%r).order_by("seq")
channel = DeviceChannel.objects.get(device_id=%r)
print(json.dumps({"commands": [[c.seq, c.status, c.output, c.channel] for c in rows],
                  "features": channel.features}))
"""

REOFFER = """
from fleetwatch.messaging.models import Command
Command.objects.filter(device_id=%r, seq=%d).update(status="delivered", output="", finished=None)
"""


@pytest.fixture(scope="module")
def live():
    server = LiveFleetwatch(PORTS)
    server.made = 0
    try:
        yield server.start()
    finally:
        server.remove()


@pytest.fixture
def device(live):
    live.made += 1
    return live.device(live.made)


def config(tmp_path, live, device, **values):
    return write_config(
        tmp_path / "agent.toml",
        server=live.url,
        device_id=device["id"],
        key=device["key"],
        state_dir=str(tmp_path / "state"),
        **values,
    )


def queue(live, device, *commands) -> list[int]:
    return json.loads(live.shell(QUEUE % (device["id"], list(commands))))


def state(live, device) -> dict:
    return json.loads(live.shell(COMMANDS % (device["id"], device["id"])))


def test_disabled_commands_end_err(tmp_path, live, device):
    marker = tmp_path / "ran"
    assert queue(live, device, ("exec", f"touch {marker}")) == [1]
    result = run_agent(config(tmp_path, live, device), "--once")
    assert result.returncode == 0, result.stderr
    assert state(live, device) == {
        "commands": [[1, "err", "remote commands are disabled", "http"]],
        "features": "",
    }
    assert not marker.exists()


def test_a_seq_offered_again_runs_once_and_is_answered_again(tmp_path, live, device):
    marker = tmp_path / "runs"
    assert queue(live, device, ("exec", f"echo once >> {marker}; echo hi")) == [1]
    path = config(tmp_path, live, device, commands=True)
    first = run_agent(path, "--once")
    assert first.returncode == 0, first.stderr
    assert state(live, device) == {"commands": [[1, "ok", "hi\n", "http"]], "features": "c"}
    # As if the server had lost the result: offered again, answered from the agent's record.
    live.shell(REOFFER % (device["id"], 1))
    assert state(live, device)["commands"] == [[1, "delivered", "", "http"]]
    second = run_agent(path, "--once")
    assert second.returncode == 0, second.stderr
    assert state(live, device)["commands"] == [[1, "ok", "hi\n", "http"]]
    assert marker.read_text() == "once\n"


def test_commands_in_order_each_with_its_result(tmp_path, live, device):
    seqs = queue(live, device, ("test", ""), ("restart", "sshd"), ("exec", "exit 2"))
    assert seqs == [1, 2, 3]
    path = config(tmp_path, live, device, commands=True)
    # The oldest pending command comes with each answer (report, then poll): one or more per run.
    for _ in range(3):
        assert run_agent(path, "--once").returncode == 0
    commands = state(live, device)["commands"]
    assert [(seq, status, channel) for seq, status, _, channel in commands] == [
        (1, "ok", "http"),
        (2, "err", "http"),
        (3, "err", "http"),
    ]
    assert commands[0][2].startswith("fleetwatch-agent/")
    assert commands[1][2] == "service 'sshd' may not be restarted (allowed: none)"
    assert commands[2][2] == "\n[exit status 2]"


def test_the_hub_agents_adaptive_period():
    period = PollPeriod(90, 3600, 1.5, 10)
    assert [period.after(True, False) for _ in range(3)] == [135, 202.5, 303.75]
    assert period.after(False, False) == 10  # offline: every 10 s, the growth kept
    assert period.after(True, False) == pytest.approx(455.625)
    assert period.after(True, True) == 90  # a command: back to the start
    for _ in range(20):
        period.after(True, False)
    assert period.current == 3600
