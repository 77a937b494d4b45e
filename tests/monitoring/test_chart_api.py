"""GET /api/v1/monitoring/device/<uuid>/: charts, CSV, authentication and organization boundaries."""

import json
from datetime import UTC, datetime

import pytest
from rest_framework.authtoken.models import Token

from fleetwatch.core.timeseries import get_backend
from fleetwatch.metrics import get_chart, register_chart, register_metric
from fleetwatch.metrics.registry import restore, snapshot
from fleetwatch.monitoring.check_runner import metric_for
from fleetwatch.monitoring.ingestion import device_tags
from fleetwatch.timeseries import Point
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
    titles = [c["title"] for c in body["charts"]]
    # Sorted by order, then title: signal (205-207), WiFi clients (230), traffic (240), memory…
    assert titles == [
        "Signal Strength (RSSI)",
        "Signal Quality (RSRQ)",
        "Access Technology",
        "WiFi clients: wlan0",
        "Traffic: eth0",
        "Traffic: wlan0",
        "Memory Usage",
        "CPU Load",
        "Disk Usage",
    ]


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


# ------------------------------------------------------------------ the peer's presentation
# What OpenWISP Monitoring 1.3's chart API answers for each built-in chart besides traces,
# summary and description (openwisp_monitoring/monitoring/configuration.py and views.py):
# a consumer written for it finds the same keys and values here. ``{ifname}`` is the tag.
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]
BLUE, ORANGE, GREEN, RED, PURPLE, GREY, TEAL = (PALETTE[i] for i in (0, 1, 2, 3, 4, 7, 9))
TRAFFIC = {
    "type": "stackedbar+lines",
    "unit": "adaptive_prefix+B",
    "summary_labels": ["Total traffic", "Total download traffic", "Total upload traffic"],
    "colors": [GREY, BLUE, ORANGE],
    "colorscale": None,
    "trace_type": {"download": "stackedbar", "upload": "stackedbar", "total": "lines"},
    "trace_order": ["total", "download", "upload"],
    "calculate_total": True,
}
MOBILE = {
    "type": "scatter",
    "colors": [RED, BLUE],
    "colorscale": None,
    "fill": "none",
    "yaxis": {"zeroline": False},
}
IPERF3 = {"type": "scatter", "colorscale": None, "connect_points": True}
PEER = {
    "uptime": {
        "title": "Ping Success Rate",
        "type": "bar",
        "unit": "%",
        "summary_labels": ["Average Ping Success Rate"],
        "colors": [BLUE],
        "colorscale": {
            "max": 100,
            "min": 0,
            "label": "Rate",
            "scale": [[0, "#c13000"], [0.1, "#ec7204"], [0.5, "#deed0e"], [0.9, "#90d000"], [1, "#7db201"]],
            "map": [
                [100, "#7db201", "Flawless"],
                [90, "#90d000", "Mostly Reachable"],
                [50, "#deed0e", "Partly Reachable"],
                [10, "#ec7204", "Mostly Unreachable"],
                [None, "#c13000", "Unreachable"],
            ],
            "fixed_value": 100,
        },
    },
    "packet_loss": {
        "title": "Packet loss",
        "type": "bar",
        "unit": "%",
        "summary_labels": ["Average packet loss"],
        "colors": [RED],
        "colorscale": None,
    },
    "rtt": {
        "title": "Round Trip Time",
        "type": "scatter",
        "unit": " ms",
        "summary_labels": ["Average RTT", "Average Max RTT", "Average Min RTT"],
        "colors": [BLUE, ORANGE, GREEN],
        "colorscale": None,
    },
    "wifi_clients": {
        "title": "WiFi clients: wlan0",
        "type": "bar",
        "unit": "",
        "summary_labels": ["Total Unique WiFi clients"],
        "colors": [BLUE],
        "colorscale": None,
    },
    "gen_wifi_clients": {
        "title": "General WiFi Clients",
        "type": "bar",
        "unit": "",
        "summary_labels": ["Total Unique WiFi clients"],
        "colors": [BLUE],
        "colorscale": None,
    },
    "traffic": {"title": "Traffic: wlan0", **TRAFFIC},
    "general_traffic": {"title": "General Traffic", **TRAFFIC, "fill": "none"},
    "memory": {
        "title": "Memory Usage",
        "type": "scatter",
        "unit": "%",
        "summary_labels": ["Memory Usage"],
        "colors": [PURPLE],
        "colorscale": None,
    },
    "cpu": {
        "title": "CPU Load",
        "type": "scatter",
        "unit": "%",
        "summary_labels": ["CPU Load"],
        "colors": [GREY],
        "colorscale": None,
    },
    "disk": {
        "title": "Disk Usage",
        "type": "scatter",
        "unit": "%",
        "summary_labels": ["Disk Usage"],
        "colors": [TEAL],
        "colorscale": None,
    },
    "signal_strength": {
        "title": "Signal Strength (RSSI)",
        "unit": " dBm",
        "summary_labels": ["Average Signal Power (RSRP)", "Average Signal Strength (RSSI)"],
        **MOBILE,
    },
    "signal_quality": {
        "title": "Signal Quality (RSRQ)",
        "unit": " dB",
        "summary_labels": ["Average Signal Quality (RSRQ)", "Average Signal to Noise Ratio (SNR)"],
        **MOBILE,
    },
    "access_tech": {
        "title": "Access Technology",
        "type": "bar",
        "unit": "",
        "summary_labels": None,
        "colors": None,
        "colorscale": {
            "label": "",
            "map": [
                [5, "#377873", "5g"],
                [4, "#67c368", "lte"],
                [3, "#efdd50", "umts"],
                [2, "#df7514", "evdo"],
                [1, "#dd5817", "cdma1x"],
                [0, "#b42a0c", "gsm"],
            ],
            "max": 5,
            "min": 0,
            "scale": [
                [0, "#b42a0c"],
                [0.1, "#dd5817"],
                [0.2, "#df7514"],
                [0.5, "#efdd50"],
                [0.8, "#67c368"],
                [1, "#377873"],
            ],
            "fixed_value": 100,
        },
    },
    "bandwidth": {
        "title": "Bandwidth",
        "unit": "adaptive_prefix+bps",
        "summary_labels": ["TCP bitrate", "UDP bitrate"],
        "colors": [BLUE, RED],
        "fill": "none",
        **IPERF3,
    },
    "transfer": {
        "title": "Transferred Data",
        "unit": "adaptive_prefix+B",
        "summary_labels": ["TCP transferred data", "UDP transferred data"],
        "colors": [BLUE, RED],
        "fill": "none",
        **IPERF3,
    },
    # The peer's label reads "Restransmits" (a typo; docs/api.md lists it).
    "retransmits": {
        "title": "Retransmits",
        "unit": "",
        "summary_labels": ["Retransmits"],
        "colors": [GREY],
        **IPERF3,
    },
    "jitter": {"title": "Jitter", "unit": " ms", "summary_labels": ["Jitter"], "colors": [PURPLE], **IPERF3},
    "datagram": {
        "title": "Datagram",
        "unit": "",
        "summary_labels": ["Lost datagram", "Total datagram"],
        "colors": [RED, GREEN],
        "fill": "none",
        **IPERF3,
    },
    "datagram_loss": {
        "title": "Datagram Loss",
        "unit": "%",
        "summary_labels": ["Datagram loss"],
        "colors": [RED],
        **IPERF3,
    },
}


