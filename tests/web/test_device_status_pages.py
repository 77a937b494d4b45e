"""The Status section of the device page and its JSON download, through Django's test client:
the download's authentication and organization boundary, its exact JSON (the same ``data`` as
the chart API's ``?status=true``, on every time-series backend the run covers), and the
section's HTML for a full and a minimal report."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetwatch.core.timeseries import get_backend, reset_backend
from fleetwatch.ingest.netjson import transform_snapshot
from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.models import DeviceState, Metric
from tests.monitoring.test_every_backend import settings_for
from tests.timeseries.conftest import requested_backends
from tests.web.status_reports import full_report, minimal_report

pytestmark = pytest.mark.django_db

# An hour ago, whole seconds: the report's time and its clock (general.local_time).
MOMENT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def at_moment(report: dict) -> dict:
    """``report`` as taken at MOMENT: its clock, and lease expiries moved along with it."""
    shift = int(MOMENT.timestamp()) - report.get("general", {}).get("local_time", int(MOMENT.timestamp()))
    if "general" in report:
        report["general"]["local_time"] = int(MOMENT.timestamp())
    for lease in report.get("dhcp_leases", []):
        if lease["expiry"]:
            lease["expiry"] += shift
    return report


def post_report(client, device, report: dict) -> None:
    stamp = MOMENT.strftime("%d-%m-%Y_%H:%M:%S.%f")
    response = client.post(
        f"/api/v1/monitoring/device/{device.pk}/?key={device.key}&time={stamp}",
        json.dumps(report),
        content_type="application/json",
    )
    assert (response.status_code, response.content) == (200, b"null")


def download_url(device) -> str:
    return f"/devices/{device.pk}/status.json"


def test_the_download_asks_for_a_login(client, device_a):
    response = client.get(download_url(device_a))
    assert (response.status_code, response["Location"]) == (
        302,
        f"/login/?next=/devices/{device_a.pk}/status.json",
    )


def test_the_download_of_another_organizations_device_is_a_404(client, timeseries, device_a, charlie):
    post_report(client, device_a, at_moment(full_report()))
    client.force_login(charlie)
    response = client.get(download_url(device_a))
    assert response.status_code == 404
    assert b"ap-lobby" not in response.content
    assert client.get(f"/devices/{device_a.pk}/").status_code == 404


def test_a_device_that_never_reported_downloads_nulls(client, device_a, bob):
    client.force_login(bob)
    response = client.get(download_url(device_a))
    assert response.status_code == 200
    assert response.json() == {"id": str(device_a.pk), "name": "ap-lobby", "time": None, "data": None}


def test_a_device_without_a_report_has_no_status_section(client, timeseries, device_a, bob):
    client.force_login(bob)
    page = client.get(f"/devices/{device_a.pk}/").content.decode()
    assert 'id="device-status"' not in page
    assert "status.json" not in page


@pytest.mark.parametrize("backend_name", requested_backends())
def test_the_download_is_the_snapshot_of_the_chart_api(
    backend_name, client, settings, device_a, bob, tmp_path
):
    """On every backend: the agent's report in, the download's ``data`` is the chart API's
    ``?status=true`` ``data``, and both are the report as the snapshot keeps it."""
    DeviceState.objects.filter(device=device_a).delete()
    Metric.objects.filter(device=device_a).delete()
    settings.TIMESERIES_DATABASE = settings_for(backend_name, tmp_path)
    reset_backend()
    get_backend().flush()
    try:
        report = at_moment(full_report())
        post_report(client, device_a, report)
        client.force_login(bob)  # a member: reads, does not administer
        response = client.get(download_url(device_a))
        api = client.get(f"/api/v1/monitoring/device/{device_a.pk}/", {"status": "true", "time": "1d"})
    finally:
        get_backend().flush()
        reset_backend()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"ap-lobby-status.json\"; filename*=UTF-8''ap-lobby-status.json"
    )
    body = response.json()
    assert list(body) == ["id", "name", "time", "data"]
    assert body["id"] == str(device_a.pk)
    assert body["name"] == "ap-lobby"
    assert body["time"] == MOMENT.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.status_code == 200
    assert body["data"] == api.json()["data"]
    expected = transform_snapshot(report)
    assert body["data"] == expected
    # What the snapshot changed: the modem's signal values are floats, bitrates in Mbit/s, the
    # VHT flag of a client of an HT20 radio null.
    assert body["data"]["interfaces"][1]["mobile"]["signal"]["lte"] == {
        "rsrp": -75.0,
        "rsrq": -8.0,
        "rssi": -51.0,
        "snr": 13.0,
    }
    clients = body["data"]["interfaces"][0]["wireless"]["clients"]
    assert (clients[0]["bitrate"], clients[1]["vht"]) == (144.4, None)


def test_the_name_of_the_download_is_safe_whatever_the_device_is_called(client, timeseries, device_a, alice):
    device_a.name = 'ap "lobby"/1'
    device_a.save(update_fields=["name"])
    client.force_login(alice)
    response = client.get(download_url(device_a))
    assert response["Content-Disposition"] == (
        "attachment; filename=\"ap _lobby__1-status.json\"; filename*=UTF-8''ap%20%22lobby%22_1-status.json"
    )


def cells(html: str, section: str) -> list[list[str]]:
    """The text of every body row's cells of a section's tables (tags stripped, spaces folded)."""
    found = re.search(rf'<section id="{section}">(.*?)</section>', html, re.S)
    assert found, f"no section {section}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1).split("<tbody>", 1)[-1], re.S)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", c).split())
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in rows
    ]


def test_the_page_shows_every_section_of_a_full_report(client, timeseries, device_a, bob):
    device_a.os = "OpenWrt 23.05.3 r23809-234f1a2efa"
    device_a.save(update_fields=["os"])
    post_report(client, device_a, at_moment(full_report()))
    client.force_login(bob)
    html = client.get(f"/devices/{device_a.pk}/").content.decode()
    sections = re.findall(r'<section id="(status-[a-z-]+)">', html)
    assert sections == [
        "status-general",
        "status-resources",
        "status-disks",
        "status-interfaces",
        "status-wifi-clients",
        "status-mobile",
        "status-dhcp-leases",
        "status-neighbors",
    ]
    assert f'href="/devices/{device_a.pk}/status.json"' in html
    assert cells(html, "status-general")[:2] == [
        ["Hostname", "ap-lobby"],
        ["Firmware", "OpenWrt 23.05.3 r23809-234f1a2efa"],
    ]
    assert cells(html, "status-dhcp-leases") == [
        ["192.168.1.136", "a4:4e:31:c2:0e:26", "Intel Corporate", "laptop", "in 2h 5m"],
        ["192.168.1.140", "da:a1:19:0b:2c:3d", "", "", "never"],
        ["192.168.1.141", "b8:27:eb:aa:bb:cc", "Raspberry Pi Foundation", "sensor", "1m 30s ago"],
    ]
    assert cells(html, "status-neighbors")[1] == ["fe80::1", "da:a1:19:0b:2c:3d", "", "br-lan", "STALE"]


def test_the_page_of_a_minimal_report_shows_general_only(client, timeseries, device_a, bob):
    post_report(client, device_a, minimal_report())
    client.force_login(bob)
    html = client.get(f"/devices/{device_a.pk}/").content.decode()
    assert re.findall(r'<section id="(status-[a-z-]+)">', html) == ["status-general"]
    assert cells(html, "status-general") == [
        ["Hostname", "bare"],
        ["Uptime", "42s"],
        ["Load", "0.50 0.25 0.12"],
        ["CPUs", "1"],
    ]


def test_the_docs_example_is_a_real_download(client, timeseries, orgs, bob):
    """docs/web.md shows the download of a bare agent's report: the same keys and data as the
    real one (its id and time are those of the docs' example device and moment)."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text()
    section = docs.split("## The device's status", 1)[1].split("\n## ", 1)[0]
    example = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    device = Device.objects.create(organization=orgs[0], name="bare")
    post_report(client, device, minimal_report())
    client.force_login(bob)
    body = client.get(download_url(device)).json()
    assert body == {**example, "id": str(device.pk), "time": MOMENT.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert list(body) == list(example)
