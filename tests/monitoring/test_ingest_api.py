"""POST /api/v1/monitoring/device/<uuid>/?key=…: the agent protocol's status codes and writes."""

import json
import uuid
from datetime import UTC, datetime, timedelta

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


# ----------------------------------------------------------------------------------- hostile input
def counts(timeseries, device):
    state = DeviceState.objects.filter(device=device).values_list("data_time", "counters").first()
    return (
        timeseries.count_points(),
        timeseries.count_points(retention="short"),
        state,
        Metric.objects.count(),
    )


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("NaN", "#/resources/load/0"),
        ("Infinity", "#/resources/load/0"),
        ("-Infinity", "#/resources/load/0"),
        ("1e400", "#/resources/load/0"),
    ],
)
def test_numbers_no_store_can_keep_are_400_with_their_path(
    client, device_a, timeseries, value, path
):  # row f
    report = example_report()
    report["resources"]["load"][0] = "@"
    response = post(client, device_a, json.dumps(report).replace('"@"', value))
    assert response.status_code == 400
    assert response.json() == {
        "detail": f'Invalid data in "{path}", validator says: {value} is not a finite number'
    }
    assert counts(timeseries, device_a) == ({}, {}, None, 0)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "'' should be non-empty"),
        ("wan\nrx_bytes=1", "'wan\\nrx_bytes=1' contains a control character"),
    ],
)
def test_interface_names_that_cannot_be_tags_are_400(client, device_a, timeseries, name, reason):  # row f
    report = example_report()
    report["interfaces"][0]["name"] = name
    response = post(client, device_a, report)
    assert response.status_code == 400
    assert response.json() == {"detail": f'Invalid data in "#/interfaces/0/name", validator says: {reason}'}
    assert counts(timeseries, device_a) == ({}, {}, None, 0)


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000])
def test_a_body_nested_5000_levels_deep_is_400(client, device_a, timeseries, body):  # row g
    response = post(client, device_a, body)
    assert response.status_code == 400
    assert response.json() == {"detail": 'Invalid data in "#", validator says: nested deeper than 32 levels'}
    assert counts(timeseries, device_a) == ({}, {}, None, 0)


def test_too_many_interfaces_are_400(client, device_a, timeseries, settings):
    settings.FLEETWATCH_MAX_INTERFACES = 3
    report = {"type": "DeviceMonitoring", "interfaces": [{"name": f"eth{i}"} for i in range(4)]}
    response = post(client, device_a, report)
    assert response.status_code == 400
    assert response.json() == {
        "detail": 'Invalid data in "#/interfaces", validator says: more than 3 interfaces'
    }
    report["interfaces"].pop()
    assert post(client, device_a, report).status_code == 200


def test_a_time_ahead_of_the_servers_clock_is_400_and_changes_nothing(client, device_a, timeseries):
    now = datetime.now(UTC)
    assert (
        post(
            client, device_a, example_report(), time=f"{now - timedelta(minutes=10):%d-%m-%Y_%H:%M:%S}"
        ).status_code
        == 200
    )
    before = counts(timeseries, device_a)
    ahead = now + timedelta(minutes=6)  # the tolerance is 5 minutes
    response = post(client, device_a, example_report(), time=f"{ahead:%d-%m-%Y_%H:%M:%S.%f}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        f"time {ahead:%d-%m-%Y_%H:%M:%S.%f} lies ahead of the server's clock"
    )
    assert response.json()["detail"].endswith("by more than 300 s")
    assert counts(timeseries, device_a) == before
    # Within the tolerance (a drifting clock) the report is stored, and becomes the latest.
    assert (
        post(
            client, device_a, example_report(), time=f"{now + timedelta(minutes=4):%d-%m-%Y_%H:%M:%S}"
        ).status_code
        == 200
    )


def test_a_snapshot_from_the_future_stored_earlier_is_replaced(client, device_a, timeseries):
    post(client, device_a, example_report())
    DeviceState.objects.filter(device=device_a).update(data_time=datetime.now(UTC) + timedelta(days=365))
    report = example_report()
    report["general"]["uptime"] = 42
    assert post(client, device_a, report).status_code == 200
    assert DeviceState.objects.get(device=device_a).data["general"]["uptime"] == 42


def test_the_relational_database_failing_mid_report_is_503(client, device_a, timeseries, monkeypatch):
    """`update_state` raising OperationalError stands for a lock held past the timeout (tests/
    monitoring/test_ingest_live.py holds a real one): 503, and what was written is rolled back."""
    from django.db import OperationalError

    from fleetwatch.monitoring import ingestion

    def locked(*args):
        raise OperationalError("database is locked")

    monkeypatch.setattr(ingestion, "update_state", locked)
    response = post(client, device_a, example_report())
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {"detail": "The database is unavailable; keep the sample and retry."}
    assert not Metric.objects.exists()


def test_a_time_older_than_what_is_kept_is_400(client, device_a, timeseries):
    response = post(client, device_a, example_report(), time="01-01-1900_00:00:00")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "time 01-01-1900_00:00:00 is older than the 1095 days Fleetwatch keeps"
    }
    assert counts(timeseries, device_a) == ({}, {}, None, 0)


def test_an_interface_name_line_protocol_cannot_carry_is_400_on_every_backend(client, device_a, timeseries):
    report = example_report()
    report["interfaces"][0]["name"] = "wan\\"
    response = post(client, device_a, report)
    assert response.status_code == 400
    assert response.json() == {
        "detail": 'Invalid data in "#/interfaces/0/name", validator says: '
        "'wan\\\\' has a backslash at its end or before ',', '=' or a space"
    }


def test_a_refused_report_leaves_its_reason_in_the_log(client, device_a, timeseries, caplog):
    # The agent drops a report answered 400 for good: the server's log is where it can be read.
    with caplog.at_level("WARNING", logger="fleetwatch.monitoring.api.views"):
        response = post(client, device_a, {"type": "Wrong"})
    assert response.status_code == 400
    assert [r.getMessage() for r in caplog.records if r.name == "fleetwatch.monitoring.api.views"] == [
        f"report of {device_a.pk} refused (400): {response.json()['detail']}"
    ]