@pytest.mark.parametrize("name", sorted(PEER))
def test_each_chart_presents_itself_as_the_peers(name):
    body = get_chart(name).as_json({"ifname": "wlan0"}, "wlan0 traffic")
    description = body.pop("description")
    assert body == PEER[name]
    assert description
    assert "{" not in description


def test_the_api_answers_the_peers_keys_and_values_for_every_chart(client, reported, bob):
    client.force_login(bob)
    body = client.get(f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}").json()
    by_type = {
        "Signal Strength (RSSI)": "signal_strength",
        "Signal Quality (RSRQ)": "signal_quality",
        "Access Technology": "access_tech",
        "WiFi clients: wlan0": "wifi_clients",
        "Memory Usage": "memory",
        "CPU Load": "cpu",
        "Disk Usage": "disk",
    }
    for chart in body["charts"]:
        traces, summary, description = chart.pop("traces"), chart.pop("summary"), chart.pop("description")
        name = by_type.get(chart["title"], "traffic")
        assert chart == {**PEER[name], "title": chart["title"]}
        assert [trace for trace, _values in traces] == sorted(summary)
        assert "{" not in description
    assert "Traffic: eth0" in {c["title"] for c in body["charts"]}


def test_the_device_fields_are_the_peers(client, reported, bob):
    from fleetwatch.monitoring.models import DeviceHealth, Metric

    Metric.objects.filter(device=reported, name="CPU usage").update(is_healthy=False)
    Metric.objects.filter(device=reported, name="Disk usage").update(is_healthy=True)
    DeviceHealth.objects.update_or_create(device=reported, defaults={"status": "problem"})
    client.force_login(bob)
    body = client.get(f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}").json()
    charts, x = body.pop("charts"), body.pop("x")
    assert len(charts) == 9
    assert len(x) == 144
    # Rendered as DRF renders the peer's: ISO 8601, "Z" for UTC.
    assert body.pop("created") == reported.created.isoformat().replace("+00:00", "Z")
    assert body == {
        "id": str(reported.pk),
        "name": "ap-lobby",
        "organization": str(reported.organization_id),
        "group": None,
        "mac_address": "44:d1:fa:4b:38:43",
        "key": None,  # bob is a member: the agent's credential is for administrators
        "last_ip": None,
        "management_ip": None,
        "model": "",
        "os": "",
        "system": "",
        "notes": "",
        "monitoring": {
            "status": "problem",
            "related_metrics": [
                {"name": "CPU usage", "is_healthy": False},
                {"name": "Disk usage", "is_healthy": True},
                {"name": "Memory usage", "is_healthy": None},
                {"name": "access technology", "is_healthy": None},
                {"name": "eth0 traffic", "is_healthy": None},
                {"name": "signal quality", "is_healthy": None},
                {"name": "signal strength", "is_healthy": None},
                {"name": "wlan0 traffic", "is_healthy": None},
                {"name": "wlan0 wifi clients", "is_healthy": None},
            ],
        },
        "modified": None,
    }


