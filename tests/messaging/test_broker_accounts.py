"""Device accounts on the real broker: a device logs in with its own credentials (MQTT with the
``vhost:username`` form, AMQP) and the broker confines it to its own topics."""

import json
import threading

import pika
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_device_logs_in_over_mqtt_and_amqp_with_its_own_account(broker_device):
    station = broker_device()
    client = station.mqtt_client()
    try:
        assert client.is_connected() is True
    finally:
        client.disconnect()
        client.loop_stop()
    connection = station.amqp_connection()
    assert connection.is_open is True
    connection.close()


def test_a_wrong_password_is_refused_over_mqtt(broker_device):
    station = broker_device()
    station.channel.broker_password = "wrong"
    with pytest.raises(AssertionError, match=r"Not authorized|Bad user name or password"):
        station.mqtt_client()


def _collect(broker, routing_key):
    """A queue of the admin bound to ``routing_key`` on amq.topic; returns (connection, channel, queue)."""
    connection = broker.connection()
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "amq.topic", routing_key)
    return connection, channel, queue


def test_device_a_cannot_publish_on_device_b_topics_over_mqtt(broker, broker_device):
    a, b = broker_device("a"), broker_device("b")
    connection, channel, queue = _collect(broker, "fleetwatch.*.monitoring")
    client = a.mqtt_client()
    disconnected = threading.Event()
    client.on_disconnect = lambda *args: disconnected.set()
    try:
        client.publish(a.topic("monitoring"), json.dumps({"own": True}), qos=1).wait_for_publish(5)
        client.publish(b.topic("monitoring"), json.dumps({"forged": True}), qos=1)
        # The broker closes the connection of a client that publishes where it may not.
        assert disconnected.wait(10) is True
    finally:
        client.loop_stop()
    bodies = []
    for _ in range(2):
        method, _props, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            bodies.append((method.routing_key, json.loads(body)))
    assert bodies == [(f"fleetwatch.{a.username}.monitoring", {"own": True})]
    connection.close()


def test_device_a_cannot_publish_on_device_b_topics_over_amqp(broker, broker_device):
    a, b = broker_device("a"), broker_device("b")
    connection, admin_channel, queue = _collect(broker, "fleetwatch.*.monitoring")
    device = a.amqp_connection()
    channel = device.channel()
    channel.confirm_delivery()
    channel.basic_publish("amq.topic", f"fleetwatch.{a.username}.monitoring", b'{"own": true}')
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        channel.basic_publish("amq.topic", f"fleetwatch.{b.username}.monitoring", b'{"forged": true}')
    assert refused.value.reply_code == 403
    assert refused.value.reply_text == (
        f"ACCESS_REFUSED - access to topic 'fleetwatch.{b.username}.monitoring' in exchange 'amq.topic' "
        f"in vhost '{broker.vhost}' refused for user '{a.username}'"
    )
    device.close()
    # The publish of A was confirmed, hence routed, before the forged one.
    method, _props, body = admin_channel.basic_get(queue, auto_ack=True)
    assert (method.routing_key, body) == (f"fleetwatch.{a.username}.monitoring", b'{"own": true}')
    assert admin_channel.basic_get(queue, auto_ack=True)[0] is None
    connection.close()


def test_provisioning_declares_the_devices_queue_so_nothing_is_dropped_before_the_consumer_runs(
    broker, broker_device, monkeypatch
):
    from urllib.parse import quote

    from fleetwatch.messaging import broker as channels

    broker.api.request("DELETE", f"/queues/{quote(broker.vhost, safe='')}/fleetwatch.devices", ok=(204, 404))
    monkeypatch.setattr(channels, "_queues_ensured", set())
    station = broker_device()
    connection = station.amqp_connection()
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("amq.topic", f"fleetwatch.{station.username}.status", b'{"status": "online"}')
    connection.close()
    assert broker.queue_depth("fleetwatch.devices") == 1
    bindings = broker.api.request(
        "GET", f"/queues/{quote(broker.vhost, safe='')}/fleetwatch.devices/bindings"
    )
    assert sorted(b["routing_key"] for b in bindings if b["source"] == "amq.topic") == [
        "fleetwatch.*.cmdlog",
        "fleetwatch.*.messages",
        "fleetwatch.*.monitoring",
        "fleetwatch.*.status",
    ]
