"""Every example of docs/channels.md, run: the broker settings are the test broker's, and the
device examples (MQTT with paho-mqtt, AMQP with pika) report through the real broker and are stored
by the consumer."""

import re
from pathlib import Path

import pytest

from fleetwatch.messaging.models import DeviceChannel, StationMessage
from fleetwatch.timeseries import ReadQuery
from tests.messaging.conftest import drain

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "channels.md"

pytestmark = pytest.mark.django_db


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_the_examples_this_test_runs():
    assert len(blocks("python")) == 2
    assert len(blocks("ini")) == 1


def test_the_rabbitmq_settings_are_the_test_brokers():
    script = (ROOT / "scripts" / "services" / "rabbitmq.sh").read_text()
    lines = [line for line in blocks("ini")[0].splitlines() if line.strip()]
    assert len(lines) == 4
    for line in lines:
        assert f"\n{line}\n" in script


def test_the_device_examples_report_through_the_broker(broker, broker_device, consumer, timeseries):
    station = broker_device(serial="SG-1234RPI3ABCD")
    answer = {
        "username": station.username,
        "password": station.password,
        "mqtt_url": broker.mqtt_url,
        "amqp_url": f"amqp://{broker.amqp_host}:{broker.amqp_port}",
        "vhost": broker.vhost,
    }
    for code in blocks("python"):
        exec(compile(code, str(DOC), "exec"), {"broker": answer})

    def done():
        cpu = timeseries.read(ReadQuery("cpu", tags={"object_id": str(station.device.pk)}))
        return len(cpu) == 1 and StationMessage.objects.filter(device=station.device).count() == 2

    drain(consumer, done)
    assert sorted(StationMessage.objects.filter(device=station.device).values_list("kind", flat=True)) == [
        "G",
        "M",
    ]
    gps = timeseries.read(ReadQuery("gps", tags={"object_id": str(station.device.pk)}))
    assert [row.fields for row in gps] == [{"lat": 45.5, "lon": -63.25, "alt": 12.5}]
    channel = DeviceChannel.objects.get(device=station.device)
    assert channel.agent == "example/1"
    assert consumer.counts["dead"] == 0
