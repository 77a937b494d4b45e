"""The consumer on the real broker, in-process: devices report over MQTT (paho-mqtt) and AMQP (pika),
station messages, status and connection events, dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pika
import pytest

from fleetwatch.messaging.models import ConnectionEvent, DeviceChannel, StationMessage
from fleetwatch.timeseries import ReadQuery
from tests.messaging.conftest import drain

pytestmark = pytest.mark.django_db

T = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
GB = 10**9
WINDOW = f"start={T:%Y-%m-%d%%20%H:%M:%S}&end={T + timedelta(minutes=30):%Y-%m-%d%%20%H:%M:%S}"


def report(rx: int, at: datetime) -> dict:
    """A NetJSON DeviceMonitoring report with the agent's ``time`` member."""
    return {
        "type": "DeviceMonitoring",
        "time": f"{at:%d-%m-%Y_%H:%M:%S.%f}",
        "resources": {"cpus": 1, "load": [0.5, 0.25, 0.125]},
        "interfaces": [{"name": "wan", "type": "ethernet", "statistics": {"rx_bytes": rx, "tx_bytes": 0}}],
    }


def traffic(backend, device) -> list[tuple[datetime, int]]:
    rows = backend.read(ReadQuery("traffic", ["rx_bytes"], {"object_id": str(device.pk)}))
    return [(row.time, int(row.fields["rx_bytes"])) for row in rows]


def publish_mqtt(station, topic: str, payload, **client):
    mqtt = station.mqtt_client(**client)
    try:
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        mqtt.publish(station.topic(topic), body, qos=1).wait_for_publish(5)
    finally:
        mqtt.disconnect()
        mqtt.loop_stop()


def publish_amqp(station, topic: str, payload):
    connection = station.amqp_connection()
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        channel.basic_publish(
            "amq.topic", f"fleetwatch.{station.username}.{topic}", body, pika.BasicProperties(delivery_mode=2)
        )
    finally:
        connection.close()


def dead_letters(broker) -> list[tuple[str, str, bytes]]:
    """(reason, original routing key, body) of every dead letter, taken off the queue."""
    connection = broker.connection()
    try:
        channel = connection.channel()
        letters = []
        while True:
            method, properties, body = channel.basic_get("fleetwatch.dead-letter", auto_ack=True)
            if method is None:
                return letters
            headers = properties.headers
            letters.append((headers["x-fleetwatch-reason"], headers["x-fleetwatch-routing-key"], body))
    finally:
        connection.close()


@pytest.mark.parametrize("publish", [publish_mqtt, publish_amqp], ids=["mqtt", "amqp"])
def test_a_report_over_the_broker_is_in_the_chart_api(
    publish, broker_device, consumer, timeseries, client, bob
):
    station = broker_device()
    publish(station, "monitoring", report(2 * GB, T))
    publish(station, "monitoring", report(5 * GB, T + timedelta(minutes=10)))
    drain(consumer, lambda: len(traffic(timeseries, station.device)) == 2)
    assert traffic(timeseries, station.device) == [(T, 2 * GB), (T + timedelta(minutes=10), 3 * GB)]

    client.force_login(bob)
    response = client.get(f"/api/v1/monitoring/device/{station.device.pk}/?{WINDOW}")
    assert response.status_code == 200
    charts = {chart["title"]: chart for chart in response.json()["charts"]}
    assert charts["Traffic: wan"]["traces"] == [
        ["download", [2.0, 3.0, None, None]],
        ["upload", [0.0, 0.0, None, None]],
    ]
    assert charts["Traffic: wan"]["summary"] == {"upload": 0.0, "download": 5.0}
    channel = DeviceChannel.objects.get(device=station.device)
    assert channel.channel == ("mqtt" if publish is publish_mqtt else "amqp")
    assert channel.last_message is not None
    station.device.refresh_from_db()
    assert station.device.last_seen == channel.last_message


