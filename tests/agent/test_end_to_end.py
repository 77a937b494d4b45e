"""Every real part of issue 15 together: a live Fleetwatch (gunicorn, SQLite files) whose
device channels point at the test session's RabbitMQ vhost, ``fleetwatch consume`` as a
subprocess on the same data directory, and the agent as a subprocess (``python -m
fleetwatch_agent``) enrolled with a real enrollment token.

- register → report over MQTT, and over AMQP → the values in the chart API;
- a command queued while the agent is not running is executed once after it starts again
  (its output recorded, status ok), and offering it again does not run it twice;
- a command to an agent with commands disabled ends ``err``, "remote commands are disabled".

Deselected unless ``amqp`` is in FLEETWATCH_TEST_BROKERS (the ``broker_vhost`` fixture).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

import pytest
from bench.server import Server, free_port

from tests.agent.conftest import agent_env
from tests.agent.live import run_agent, start_agent, write_config
from tests.messaging.conftest import EVENTS_VHOST, broker_vhost, wait_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.agent_broker

PORTS = range(18850, 18900)  # helper F's live servers

SETUP = """
import json
from django.contrib.auth import get_user_model
from fleetwatch.inventory.models import EnrollmentToken, Membership, Organization
org = Organization.objects.create(name="Field", slug="field")
admin = get_user_model().objects.create_user("admin", password="unused-admin")
Membership.objects.create(user=admin, organization=org, role="admin")
_, token = EnrollmentToken.issue(org, "stations")
print(json.dumps({"token": token}))
"""

QUEUE = """
import json, sys
from django.contrib.auth import get_user_model
from fleetwatch.inventory.models import Device
from fleetwatch.messaging.commands import queue
device = Device.objects.get(pk=sys.argv[1])
command = queue(device, sys.argv[2], sys.argv[3], get_user_model().objects.get(username="admin"))
print(json.dumps({"id": str(command.pk), "seq": command.seq}))
"""

COMMAND = """
import json, sys
from fleetwatch.messaging.models import Command
c = Command.objects.get(pk=sys.argv[1])
print(json.dumps({"status": c.status, "output": c.output, "channel": c.channel}))
"""

REOFFER = """
import sys
from fleetwatch.messaging.models import Command, CommandStatus
Command.objects.filter(pk=sys.argv[1]).update(status=CommandStatus.DELIVERED, output="", finished=None)
"""


class Fleet:
    """The live server and its consumer, sharing one data directory."""

    def __init__(self, broker):
        self.server = Server(port=free_port(PORTS), workers=1, threads=4, log="gunicorn.log")
        env = self.server.env
        for name in [n for n in env if n.startswith("FLEETWATCH_")]:
            env.pop(name)
        env.update(
            FLEETWATCH_DATA_DIR=self.server.dir,
            FLEETWATCH_CHANNELS_BROKER_URL=broker.amqp_url,
            FLEETWATCH_CHANNELS_BROKER_API_URL=broker.api_url,
            FLEETWATCH_CHANNELS_MQTT_URL=broker.mqtt_url,
            FLEETWATCH_CHANNELS_AMQP_URL=f"amqp://{broker.amqp_host}:{broker.amqp_port}",
            FLEETWATCH_CHANNELS_EVENTS_VHOST=EVENTS_VHOST,
            PYTHONPATH=agent_env()["PYTHONPATH"],
        )
        self.dir = Path(self.server.dir)
        self.url = self.server.url
        self.consumer = None

    def start(self) -> Fleet:
        self.server.start()
        self.token = json.loads(self.shell(SETUP))["token"]
        self.consumer_log = open(self.dir / "consume.log", "ab")  # closed in stop()
        self.consumer = subprocess.Popen(
            [sys.executable, "-m", "fleetwatch", "consume"],
            env=self.server.env,
            stdout=self.consumer_log,
            stderr=subprocess.STDOUT,
        )
        return self

    def shell(self, code: str, *args: str) -> str:
        """``code`` run by ``fleetwatch shell`` on the server's database; its last line."""
        out = subprocess.run(
            [sys.executable, "-m", "fleetwatch", "shell", "-c", code, *args],
            env=self.server.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return out.strip().splitlines()[-1] if out.strip() else ""

    def queue(self, device_id: str, action: str, argument: str = "") -> dict:
        return json.loads(
            self.shell(
                QUEUE.replace("sys.argv[1]", repr(device_id))
                .replace("sys.argv[2]", repr(action))
                .replace("sys.argv[3]", repr(argument))
            )
        )

    def command(self, pk: str) -> dict:
        return json.loads(self.shell(COMMAND.replace("sys.argv[1]", repr(pk))))

    def charts(self, device_id: str, key: str) -> dict:
        url = (
            f"{self.url}/api/v1/monitoring/device/{device_id}/?key={key}&status=true&time=1d&precision=exact"
        )
        with urlopen(url, timeout=10) as response:
            assert response.status == 200
            return json.loads(response.read())

    def stop(self) -> None:
        try:
            if self.consumer is not None:
                self.consumer.terminate()
                status = self.consumer.wait(timeout=30)
                self.consumer_log.close()
                assert status == 0, (self.dir / "consume.log").read_text()
        finally:
            self.server.stop()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def fleet(broker_vhost):  # noqa: F811 (the fixture imported above)
    fleet = Fleet(broker_vhost)
    try:
        yield fleet.start()
    finally:
        fleet.stop()


def agent_config(tmp_path: Path, fleet: Fleet, channel: str, **values) -> Path:
    return write_config(
        tmp_path / "agent.toml",
        server=fleet.url,
        token=fleet.token,
        serial=f"SG-E2E-{channel}",
        name=f"station-{channel}",
        channel=channel,
        interval=3600,
        poll_offline=1,
        state_dir=str(tmp_path / "state"),
        **values,
    )


def enroll(tmp_path: Path, fleet: Fleet, channel: str, **values) -> tuple[Path, dict]:
    """The agent's first run (``--once``): enrolled with the token, one report sent; its config
    and the enrollment's answer (credentials.json)."""
    config = agent_config(tmp_path, fleet, channel, **values)
    result = run_agent(config, "--once")
    assert result.returncode == 0, result.stderr
    answer = json.loads((tmp_path / "state" / "credentials.json").read_text())
    assert answer["status"] == "approved"
    assert answer["broker"]["username"] == answer["device"]["id"]
    return config, answer


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    assert process.wait(timeout=30) == 0


def finished(fleet: Fleet, command: dict) -> dict | None:
    state = fleet.command(command["id"])
    return state if state["status"] in ("ok", "err") else None


@pytest.mark.parametrize("channel", ["mqtt", "amqp"])
def test_a_report_over_the_broker_reaches_the_charts(tmp_path, fleet, channel):
    printed = json.loads(run_agent(agent_config(tmp_path, fleet, channel), "--print").stdout)
    _, answer = enroll(tmp_path, fleet, channel)
    device, key = answer["device"]["id"], answer["http"]["key"]
    body = wait_for(
        lambda: (b := fleet.charts(device, key))["data"] and b, timeout=20, message="the report stored"
    )
    memory = body["data"]["resources"]["memory"]
    # memory.total is the machine's: what --print read is what was sent and stored.
    assert memory["total"] == printed["resources"]["memory"]["total"]
    # The chart's one point is the stored report's, by the extraction HTTP uses too.
    free = max(memory["free"], memory.get("available") or 0)
    (chart,) = [c for c in body["charts"] if c["title"] == "Memory Usage"]
    ((name, values),) = chart["traces"]
    assert name == "memory_usage"
    assert [v for v in values if v is not None] == [100 * (1 - (free + memory["buffered"]) / memory["total"])]


@pytest.mark.parametrize("channel", ["mqtt", "amqp"])
def test_a_command_queued_while_offline_runs_once_when_the_agent_is_back(tmp_path, fleet, channel):
    config, answer = enroll(tmp_path, fleet, channel, commands=True)
    device = answer["device"]["id"]
    runs = tmp_path / "runs"
    # The agent is not running: the command waits.
    command = fleet.queue(device, "exec", f"echo run >> {runs}; echo done")
    assert command["seq"] == 1
    assert fleet.command(command["id"])["status"] in ("queued", "delivered")
    agent = start_agent(config)
    try:
        result = wait_for(lambda: finished(fleet, command), timeout=30, message="the command's result")
    finally:
        stop(agent)
    assert result == {"status": "ok", "output": "done\n", "channel": channel}
    assert runs.read_text() == "run\n"
    # Offered again (as after a lost result): the agent answers its stored result, runs nothing.
    fleet.shell(REOFFER.replace("sys.argv[1]", repr(command["id"])))
    assert fleet.command(command["id"]) == {"status": "delivered", "output": "", "channel": channel}
    agent = start_agent(config)
    try:
        again = wait_for(lambda: finished(fleet, command), timeout=30, message="the stored result")
    finally:
        stop(agent)
    assert again == {"status": "ok", "output": "done\n", "channel": channel}
    assert runs.read_text() == "run\n"


@pytest.mark.parametrize("channel", ["mqtt", "amqp"])
def test_a_command_to_an_agent_with_commands_disabled_ends_err(tmp_path, fleet, channel):
    config, answer = enroll(tmp_path, fleet, channel)
    marker = tmp_path / "ran"
    agent = start_agent(config)
    try:
        command = fleet.queue(answer["device"]["id"], "exec", f"touch {marker}")
        result = wait_for(lambda: finished(fleet, command), timeout=30, message="the command's result")
    finally:
        stop(agent)
    assert result == {"status": "err", "output": "remote commands are disabled", "channel": channel}
    assert not marker.exists()
