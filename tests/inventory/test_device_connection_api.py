"""The device API's ``connection`` (channel state) and the fleet filters ``channel`` and ``connected``."""

from datetime import UTC, datetime

import pytest

from fleetwatch.inventory.models import Device
from fleetwatch.messaging.models import DeviceChannel

pytestmark = pytest.mark.django_db
SINCE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
def fleet(orgs):
    org = orgs[0]
    http_only = Device.objects.create(organization=org, name="router")
    mqtt = Device.objects.create(organization=org, name="station-mqtt")
    amqp = Device.objects.create(organization=org, name="station-amqp")
    DeviceChannel.objects.create(
        device=mqtt,
        channel="mqtt",
        connected=True,
        connected_since=SINCE,
        last_message=SINCE,
        features="c",
        agent="fleetwatch-agent/0.1.0",
    )
    DeviceChannel.objects.create(device=amqp, channel="amqp", connected=False, disconnected_since=SINCE)
    return http_only, mqtt, amqp


def names(client, query: str) -> list[str]:
    response = client.get(f"/api/v1/inventory/devices/?{query}")
    assert response.status_code == 200
    return sorted(d["name"] for d in response.json()["results"])


def test_the_connection_of_a_device(client, bob, fleet):
    client.force_login(bob)
    http_only, mqtt, amqp = fleet
    assert client.get(f"/api/v1/inventory/devices/{mqtt.pk}/").json()["connection"] == {
        "channel": "mqtt",
        "connected": True,
        "connected_since": "2026-11-30T08:00:00Z",
        "disconnected_since": None,
        "last_message": "2026-11-30T08:00:00Z",
        "commands_enabled": True,
    }
    assert client.get(f"/api/v1/inventory/devices/{amqp.pk}/").json()["connection"] == {
        "channel": "amqp",
        "connected": False,
        "connected_since": None,
        "disconnected_since": "2026-11-30T08:00:00Z",
        "last_message": None,
        "commands_enabled": None,
    }
    assert client.get(f"/api/v1/inventory/devices/{http_only.pk}/").json()["connection"] is None


def test_fleet_filters_by_channel_and_connection(client, bob, fleet):
    client.force_login(bob)
    assert names(client, "channel=mqtt") == ["station-mqtt"]
    assert names(client, "channel=amqp") == ["station-amqp"]
    assert names(client, "channel=http") == ["router"]
    assert names(client, "connected=true") == ["station-mqtt"]
    assert names(client, "connected=false") == ["router", "station-amqp"]
    assert names(client, "channel=amqp&connected=false") == ["station-amqp"]
    response = client.get("/api/v1/inventory/devices/?channel=pigeon")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "channel: Select a valid choice. pigeon is not one of the available choices.",
        "errors": {"channel": ["Select a valid choice. pigeon is not one of the available choices."]},
    }
