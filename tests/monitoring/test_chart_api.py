"""GET /api/v1/monitoring/device/<uuid>/: charts, CSV, authentication and organization boundaries."""

import json

import pytest
from rest_framework.authtoken.models import Token

from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db

WINDOW = "start=2026-10-20%2000:00:00&end=2026-10-20%2023:59:59"


@pytest.fixture
def reported(client, device_a, timeseries):
    for time, load in (("20-10-2026_10:00:00.000000", 0.12), ("20-10-2026_10:05:00.000000", 0.5)):
        report = example_report()
        report["resources"]["load"] = [load, 0.1, 0.1]
        url = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}&time={time}"
        assert client.post(url, json.dumps(report), content_type="application/json").status_code == 200
    return device_a


def chart_with(body, trace):
    """The chart of the response that has a trace of that name."""
    return next(chart for chart in body["charts"] if trace in dict(chart["traces"]))


def test_an_organization_member_sees_every_chart_with_exact_values(client, reported, bob):
    client.force_login(bob)
    response = client.get(f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}")
    assert response.status_code == 200
    body = response.json()
    assert len(body["x"]) == 144  # one day of 10-minute buckets
    assert body["x"][60] == "2026-10-20 10:00"
    cpu = chart_with(body, "CPU_load")
    traces = dict(cpu["traces"])
    assert traces["CPU_load"][60] == 31.0  # mean of 12 and 50 in the 10:00 bucket
    assert traces["CPU_load"][59] is None
    assert cpu["summary"] == {"CPU_load": 31.0}
    assert dict(chart_with(body, "wifi_clients")["traces"])["wifi_clients"][60] == 1
    ordered = [(c["order"], c["title"]) for c in body["charts"]]
    assert ordered == sorted(ordered)


def test_time_zone_shifts_the_labels(client, reported, alice):
    client.force_login(alice)
    body = client.get(f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}&timezone=Europe/Rome").json()
    assert body["x"][0] == "2026-10-20 00:00"
    # 10:00 UTC is 12:00 in Rome (CEST): the CPU point moved two hours later in the day.
    assert dict(chart_with(body, "CPU_load")["traces"])["CPU_load"][72] == 31.0


def test_token_and_device_key_authentication(client, reported, alice):
    token = Token.objects.create(user=alice)
    url = f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}"
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    assert client.get(f"{url}&key={reported.key}").status_code == 200
    assert client.get(f"{url}&key=wrong").status_code == 403
    assert client.get(url).status_code == 401


def test_another_organization_cannot_see_the_device(client, reported, charlie, device_b):
    client.force_login(charlie)
    assert client.get(f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}").status_code == 404
    # ... nor use its own device key to read or write another device
    assert client.get(f"/api/v1/monitoring/device/{reported.pk}/?key={device_b.key}").status_code == 403
    response = client.post(
        f"/api/v1/monitoring/device/{reported.pk}/?key={device_b.key}",
        json.dumps(example_report()),
        content_type="application/json",
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("time=7d&timezone=Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("time=2w", "time range not supported"),
        ("start=2026-10-20%2000:00:00", "give both start and end"),
        ("start=2026-10-21%2000:00:00&end=2026-10-20%2000:00:00", "start must not be after end"),
        ("start=2020-01-01%2000:00:00&end=2026-10-20%2000:00:00", "must not exceed 365 days"),
    ],
)
def test_bad_windows_are_400(client, reported, alice, params, message):
    client.force_login(alice)
    response = client.get(f"/api/v1/monitoring/device/{reported.pk}/?{params}")
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_csv_export(client, reported, alice):
    client.force_login(alice)
    response = client.get(f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}&csv=1")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("time,")
    assert len(lines) == 1 + 144
    row = dict(zip(lines[0].split(","), lines[61].split(","), strict=False))
    assert row["time"] == "2026-10-20 10:00"
