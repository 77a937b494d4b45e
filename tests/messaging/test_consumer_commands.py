"""The consumer's side of commands with the real command queue (fleetwatch.messaging.commands)
and the real RabbitMQ: a command queued for an offline device is offered when it comes online,
the device (a paho-mqtt or pika client) receives the wire form, publishes its result on
``cmdlog``, and the command is ``ok`` with its output; the first result wins; a result for an
unknown seq, or a malformed one, is dead-lettered with its reason; commands queued while a device
is connected are swept to it."""

from __future__ import annotations

import json

import pytest

from fleetwatch.messaging import commands
from fleetwatch.messaging.models import Command, CommandStatus, DeviceChannel
from tests.messaging.conftest import drain, wait_for

pytestmark = pytest.mark.django_db


def publish(station, topic, payload):
    """``payload`` (JSON) on the device's topic, as the device, confirmed by the broker."""
    connection = station.amqp_connection()
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("amq.topic", f"fleetwatch.{station.username}.{topic}", json.dumps(payload).encode())
    connection.close()


def dead_letter_reasons(broker) -> list[str]:
    connection = broker.connection()
    reasons = []
    while True:
        method, properties, _body = connection.channel().basic_get("fleetwatch.dead-letter", auto_ack=True)
        if method is None:
            break
        reasons.append(properties.headers["x-fleetwatch-reason"])
    connection.close()
    return reasons


def test_a_command_queued_offline_is_offered_online_and_its_result_recorded(broker_device, consumer, alice):
    station = broker_device()
    first = commands.queue(station.device, "exec", "uptime", alice)
    second = commands.queue(station.device, "test", "", alice)
    assert (first.seq, second.seq) == (1, 2)
    # Nothing connected: the sweep leaves them queued.
    assert consumer.sweep() == 0
    assert set(Command.objects.values_list("status", flat=True)) == {CommandStatus.QUEUED}

    received = []
    mqtt = station.mqtt_client(client_id=f"cmd-{station.username}", clean_session=False)
    try:
        mqtt.on_message = lambda client, userdata, message: received.append(json.loads(message.payload))
        mqtt.subscribe(station.topic("commands"), qos=1)
        mqtt.publish(
            station.topic("status"), json.dumps({"status": "online", "features": "c", "agent": "t/1"}), qos=1
        )
        drain(
            consumer,
            lambda: {m["seq"] for m in received} == {1, 2},
            message="both commands received by the device",
        )
        # Offered at the connection event and at "online": the same wire form, maybe twice.
        assert {json.dumps(m, sort_keys=True) for m in received} == {
            json.dumps({"seq": 1, "action": "exec", "argument": "uptime"}, sort_keys=True),
            json.dumps({"seq": 2, "action": "test", "argument": ""}, sort_keys=True),
        }
        first.refresh_from_db()
        assert (first.status, first.channel) == (CommandStatus.DELIVERED, "mqtt")
        assert first.delivered is not None

        # The device answers; a second answer for the same seq changes nothing.
        mqtt.publish(
            station.topic("cmdlog"), json.dumps({"seq": 1, "status": "OK", "output": " up 3 days\n"}), qos=1
        )
        mqtt.publish(
            station.topic("cmdlog"), json.dumps({"seq": 1, "status": "ERR", "output": "late"}), qos=1
        )
        mqtt.publish(station.topic("cmdlog"), json.dumps({"seq": 2, "status": "ERR", "output": "no"}), qos=1)
        drain(
            consumer,
            lambda: Command.objects.filter(status__in=("ok", "err")).count() == 2,
            message="the results stored",
        )
    finally:
        mqtt.disconnect()
        mqtt.loop_stop()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.output, first.finished is not None) == (
        CommandStatus.OK,
        " up 3 days\n",
        True,
    )
    assert (second.status, second.output) == (CommandStatus.ERR, "no")


def test_unknown_seqs_and_malformed_results_are_dead_lettered(broker, broker_device, consumer, alice):
    station = broker_device()
    command = commands.queue(station.device, "exec", "uptime", alice)
    publish(station, "cmdlog", {"seq": 99, "status": "ERR", "output": ""})
    publish(station, "cmdlog", {"seq": command.seq, "status": "maybe"})
    publish(station, "cmdlog", {"seq": command.seq, "status": "OK", "output": "fine"})
    drain(
        consumer,
        lambda: (
            consumer.counts["dead"] == 2
            and Command.objects.filter(pk=command.pk, status=CommandStatus.OK).exists()
        ),
    )
    assert dead_letter_reasons(broker) == [
        f"unknown command: Device {station.device.pk} has no command 99.",
        'status must be "OK" or "ERR"',
    ]
    command.refresh_from_db()
    assert (command.status, command.output) == (CommandStatus.OK, "fine")
    assert command.delivered is not None
    assert command.finished is not None


def test_queued_commands_of_connected_devices_are_swept(broker_device, consumer, alice):
    station = broker_device()
    DeviceChannel.objects.filter(device=station.device).update(connected=True, channel="amqp")
    connection = station.amqp_connection()
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, "amq.topic", f"fleetwatch.{station.username}.commands")
        command = commands.queue(station.device, "restart", "caddy", alice)
        assert consumer.sweep() == 1
        body = wait_for(lambda: channel.basic_get(queue, auto_ack=True)[2], message="the swept command")
        assert json.loads(body) == {"seq": 1, "action": "restart", "argument": "caddy"}
    finally:
        connection.close()
    assert consumer.counts["commands"] == 1
    command.refresh_from_db()
    assert (command.status, command.channel) == (CommandStatus.DELIVERED, "amqp")
    # Delivered now: the sweep offers only queued ones.
    assert consumer.sweep() == 0
