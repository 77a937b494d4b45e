"""Leaving InfluxDB 1.x: a simulated fleet's 7 days, copied to Elasticsearch with
`fleetwatch timeseries copy`, answer the chart and dashboard APIs identically on both."""

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.core.timeseries import get_backend, reset_backend
from fleetwatch.inventory.models import Device
from fleetwatch.monitoring import ingestion
from fleetwatch.monitoring.simulator import REPORT_INTERVAL, report
from fleetwatch.timeseries import load_backend
from fleetwatch.timeseries.copy import copy_points
from tests.timeseries.conftest import requested_backends

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not {"influxdb", "elasticsearch"} <= set(requested_backends()),
        reason="FLEETWATCH_TEST_BACKENDS leaves InfluxDB or Elasticsearch out",
    ),
]

END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
START = END - timedelta(days=7)
RANGE = {
    "start": START.strftime("%Y-%m-%d %H:%M:%S"),
    "end": END.strftime("%Y-%m-%d %H:%M:%S"),
    "timezone": "Europe/Rome",
}


def url(name, schema):
    base = os.environ.get(f"FLEETWATCH_TEST_{name.upper()}_URL")
    if not base:
        pytest.fail(f"FLEETWATCH_TEST_{name.upper()}_URL is not set: run `make test`", pytrace=False)
    return f"{base}?schema={schema}"


def answers(client, devices):
    body = {}
    for device in devices:
        charts = client.get(f"/api/v1/monitoring/device/{device.pk}/", RANGE).json()
        body[device.name] = {"x": charts["x"], "charts": charts["charts"]}
    body["dashboard"] = client.get("/api/v1/monitoring/dashboard/", RANGE).json()
    return body


def test_a_fleet_copied_from_influxdb_to_elasticsearch_answers_the_same(
    client, settings, orgs, device_a, bob
):
    lte = Device.objects.create(organization=orgs[0], name="lte-router", mac_address="44:d1:fa:4b:38:99")
    devices = [device_a, lte]
    source_url = url("influxdb", "fleetwatch_test_copy")
    target_url = url("elasticsearch", "fleetwatchtestcopy")
    settings.TIMESERIES_DATABASE = source_url
    reset_backend()
    get_backend().flush()
    steps = int((END - START).total_seconds() // REPORT_INTERVAL)
    for step in range(steps):
        moment = START + timedelta(seconds=REPORT_INTERVAL * step)
        stamp = moment.strftime("%d-%m-%Y_%H:%M:%S.%f")
        for index, device in enumerate(devices):
            body = json.dumps(report(index, moment, START, lte=device is lte)).encode()
            ingestion.ingest(ingestion.reporting_device(device.pk), body, stamp, now=moment)
    client.force_login(bob)
    before = answers(client, devices)

    source, target = load_backend(source_url), load_backend(target_url)
    target.flush()
    result = copy_points(source, target)
    assert result.mismatches == {}
    counted = sum(there for there, _here in result.counts.values())
    # The 24-hour tier's floor follows the clock: a raw snapshot copied at the start of a slow
    # copy may have aged out of it when the copy counts at the end (two were, under load), so
    # the count may be short by the reports of the copy's duration, never over.
    assert counted <= result.points <= counted + 2 * 12
    assert result.points > 2 * steps * 9  # every report holds a dozen points or so

    settings.TIMESERIES_DATABASE = target_url
    reset_backend()
    after = answers(client, devices)
    assert after == before
    charts = {c["title"] for c in before["lte-router"]["charts"]}
    assert {"Signal Strength (RSSI)", "Traffic: wan", "WiFi clients: wlan0", "CPU Load"} <= charts
    assert len(before[device_a.name]["x"]) == 7 * 24 + 1
    source.flush()
    target.flush()
    reset_backend()
