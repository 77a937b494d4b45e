"""The consumer's loop (``Consumer.run``): it reconnects when the broker drops its connection, goes on
storing, and returns when stopped."""

from __future__ import annotations

import json
import threading
from urllib.parse import quote

import pytest

from fleetwatch.messaging.consumer import Consumer
from fleetwatch.messaging.models import DeviceChannel
from tests.messaging.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def consumers_of(broker, queue: str) -> list[str]:
    """The connection names consuming a queue of the test vhost (management API). A consumer
    whose channel the management plugin has not described yet (``channel_details`` is then an
    empty list, not an object) is left out until it is."""
    details = broker.api.request("GET", f"/queues/{quote(broker.vhost, safe='')}/{queue}")
    return [
        c["channel_details"]["connection_name"]
        for c in details.get("consumer_details", [])
        if isinstance(c.get("channel_details"), dict)
    ]


def publish_status(station, status: str):
    connection = station.amqp_connection()
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish(
        "amq.topic",
        f"fleetwatch.{station.username}.status",
        json.dumps({"status": status, "agent": "t/1"}).encode(),
    )
    connection.close()


def test_the_consumer_reconnects_when_the_broker_drops_it(broker, broker_device):
    station = broker_device()
    consumer = Consumer()
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        first = wait_for(lambda: consumers_of(broker, "fleetwatch.devices"), message="the consumer consuming")
        # The broker closes the consumer's connection (as on a restart of the node).
        broker.api.request("DELETE", f"/connections/{quote(first[0], safe='')}", ok=(204, 404))
        wait_for(
            lambda: (names := consumers_of(broker, "fleetwatch.devices")) and names != first,
            timeout=20,
            message="a new connection consuming",
        )
        publish_status(station, "online")
        wait_for(lambda: DeviceChannel.objects.get(device=station.device).agent == "t/1", message="stored")
        assert DeviceChannel.objects.get(device=station.device).connected is True
    finally:
        consumer.stop()
        thread.join(10)
    assert thread.is_alive() is False
    assert consumer.connection is None  # closed on the way out
