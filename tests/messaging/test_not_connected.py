"""The not_connected check: "not connected to the broker for N minutes" from the device's channel state."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.messaging.models import DeviceChannel
from fleetwatch.monitoring.check_runner import run_check
from fleetwatch.monitoring.models import Check, Metric
from fleetwatch.timeseries import ReadQuery

# Within the short tier's retention whatever the day the suite runs (a fixed date fell out of it).
NOW = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)

pytestmark = pytest.mark.django_db


@pytest.fixture
def check(device_a):
    device_a.last_seen = NOW - timedelta(minutes=1)  # not waiting for a first report
    device_a.save()
    return Check.objects.create(device=device_a, check_type="not_connected", params={"minutes": 30})


def stored(timeseries, device) -> list[dict]:
    rows = timeseries.read(ReadQuery("connected", tags={"object_id": str(device.pk)}, retention="short"))
    return [row.fields for row in rows]


@pytest.mark.parametrize(
    ("connected", "disconnected_minutes_ago", "value", "healthy"),
    [(True, None, 1, True), (False, 29, 1, True), (False, 31, 0, False)],
)
def test_connected_or_disconnected_for_less_than_n_minutes_is_healthy(
    check, device_a, timeseries, connected, disconnected_minutes_ago, value, healthy
):
    DeviceChannel.objects.create(
        device=device_a,
        channel="mqtt",
        connected=connected,
        connected_since=NOW - timedelta(hours=2),
        disconnected_since=None if connected else NOW - timedelta(minutes=disconnected_minutes_ago),
    )
    run_check(check, NOW)
    assert stored(timeseries, device_a) == [{"connected": value}]
    assert Metric.objects.get(device=device_a, configuration="connected").is_healthy is healthy


def test_a_device_that_never_connected_is_unknown(check, device_a, timeseries):
    DeviceChannel.objects.create(device=device_a)
    assert run_check(check, NOW) == []
    assert stored(timeseries, device_a) == []
    assert not Metric.objects.filter(device=device_a, configuration="connected").exists()
