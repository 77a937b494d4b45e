"""Above the storage layer nothing depends on the backend: the same reports give the same chart
and dashboard answers on every backend the run covers (real servers, as in the conformance suite)."""

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.core.timeseries import get_backend, reset_backend
from fleetwatch.monitoring.models import DeviceState, Metric
from tests.ingest.payloads import example_report
from tests.timeseries.conftest import requested_backends

pytestmark = pytest.mark.django_db

# Yesterday 10:00–11:55 UTC: in the past whatever the hour of the run, and fixed, so that the
# reference run and the backend's run ask for exactly the same buckets.
DAY = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
RANGE = {
    "start": DAY.strftime("%Y-%m-%d %H:%M:%S"),
    "end": (DAY + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S"),
}


def settings_for(name, tmp_path):
    if name == "sqlite":
        return {"BACKEND": "sqlite", "NAME": str(tmp_path / f"ts-{name}.db")}
    url = os.environ.get(f"FLEETWATCH_TEST_{name.upper()}_URL")
    if not url:
        pytest.fail(f"FLEETWATCH_TEST_{name.upper()}_URL is not set: run `make test`", pytrace=False)
    return url + ("&" if "?" in url else "?") + "schema=fleetwatch_test_e2e"


def scenario(client, settings, device, timeseries_settings):
    """Twelve 5-minute reports through the agent API, then the chart and dashboard APIs."""
    DeviceState.objects.filter(device=device).delete()  # a fresh device for each run
    Metric.objects.filter(device=device).delete()
    settings.TIMESERIES_DATABASE = timeseries_settings
    reset_backend()
    get_backend().flush()
    for step in range(12):
        report = example_report()
        for iface in report["interfaces"]:
            if "statistics" in iface:
                # eth0's counter resets at step 6 (a reboot): a delta of the new reading
                reset = iface["name"] == "eth0" and step >= 6
                iface["statistics"]["rx_bytes"] = (step - 6 if reset else step) * 1_000_000 + 500
                iface["statistics"]["tx_bytes"] = step * 250_000
        report["resources"]["load"][0] = round(0.1 * (step % 4), 2)
        moment = (DAY + timedelta(minutes=5 * step)).strftime("%d-%m-%Y_%H:%M:%S.%f")
        response = client.post(
            f"/api/v1/monitoring/device/{device.pk}/?key={device.key}&time={moment}",
            json.dumps(report),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
    charts = client.get(f"/api/v1/monitoring/device/{device.pk}/", {**RANGE, "timezone": "Europe/Rome"})
    dashboard = client.get("/api/v1/monitoring/dashboard/", {**RANGE, "ifname": "eth0,wlan0"})
    assert charts.status_code == 200
    assert dashboard.status_code == 200
    get_backend().flush()
    reset_backend()
    return {"x": charts.json()["x"], "charts": charts.json()["charts"], "dashboard": dashboard.json()}


@pytest.mark.parametrize("backend_name", requested_backends())
def test_ingest_and_charts_answer_the_same_on_every_backend(
    backend_name, client, settings, device_a, bob, tmp_path
):
    client.force_login(bob)
    answer = scenario(client, settings, device_a, settings_for(backend_name, tmp_path))
    reference = scenario(client, settings, device_a, settings_for("sqlite", tmp_path))
    assert answer == reference
    # And the reference itself is right. The range is 10:00–12:00 in Rome (UTC+1): 13 ten-minute
    # buckets; the reports (10:00–10:55 UTC) fill the six from 11:00 to 11:50.
    assert answer["x"][0].endswith("10:00")
    assert answer["x"][-1].endswith("12:00")
    assert len(answer["x"]) == 13
    charts = {c["title"]: c for c in answer["charts"]}
    empty = [None] * 6
    # Two reports a bucket, 1 MB each; eth0's counter reset at the 7th report counts its reading.
    assert dict(charts["Traffic: eth0"]["traces"])["download"] == [
        *empty,
        0.001,
        0.002,
        0.002,
        0.001,
        0.002,
        0.002,
        None,
    ]
    assert dict(charts["CPU Load"]["traces"])["CPU_load"] == [*empty, 5.0, 25.0, 5.0, 25.0, 5.0, 25.0, None]
    assert charts["CPU Load"]["summary"] == {"CPU_load": 15.0}
    assert dict(charts["Access Technology"]["traces"])["access_tech"] == [
        *empty,
        4,
        4,
        4,
        4,
        4,
        4,
        None,
    ]
    general = {c["title"]: c for c in answer["dashboard"]["charts"]}
    assert general["General Traffic"]["summary"] == {"upload": 0.0055, "download": 0.02}
    assert dict(general["General WiFi Clients"]["traces"])["wifi_clients"] == [1] * 6 + [0] * 7
