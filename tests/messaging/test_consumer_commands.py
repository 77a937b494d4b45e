"""The consumer's side of commands, against the command queue's contract (channels-spec.md:
``offer(device, channel, now)``, ``record_result(device, seq, status, output, now)``,
``wire(command)``, ``UnknownCommand``): results from ``cmdlog``, pending commands published when
a device comes online and swept every second while it is connected.

A stand-in of ``fleetwatch.messaging.commands`` records the calls: the consumer must not depend on
how the queue stores commands."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass

import pytest

import fleetwatch.messaging
from fleetwatch.messaging.models import Command, CommandStatus, DeviceChannel
from tests.messaging.conftest import drain, wait_for

pytestmark = pytest.mark.django_db


@dataclass
class Pending:
    seq: int
    action: str
    argument: str


class UnknownCommand(Exception):
    pass


@pytest.fixture
def commands(monkeypatch):
    """The stand-in: ``pending`` lists what ``offer`` answers, ``results`` what was recorded."""
    module = types.ModuleType("fleetwatch.messaging.commands")
    module.pending, module.results, module.offers = [], [], []
    module.UnknownCommand = UnknownCommand

    def offer(device, channel, now):
        module.offers.append((device.pk, channel))
        return list(module.pending)

    def record_result(device, seq, status, output, now):
        if seq == 99:
            raise UnknownCommand(f"device {device.pk} has no command {seq}")
        module.results.append((device.pk, seq, status, output))

    module.offer, module.record_result = offer, record_result
    module.wire = lambda command: {"seq": command.seq, "action": command.action, "argument": command.argument}
    monkeypatch.setitem(sys.modules, "fleetwatch.messaging.commands", module)
    monkeypatch.setattr(fleetwatch.messaging, "commands", module, raising=False)
    return module


def publish(station, topic, payload):
    connection = station.amqp_connection()
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("amq.topic", f"fleetwatch.{station.username}.{topic}", json.dumps(payload).encode())
    connection.close()


def test_command_results_are_recorded_and_an_unknown_seq_is_dead_lettered(
    broker, broker_device, consumer, commands
):
    station = broker_device()
    publish(station, "cmdlog", {"seq": 3, "status": "OK", "output": " 21:00:01 up 3 days"})
    publish(station, "cmdlog", {"seq": 99, "status": "ERR", "output": ""})
    publish(station, "cmdlog", {"seq": 4, "status": "maybe"})
    drain(consumer, lambda: consumer.counts["dead"] == 2)
    assert commands.results == [(station.device.pk, 3, "OK", " 21:00:01 up 3 days")]
    connection = broker.connection()
    reasons = []
    while True:
        method, properties, _body = connection.channel().basic_get("fleetwatch.dead-letter", auto_ack=True)
        if method is None:
            break
        reasons.append(properties.headers["x-fleetwatch-reason"])
    connection.close()
    assert reasons == [
        f"unknown command: device {station.device.pk} has no command 99",
        'status must be "OK" or "ERR"',
    ]


def test_pending_commands_are_published_when_the_device_comes_online(broker_device, consumer, commands):
    station = broker_device()
    commands.pending = [Pending(1, "exec", "uptime"), Pending(2, "reboot", "")]
    received = []
    mqtt = station.mqtt_client(client_id=f"cmd-{station.username}", clean_session=False)
    mqtt.on_message = lambda client, userdata, message: received.append(json.loads(message.payload))
    mqtt.subscribe(station.topic("commands"), qos=1)
    mqtt.publish(
        station.topic("status"), json.dumps({"status": "online", "features": "c", "agent": "t/1"}), qos=1
    )
    # Offered at the broker's connection event and again at the agent's "online" (sent after it
    # subscribed): the first offer may precede a first subscription. The agent runs a seq once.
    drain(
        consumer, lambda: len(commands.offers) == 2 and len(received) >= 2, message="the commands delivered"
    )
    assert commands.offers == [(station.device.pk, "mqtt"), (station.device.pk, "mqtt")]
    wait_for(lambda: {m["seq"] for m in received} == {1, 2}, message="both commands")
    assert {json.dumps(m, sort_keys=True) for m in received} == {
        json.dumps({"seq": 1, "action": "exec", "argument": "uptime"}, sort_keys=True),
        json.dumps({"seq": 2, "action": "reboot", "argument": ""}, sort_keys=True),
    }
    mqtt.disconnect()
    mqtt.loop_stop()


def test_queued_commands_of_connected_devices_are_swept(broker_device, consumer, commands, alice):
    station = broker_device()
    from datetime import UTC, datetime, timedelta

    DeviceChannel.objects.filter(device=station.device).update(connected=True, channel="amqp")
    Command.objects.create(
        device=station.device, seq=7, action="test", expires=datetime.now(UTC) + timedelta(days=1)
    )
    commands.pending = [Pending(7, "test", "")]
    connection = station.amqp_connection()
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "amq.topic", f"fleetwatch.{station.username}.commands")
    assert consumer.sweep() == 1
    body = wait_for(lambda: channel.basic_get(queue, auto_ack=True)[2], message="the swept command")
    assert json.loads(body) == {"seq": 7, "action": "test", "argument": ""}
    connection.close()
    assert consumer.counts["commands"] == 1
    assert commands.offers == [(station.device.pk, "amqp")]
    # Nothing queued any more (the queue marks offered commands delivered): nothing swept.
    Command.objects.filter(device=station.device).update(status=CommandStatus.DELIVERED)
    assert consumer.sweep() == 0