# ------------------------------------------------------------------ charts declared elsewhere


@pytest.fixture
def clean_registry():
    state = snapshot()
    yield
    restore(state)


def write(device, measurement, fields, minute, **tags):
    moment = datetime(2026, 10, 20, 10, minute, tzinfo=UTC)
    get_backend().write([Point(measurement, fields, moment, {**device_tags(device), **tags})])


def test_a_chart_with_aggregates_from_settings_answers_its_exact_values(
    client, settings, device_a, bob, timeseries, clean_registry
):
    from django.apps import apps

    settings.FLEETWATCH_CHARTS = {
        "noise": {
            "title": "Noise: {room}",
            "description": "Sound level in {room}.",
            "order": 100,
            "unit": " dB",
            "type": "bar",
            "aggregates": [
                {"fn": "max", "field": "{field_name}", "alias": "loudest"},
                {"fn": "count", "field": "{field_name}", "alias": "samples"},
                {"fn": "mean", "field": "{field_name}", "alias": "mean_cB", "scale": 10, "digits": 0},
            ],
            "colors": ["#000000", "#111111", "#222222"],
        }
    }
    settings.FLEETWATCH_METRICS = {
        "noise": {
            "label": "Noise",
            "metric_name": "Noise",
            "key": "noise",
            "field_name": "db",
            "charts": ["noise"],
        }
    }
    apps.get_app_config("monitoring").ready()
    metric_for(device_a, "noise", {"room": "lab"})
    for minute, level in ((0, 40.0), (4, 45.5), (9, 50.25), (31, 70.0)):
        write(device_a, "noise", {"db": level}, minute, room="lab")
    write(device_a, "noise", {"db": 99.0}, 0, room="hall")  # another series: never counted
    client.force_login(bob)
    body = client.get(
        f"/api/v1/monitoring/device/{device_a.pk}/?start=2026-10-20%2010:00:00&end=2026-10-20%2010:40:00"
    ).json()
    assert body["x"] == [
        "2026-10-20 10:00",
        "2026-10-20 10:10",
        "2026-10-20 10:20",
        "2026-10-20 10:30",
        "2026-10-20 10:40",
    ]
    assert body["charts"] == [
        {
            "title": "Noise: lab",
            "description": "Sound level in lab.",
            "type": "bar",
            "unit": " dB",
            "summary_labels": None,
            "colors": ["#000000", "#111111", "#222222"],
            "colorscale": None,
            "traces": [
                ["loudest", [50.25, None, None, 70.0, None]],
                ["mean_cB", [453.0, None, None, 700.0, None]],  # 45.25 → 452.5 → 453 (half away)
                ["samples", [3, 0, 0, 1, 0]],
            ],
            "summary": {"loudest": 70.0, "samples": 4, "mean_cB": 514.0},  # mean 51.4375
        }
    ]