def test_garbage_is_dead_lettered_with_its_reason_and_the_next_good_message_is_stored(
    broker, broker_device, consumer, timeseries
):
    station = broker_device()
    publish_amqp(station, "monitoring", b"{not json")
    publish_amqp(station, "status", {"status": "sleeping"})
    publish_amqp(station, "messages", {"id": "x", "message": "G,1,2,3"})
    publish_amqp(station, "monitoring", {"type": "DeviceMonitoring", "time": 5})
    publish_amqp(station, "monitoring", report(7, T))
    drain(consumer, lambda: len(traffic(timeseries, station.device)) == 1)
    key = f"fleetwatch.{station.username}"
    letters = dead_letters(broker)
    assert [(reason, routing_key) for reason, routing_key, _body in letters] == [
        (
            "Invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
            f"{key}.monitoring",
        ),
        ('status must be "online" or "offline"', f"{key}.status"),
        ("line 1: expected G,<ts>,<lat>,<lon>,<alt>, got 4 values", f"{key}.messages"),
        ("time must be a string like 30-11-2026_21:45:00.000000 (UTC)", f"{key}.monitoring"),
    ]
    assert letters[0][2] == b"{not json"
    assert consumer.counts["dead"] == 4
    assert traffic(timeseries, station.device) == [(T, 7)]


def test_an_unknown_device_is_dead_lettered(broker, consumer):
    connection = broker.connection()
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("amq.topic", "fleetwatch.00000000-0000-0000-0000-000000000000.monitoring", b"{}")
    channel.basic_publish("amq.topic", "fleetwatch.not-a-uuid.status", b"{}")
    connection.close()
    drain(consumer, lambda: consumer.counts["dead"] == 2)
    assert [(reason, key) for reason, key, _ in dead_letters(broker)] == [
        (
            "unknown device 00000000-0000-0000-0000-000000000000 (or deactivated)",
            "fleetwatch.00000000-0000-0000-0000-000000000000.monitoring",
        ),
        ("unknown device not-a-uuid (or deactivated)", "fleetwatch.not-a-uuid.status"),
    ]


def test_station_envelope_and_typed_lines_become_messages_and_points(
    broker_device, consumer, timeseries, client, bob
):
    station = broker_device(serial="SG-1234RPI3ABCD")
    ts = T.timestamp()
    text = "\n".join(
        [
            f"G,{ts},45.5,-63.25,12.5",
            f"M,{ts},bootCount,17",
            f"p3,{ts},T#1,4.2,0.1,-52.5,0.4,-96.1,0.01,0.002,166.376",
            f"p3,{ts + 60},T#2,4.1,0.1,-60.5,0.4,-96.1,0.01,0.002,166.376",
            f"p4,{ts + 30},T#1,4.2,0.1,-40,0.4,-96.1,0.01,0.002,166.376",
            "ntpd: clock stepped",
        ]
    )
    envelope = {"id": "SG-1234RPI3ABCD", "message": text}
    publish_mqtt(station, "messages", envelope)
    publish_mqtt(station, "messages", envelope)  # sent twice: stored once
    drain(consumer, lambda: StationMessage.objects.count() == 7 and consumer.counts["dead"] == 0)
    rows = StationMessage.objects.filter(device=station.device).order_by("time", "kind")
    assert [(row.kind, row.time) for row in rows][:5] == [
        ("G", T),
        ("M", T),
        ("p3", T),
        ("p4", T + timedelta(seconds=30)),
        ("p3", T + timedelta(seconds=60)),
    ]
    assert StationMessage.objects.filter(device=station.device).count() == 7  # free text: once per delivery
    assert rows.filter(kind="").count() == 2

    client.force_login(bob)
    response = client.get(f"/api/v1/monitoring/device/{station.device.pk}/?{WINDOW}")
    charts = {chart["title"]: chart for chart in response.json()["charts"]}
    assert sorted(charts) == ["Boot count", "GPS fix", "Tag detections: port 3", "Tag detections: port 4"]
    assert charts["Tag detections: port 3"]["traces"] == [
        ["detections", [2, 0, 0, 0]],
        ["signal", [-56.5, None, None, None]],
    ]
    assert charts["Tag detections: port 4"]["summary"] == {"detections": 1, "signal": -40.0}
    assert sorted(charts["GPS fix"]["traces"]) == [
        ["altitude", [12.5, None, None, None]],
        ["latitude", [45.5, None, None, None]],
        ["longitude", [-63.25, None, None, None]],
    ]
    assert charts["Boot count"]["summary"] == {"boot_count": 17.0}


