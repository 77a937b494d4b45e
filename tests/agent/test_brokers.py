"""The agent (a subprocess) over MQTT and AMQP through the real RabbitMQ, in a throwaway vhost
with a device account made as the server makes them (fleetwatch/messaging/broker.py: the same
vhost and topic permissions, ``{username}`` expanded). The test itself stands in for the
server's consumer (helper B's branch): its own queue bound to the device's four topics receives
what the agent publishes, and it publishes commands on ``fleetwatch.<id>.commands``.

Deselected unless ``amqp`` is in FLEETWATCH_TEST_BROKERS; then FLEETWATCH_TEST_AMQP_URL,
FLEETWATCH_TEST_MQTT_URL and FLEETWATCH_TEST_BROKER_API_URL must be set (scripts/test.sh).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import time
import urllib.request
import uuid
from urllib.parse import quote, unquote, urlsplit

import pika
import pytest
from fleetwatch_agent import AGENT
from fleetwatch_agent.queue import ReportQueue

from fleetwatch.ingest.netjson import validate
from tests.agent.live import run_agent, start_agent, write_config

pytestmark = pytest.mark.agent_broker

# As fleetwatch.messaging.broker: the device's vhost permissions and its topic permissions.
QUEUES = r"^(mqtt-subscription-.*|amq\.gen-.*)$"
EXCHANGES_AND_QUEUES = r"^(amq\.topic|mqtt-subscription-.*|amq\.gen-.*)$"
TOPIC_WRITE = r"^fleetwatch\.{username}\.(monitoring|messages|status|cmdlog)$"
TOPIC_READ = r"^fleetwatch\.{username}\.(commands)$"
WIRE_TIME = re.compile(r"^\d\d-\d\d-\d{4}_\d\d:\d\d:\d\d\.\d{6}$")


def url_of(variable: str) -> str:
    url = os.environ.get(variable)
    if not url:
        pytest.fail(
            f"amqp is requested (FLEETWATCH_TEST_BROKERS) but {variable} is not set: run `make test`",
            pytrace=False,
        )
    return url


class Management:
    """Just enough of RabbitMQ's management API."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path.rstrip('/')}"
        auth = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
        self.auth = "Basic " + base64.b64encode(auth).decode()

    def call(self, method: str, path: str, body: dict | None = None) -> None:
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": self.auth, "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def vhost():
    """A throwaway vhost (the admin user of FLEETWATCH_TEST_AMQP_URL may do anything there)."""
    api = Management(url_of("FLEETWATCH_TEST_BROKER_API_URL"))
    amqp = urlsplit(url_of("FLEETWATCH_TEST_AMQP_URL"))
    name = f"fwtest-agent-{secrets.token_hex(4)}"
    q = quote(name, safe="")
    api.call("PUT", f"/vhosts/{q}")
    api.call(
        "PUT",
        f"/permissions/{q}/{quote(unquote(amqp.username), safe='')}",
        {"configure": ".*", "write": ".*", "read": ".*"},
    )
    users = []
    yield {"name": name, "api": api, "amqp": amqp, "users": users}
    api.call("DELETE", f"/vhosts/{q}")
    for user in users:
        api.call("DELETE", f"/users/{quote(user, safe='')}")


@pytest.fixture
def device(vhost, tmp_path):
    """A device account on the broker and the agent's state dir holding it (as an enrollment
    answer); ``server`` is the test's admin connection with a queue taking the device's topics."""
    device_id = str(uuid.uuid4())
    password = secrets.token_urlsafe(24)
    api, name, amqp = vhost["api"], quote(vhost["name"], safe=""), vhost["amqp"]
    api.call("PUT", f"/users/{device_id}", {"password": password, "tags": ""})
    vhost["users"].append(device_id)
    api.call(
        "PUT",
        f"/permissions/{name}/{device_id}",
        {"configure": QUEUES, "write": EXCHANGES_AND_QUEUES, "read": EXCHANGES_AND_QUEUES},
    )
    api.call(
        "PUT",
        f"/topic-permissions/{name}/{device_id}",
        {"exchange": "amq.topic", "write": TOPIC_WRITE, "read": TOPIC_READ},
    )
    mqtt = urlsplit(url_of("FLEETWATCH_TEST_MQTT_URL"))
    answer = {
        "status": "approved",
        "device": {"id": device_id, "name": "station", "organization": "org-a"},
        "http": {"url": "http://127.0.0.1:1", "key": "k"},
        "broker": {
            "username": device_id,
            "password": password,
            "mqtt_url": f"mqtt://{mqtt.hostname}:{mqtt.port}",
            "amqp_url": f"amqp://{amqp.hostname}:{amqp.port}",
            "vhost": vhost["name"],
        },
    }
    state = tmp_path / "state"
    state.mkdir()
    (state / "credentials.json").write_text(json.dumps(answer))
    admin = pika.BlockingConnection(
        pika.ConnectionParameters(
            amqp.hostname,
            amqp.port,
            vhost["name"],
            pika.PlainCredentials(unquote(amqp.username), unquote(amqp.password)),
        )
    )
    channel = admin.channel()
    yield Device(device_id, state, channel)
    admin.close()


