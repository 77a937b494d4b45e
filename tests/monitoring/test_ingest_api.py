"""POST /api/v1/monitoring/device/<uuid>/?key=…: the agent protocol's status codes and writes."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from fleetwatch.monitoring.models import Chart, DeviceState, Metric
from fleetwatch.timeseries import BackendUnavailable, ReadQuery
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db


def post(client, device, body, key=None, **params):
    query = {"key": device.key if key is None else key, **params}
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(f"/api/v1/monitoring/device/{device.pk}/?{qs}", data, content_type="application/json")


def test_it_accepts_a_report_and_creates_metrics_and_charts(client, device_a, timeseries):
    response = post(client, device_a, example_report())
    assert response.status_code == 200
    assert response.content == b"null"
    names = sorted(Metric.objects.filter(device=device_a).values_list("name", flat=True))
    assert names == sorted(
        [
            "wlan0 traffic",
            "eth0 traffic",
            "wlan0 wifi clients",
            "signal strength",
            "signal quality",
            "access technology",
            "CPU usage",
            "Disk usage",
            "Memory usage",
        ]
    )
    assert Chart.objects.filter(metric__device=device_a).count() >= 9
    assert timeseries.count_points(retention="default") == {
        "traffic": 2,
        "wifi_clients": 1,
        "signal": 1,
        "cpu": 1,
        "disk": 1,
        "memory": 1,
    }
    assert timeseries.count_points(retention="short") == {"device_data": 1}
    device_a.refresh_from_db()
    assert device_a.last_seen is not None


def test_a_second_report_creates_no_new_metrics_and_stores_traffic_deltas(client, device_a, timeseries):
    first = example_report()
    post(client, device_a, first, time="20-10-2026_10:00:00.000000")
    second = example_report()
    second["interfaces"][2]["statistics"] = {"rx_bytes": 3275, "tx_bytes": 100}  # eth0: +1000, reset
    assert post(client, device_a, second, time="20-10-2026_10:05:00.000000").status_code == 200
    assert Metric.objects.filter(device=device_a).count() == 9
    rows = timeseries.read(ReadQuery("traffic", ["rx_bytes", "tx_bytes"], tags={"ifname": "eth0"}))
    assert [(r.time.minute, r.fields) for r in rows] == [
        (0, {"rx_bytes": 2275, "tx_bytes": 826}),
        (5, {"rx_bytes": 1000, "tx_bytes": 100}),
    ]


def test_back_dated_reports_are_stored_at_their_own_time(client, device_a, timeseries):
    assert (
        post(
            client, device_a, example_report(), time="20-10-2026_08:53:43.000000", current="true"
        ).status_code
        == 200
    )
    [cpu] = timeseries.read(ReadQuery("cpu"))
    assert cpu.time == datetime(2026, 10, 20, 8, 53, 43, tzinfo=UTC)
    assert DeviceState.objects.get(device=device_a).data_time == cpu.time


@pytest.mark.parametrize(
    ("body", "params", "detail"),
    [
        (b"{not json", {}, "Invalid JSON"),
        (
            {"type": "DeviceMonitoring", "resources": {"load": [0.1, 0.2]}},
            {},
            'Invalid data in "#/resources/load"',
        ),
        ({"type": "Wrong"}, {}, 'Invalid data in "#/type"'),
        (None, {"time": "2026-10-20T10:00:00"}, "Incorrect time format"),
    ],
)
def test_bad_reports_get_400_and_write_nothing(client, device_a, timeseries, body, params, detail):
    response = post(client, device_a, example_report() if body is None else body, **params)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert timeseries.count_points() == {}
    assert timeseries.count_points(retention="short") == {}
    assert not Metric.objects.exists()
    device_a.refresh_from_db()
    assert device_a.last_seen is None


def test_wrong_or_missing_key_is_403(client, device_a, timeseries):
    assert post(client, device_a, example_report(), key="0" * 32).status_code == 403
    assert post(client, device_a, example_report(), key="").status_code == 403
    assert timeseries.count_points() == {}


def test_unknown_inactive_or_disabled_organization_devices_are_404(client, device_a, timeseries):
    class Ghost:
        pk = uuid.uuid4()
        key = "x"

    assert post(client, Ghost, example_report()).status_code == 404
    device_a.is_active = False
    device_a.save()
    assert post(client, device_a, example_report()).status_code == 404
    device_a.is_active = True
    device_a.save()
    device_a.organization.is_active = False
    device_a.organization.save()
    assert post(client, device_a, example_report()).status_code == 404
    assert client.post("/api/v1/monitoring/device/not-a-uuid/?key=x").status_code == 404


def test_an_unreachable_store_answers_503_and_changes_nothing(client, device_a, timeseries, monkeypatch):
    def down(*args, **kwargs):
        raise BackendUnavailable("connection refused")

    monkeypatch.setattr(timeseries, "_write_tiers", down)
    response = post(client, device_a, example_report())
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not Metric.objects.exists()
    device_a.refresh_from_db()
    assert device_a.last_seen is None


def test_status_returns_the_latest_snapshot(client, device_a, timeseries, alice):
    post(client, device_a, example_report(), time="20-10-2026_10:00:00.000000")
    newer = example_report()
    newer["general"]["uptime"] = 9999
    post(client, device_a, newer, time="20-10-2026_10:05:00.000000")
    older = example_report()
    older["general"]["uptime"] = 1
    post(client, device_a, older, time="20-10-2026_09:00:00.000000")  # back-dated, arrives last
    body = client.get(f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}&status=true").json()
    assert body["data"]["general"]["uptime"] == 9999
    assert body["data"]["type"] == "DeviceMonitoring"