def test_an_envelope_of_another_serial_is_dead_lettered(broker, broker_device, consumer):
    station = broker_device(serial="SG-A")
    publish_amqp(station, "messages", {"id": "SG-B", "message": "hello"})
    drain(consumer, lambda: consumer.counts["dead"] == 1)
    assert [reason for reason, _, _ in dead_letters(broker)] == [
        "the envelope's id 'SG-B' is not this device's serial 'SG-A'"
    ]
    assert StationMessage.objects.count() == 0


def history(device) -> list[tuple[str, str, str]]:
    return list(
        ConnectionEvent.objects.filter(device=device)
        .order_by("time", "id")
        .values_list("kind", "channel", "source")
    )


def test_broker_connection_events_make_the_device_connected_then_disconnected(broker_device, consumer):
    station = broker_device()
    mqtt = station.mqtt_client()
    drain(consumer, lambda: DeviceChannel.objects.get(device=station.device).connected, message="connected")
    channel = DeviceChannel.objects.get(device=station.device)
    assert (channel.connected, channel.channel, channel.disconnected_since) == (True, "mqtt", None)
    assert history(station.device) == [("connected", "mqtt", "broker")]
    mqtt.disconnect()
    mqtt.loop_stop()
    drain(
        consumer,
        lambda: not DeviceChannel.objects.get(device=station.device).connected,
        message="disconnected",
    )
    channel.refresh_from_db()
    assert channel.disconnected_since >= channel.connected_since
    assert history(station.device) == [("connected", "mqtt", "broker"), ("disconnected", "mqtt", "broker")]

    connection = station.amqp_connection()
    drain(
        consumer, lambda: DeviceChannel.objects.get(device=station.device).connected, message="AMQP connected"
    )
    connection.close()
    drain(consumer, lambda: len(history(station.device)) == 4, message="AMQP closed")
    assert history(station.device)[2:] == [
        ("connected", "amqp", "broker"),
        ("disconnected", "amqp", "broker"),
    ]


def test_the_agent_status_and_its_mqtt_will(broker_device, consumer):
    station = broker_device()
    mqtt = station.mqtt_client(will=True)
    mqtt.publish(
        station.topic("status"),
        json.dumps({"status": "online", "features": "c", "agent": "fleetwatch-agent/0.1.0"}),
        qos=1,
    ).wait_for_publish(5)
    drain(consumer, lambda: DeviceChannel.objects.get(device=station.device).agent, message="online status")
    channel = DeviceChannel.objects.get(device=station.device)
    assert (channel.connected, channel.features, channel.agent, channel.commands_enabled) == (
        True,
        "c",
        "fleetwatch-agent/0.1.0",
        True,
    )
    # The link drops without a DISCONNECT: the broker publishes the will.
    mqtt._sock.close()
    mqtt.loop_stop()
    drain(
        consumer, lambda: not DeviceChannel.objects.get(device=station.device).connected, message="the will"
    )
    kinds = [(kind, source) for kind, _channel, source in history(station.device)]
    assert kinds[0] == ("connected", "broker")
    assert kinds[1][0] == "disconnected"
    assert kinds[1][1] in ("will", "broker")  # whichever the broker delivered first; the other is no change
    assert len(kinds) == 2


def test_a_report_the_store_cannot_take_now_is_requeued_not_lost(
    broker, broker_device, consumer, timeseries, monkeypatch
):
    from fleetwatch.monitoring import ingestion
    from fleetwatch.timeseries.errors import BackendUnavailable

    station = broker_device()
    real, calls = ingestion.ingest, []

    def down_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise BackendUnavailable("the store is down")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingestion, "ingest", down_once)
    publish_amqp(station, "monitoring", report(9, T))
    drain(consumer, lambda: consumer.counts["retry"] == 1, message="the failed store")
    assert traffic(timeseries, station.device) == []
    drain(consumer, lambda: len(traffic(timeseries, station.device)) == 1)
    assert traffic(timeseries, station.device) == [(T, 9)]
    assert (len(calls), consumer.counts["dead"]) == (2, 0)