class Device:
    """The device's id, the agent's state dir, and the test's side of the broker."""

    def __init__(self, device_id, state, channel):
        self.id, self.state, self.channel = device_id, state, channel
        self.queue = None

    def listen(self) -> None:
        """From now on, what the device publishes lands in a queue of the test."""
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        for topic in ("monitoring", "messages", "status", "cmdlog"):
            self.channel.queue_bind(self.queue, "amq.topic", f"fleetwatch.{self.id}.{topic}")

    def messages(self, count: int, timeout: float = 30) -> list[tuple[str, dict]]:
        """The next ``count`` messages (topic, JSON body); AssertionError after ``timeout`` s."""
        found = []
        deadline = time.monotonic() + timeout
        for method, _properties, body in self.channel.consume(self.queue, inactivity_timeout=0.5):
            if method is not None:
                self.channel.basic_ack(method.delivery_tag)
                found.append((method.routing_key.rsplit(".", 1)[1], json.loads(body)))
                if len(found) == count:
                    break
            if time.monotonic() > deadline:
                break
        self.channel.cancel()
        assert len(found) == count, f"{len(found)} of {count} messages came: {found}"
        return found

    def command(self, seq: int, action: str, argument: str = "") -> None:
        body = json.dumps({"seq": seq, "action": action, "argument": argument})
        props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
        self.channel.basic_publish("amq.topic", f"fleetwatch.{self.id}.commands", body, props)

    def config(self, tmp_path, channel: str, **values):
        return write_config(
            tmp_path / "agent.toml",
            server="http://127.0.0.1:1",
            channel=channel,
            state_dir=str(self.state),
            **values,
        )


@pytest.mark.parametrize("channel", ["mqtt", "amqp"])
def test_a_report_with_its_time_and_the_status(tmp_path, device, channel):
    device.listen()
    result = run_agent(device.config(tmp_path, channel), "--once")
    assert result.returncode == 0, result.stderr
    messages = device.messages(3)
    assert [topic for topic, _ in messages] == ["status", "monitoring", "status"]
    assert messages[0][1] == {"status": "online", "features": "", "agent": AGENT}
    assert messages[2][1] == {"status": "offline", "features": "", "agent": AGENT}
    report = messages[1][1]
    assert WIRE_TIME.match(report.pop("time"))
    validate(report)
    assert report["general"]["local_time"] > 0
    assert len(ReportQueue(device.state / "queue", 10)) == 0


def test_amqp_keeps_a_report_no_queue_takes(tmp_path, device):
    config = device.config(tmp_path, "amqp")
    result = run_agent(config, "--once")
    assert result.returncode == 75, result.stderr
    assert "no queue takes" in result.stderr
    assert len(ReportQueue(device.state / "queue", 10)) == 1
    device.listen()
    assert run_agent(config, "--once").returncode == 0
    assert [topic for topic, _ in device.messages(4)] == ["status", "monitoring", "monitoring", "status"]


def test_mqtt_a_command_sent_while_offline_runs_once_after_reconnecting(tmp_path, device):
    config = device.config(tmp_path, "mqtt", commands=True)
    assert run_agent(config, "--once").returncode == 0  # the persistent session exists now
    device.listen()
    marker = tmp_path / "runs"
    device.command(5, "exec", f"echo once >> {marker}; echo hi")  # the agent is offline
    process = start_agent(device.config(tmp_path, "mqtt", commands=True, interval=3600))
    try:
        messages = device.messages(3)  # online, the report, the result (in some order)
        assert sorted(topic for topic, _ in messages) == ["cmdlog", "monitoring", "status"]
        assert [body for topic, body in messages if topic == "cmdlog"] == [
            {"seq": 5, "status": "OK", "output": "hi\n"}
        ]
        device.command(5, "exec", f"echo once >> {marker}; echo hi")  # offered again
        assert device.messages(1) == [("cmdlog", {"seq": 5, "status": "OK", "output": "hi\n"})]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert marker.read_text() == "once\n"


def test_amqp_a_command_runs_once_even_sent_twice(tmp_path, device):
    device.listen()
    marker = tmp_path / "runs"
    process = start_agent(device.config(tmp_path, "amqp", commands=True, interval=3600))
    try:
        assert [topic for topic, _ in device.messages(2)] == ["status", "monitoring"]
        device.command(5, "exec", f"echo once >> {marker}; echo hi")
        assert device.messages(1) == [("cmdlog", {"seq": 5, "status": "OK", "output": "hi\n"})]
        device.command(5, "exec", f"echo once >> {marker}; echo hi")
        assert device.messages(1) == [("cmdlog", {"seq": 5, "status": "OK", "output": "hi\n"})]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert marker.read_text() == "once\n"
    assert device.messages(1) == [("status", {"status": "offline", "features": "c", "agent": AGENT})]


def test_mqtt_commands_disabled_end_err(tmp_path, device):
    device.listen()
    marker = tmp_path / "ran"
    process = start_agent(device.config(tmp_path, "mqtt", interval=3600))
    try:
        assert [topic for topic, _ in device.messages(2)] == ["status", "monitoring"]
        device.command(1, "exec", f"touch {marker}")
        assert device.messages(1) == [
            ("cmdlog", {"seq": 1, "status": "ERR", "output": "remote commands are disabled"})
        ]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not marker.exists()