def test_a_raw_value_chart_is_answered_with_its_own_times(client, device_a, bob, timeseries, clean_registry):
    register_chart("door", {"title": "Door", "description": "Door sensor.", "order": 1, "unit": ""})
    register_metric(
        "door",
        {"label": "Door", "metric_name": "Door", "key": "door", "field_name": "open", "charts": ["door"]},
    )
    metric_for(device_a, "door")
    for minute, value in ((7, 1), (2, 0), (13, 1)):
        write(device_a, "door", {"open": value}, minute)
    client.force_login(bob)
    url = f"/api/v1/monitoring/device/{device_a.pk}/?start=2026-10-20%2010:00:00&end=2026-10-20%2010:40:00"
    rome = f"/api/v1/monitoring/device/{device_a.pk}/?start=2026-10-20%2012:00:00&end=2026-10-20%2012:40:00"
    body = client.get(f"{rome}&timezone=Europe/Rome").json()
    [chart] = body["charts"]
    assert chart["traces"] == [["open", [0, 1, 1]]]
    assert chart["x"] == ["2026-10-20 12:02", "2026-10-20 12:07", "2026-10-20 12:13"]
    assert body["x"] == chart["x"]  # the only chart lends its times to the answer
    assert chart["summary"] == {"open": None}
    lines = client.get(f"{url}&csv=1").content.decode().splitlines()
    assert lines == [
        "time",
        "",
        "Door",
        "time,open",
        "2026-10-20 10:02,0",
        "2026-10-20 10:07,1",
        "2026-10-20 10:13,1",
    ]


def test_the_example_of_docs_api_md_is_a_real_answer(client, reported, bob):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Device charts") : doc.index("## Organization dashboard")]
    example = json.loads(re.search(r"```json\n(.*?)```", section, flags=re.S).group(1))
    client.force_login(bob)
    body = client.get(f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}").json()
    assert list(example) == list(body)
    varying = {"id", "organization", "key", "created", "monitoring", "x", "charts"}
    assert {k: v for k, v in example.items() if k not in varying} == {
        k: v for k, v in body.items() if k not in varying
    }
    [documented] = example["charts"]
    [answered] = [c for c in body["charts"] if c["title"] == documented["title"]]
    assert list(documented) == list(answered)
    for key in ("traces", "summary"):
        documented.pop(key), answered.pop(key)
    assert documented == answered


def test_the_device_key_is_shown_to_administrators_and_the_agent_only(client, reported, alice, bob):
    """A member may read the charts but not the key (with it, anyone can report as the device)."""
    url = f"/api/v1/monitoring/device/{reported.pk}/?{WINDOW}"
    client.force_login(bob)
    assert client.get(url).json()["key"] is None
    assert client.get("/api/v1/inventory/devices/").json()["results"][0]["key"] is None
    client.force_login(alice)
    assert client.get(url).json()["key"] == reported.key
    assert client.get(f"/api/v1/inventory/devices/{reported.pk}/").json()["key"] == reported.key
    client.logout()
    assert client.get(f"{url}&key={reported.key}").json()["key"] == reported.key
