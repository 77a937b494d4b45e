"""The device page's Status section in headless Chromium: a full report shows every section
(exact cells: vendors from the IEEE registry, lease expiries relative to the report's time), a
minimal one only what it carries, a simulated router of `make run` every section; the JSON
download link saves the snapshot the chart API serves with ``?status=true``.

With FLEETWATCH_SCREENSHOTS=docs/img the simulated router's test writes docs/img/device-status.png
(docs/web.md shows it)."""

import json
import os
import re
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.inventory.models import Device
from fleetwatch.monitoring import ingestion
from fleetwatch.monitoring.simulator import FIRMWARE, report
from tests.web.status_reports import full_report, minimal_report

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = os.environ.get("FLEETWATCH_SCREENSHOTS")

MOMENT = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
EVERY_SECTION = [
    "status-general",
    "status-resources",
    "status-disks",
    "status-interfaces",
    "status-wifi-clients",
    "status-mobile",
    "status-dhcp-leases",
    "status-neighbors",
]


def ingest(device, data: dict) -> None:
    ingestion.ingest(
        ingestion.reporting_device(device.pk),
        json.dumps(data).encode(),
        MOMENT.strftime("%d-%m-%Y_%H:%M:%S.%f"),
    )


def at_moment(data: dict) -> dict:
    """The full report as taken at MOMENT: its clock and its lease expiries moved along."""
    shift = int(MOMENT.timestamp()) - data["general"]["local_time"]
    data["general"]["local_time"] += shift
    for lease in data["dhcp_leases"]:
        if lease["expiry"]:
            lease["expiry"] += shift
    return data


def open_device_page(browser, live_server, device, username="bob"):
    context = browser.new_context(
        timezone_id="UTC", viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/devices/{device.pk}/")
    return page


def sections(page) -> list[str]:
    return page.eval_on_selector_all("#device-status section[id]", "els => els.map(e => e.id)")


def rows(page, selector: str) -> list[list[str]]:
    """The visible text of every body row's cells of the tables under ``selector``."""
    return page.eval_on_selector_all(
        f"{selector} tbody tr",
        "trs => trs.map(tr => [...tr.querySelectorAll('th, td')].map(c => c.innerText.trim()))",
    )


def test_a_full_report_shows_every_section_and_downloads_as_json(
    browser, live_server, client, timeseries, device_a, bob
):
    device_a.os = "OpenWrt 23.05.3 r23809-234f1a2efa"
    device_a.save(update_fields=["os"])
    ingest(device_a, at_moment(full_report()))
    page = open_device_page(browser, live_server, device_a)
    assert page.is_visible("#device-status h2:text-is('Status')")
    assert sections(page) == EVERY_SECTION
    # MOMENT is 30 minutes before the module was imported; a slow run ages it further.
    assert re.fullmatch(
        rf"Reported {MOMENT:%Y-%m-%d %H:%M:%S} UTC \(\d+\xa0minutes ago\) · Download JSON",
        page.inner_text("#status-time"),
    )
    assert rows(page, "#status-general")[:3] == [
        ["Hostname", "ap-lobby"],
        ["Firmware", "OpenWrt 23.05.3 r23809-234f1a2efa"],
        ["Uptime", "2h 13m"],
    ]
    assert rows(page, "#status-resources")[0] == ["Memory used", "23.2 MiB of 238.2 MiB (10%)"]
    assert rows(page, "#status-disks") == [
        ["/", "/dev/root", "252.0 KiB", "18.4 KiB", "228.5 KiB", "7%"],
        ["/boot", "/dev/sda1", "15.7 KiB", "3.8 KiB", "11.6 KiB", "25%"],
    ]
    eth0 = page.eval_on_selector(
        "#status-interfaces tr[data-interface=eth0]", "tr => [...tr.cells].map(c => c.innerText.trim())"
    )
    assert eth0 == [
        "eth0",
        "ethernet",
        "up",
        "44:d1:fa:4b:38:42",
        "1500",
        "1000F",
        "192.168.1.2/24 ipv4 (dhcp)\n2001:db8::2/64 ipv6 (dhcpv6)",
        "1.5 MiB (1,234 packets)",
        "826 B (12 packets)",
        "rx 0 / tx 3",
        "rx 7 / tx 0",
    ]
    assert page.inner_text("#status-interfaces tr[data-detail=wlan0] .radio") == (
        "mode access point · SSID testnet · channel 6 · 2437 MHz · HT20 · tx power 6 dBm · noise -95 dBm"
        " · signal -29 dBm · country US"
    )
    assert page.inner_text("#status-interfaces tr[data-interface=br-lan] .link-state") == "down"
    assert page.inner_text("#status-wifi-clients h4") == "wlan0 · testnet · 3 clients"
    assert rows(page, "#status-wifi-clients") == [
        ["00:ee:ad:34:f5:3b", "", "-41 dBm", "144.4 Mbit/s", "auth, authorized, assoc, WMM, HT"],
        ["f0:18:98:12:34:56", "Apple, Inc.", "-67 dBm", "", "auth, authorized, assoc, WMM, HT"],
        ["da:a1:19:0b:2c:3d", "", "-80 dBm", "", "auth, assoc, MFP"],
    ]
    assert rows(page, "#status-mobile") == [
        [
            "mobile0",
            "YES OPTUS (50502)",
            "LTE",
            "RSSI -51 dBm, RSRP -75 dBm, RSRQ -8 dB, SNR 13 dB",
            "connected (power on)",
            "Sierra Wireless, Incorporated MC7430",
            "300000001234567",
        ]
    ]
    assert rows(page, "#status-dhcp-leases") == [
        ["192.168.1.136", "a4:4e:31:c2:0e:26", "Intel Corporate", "laptop", "in 2h 5m"],
        ["192.168.1.140", "da:a1:19:0b:2c:3d", "", "", "never"],
        ["192.168.1.141", "b8:27:eb:aa:bb:cc", "Raspberry Pi Foundation", "sensor", "1m 30s ago"],
    ]
    expiry = datetime.fromtimestamp(int(MOMENT.timestamp()) + 2 * 3600 + 300, UTC)
    assert page.get_attribute("#status-dhcp-leases tbody tr >> nth=0 >> td >> nth=4", "title") == (
        f"{expiry:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert rows(page, "#status-neighbors") == [
        ["192.168.1.1", "44:d1:fa:4b:38:01", "Shenzhen Yunlink Technology Co., Ltd", "eth0", "REACHABLE"],
        ["fe80::1", "da:a1:19:0b:2c:3d", "", "br-lan", "STALE"],
    ]

    with page.expect_download() as downloading:
        page.click("#status-json")
    download = downloading.value
    assert download.suggested_filename == "ap-lobby-status.json"
    saved = json.loads(open(download.path()).read())
    client.force_login(bob)
    api = client.get(f"/api/v1/monitoring/device/{device_a.pk}/?status=true&time=1d").json()
    assert saved["data"] == api["data"]
    assert saved["time"] == MOMENT.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert saved["data"]["dhcp_leases"][0]["ip"] == "192.168.1.136"


def test_a_minimal_report_shows_only_its_general_section(browser, live_server, timeseries, device_a, bob):
    ingest(device_a, minimal_report())
    page = open_device_page(browser, live_server, device_a)
    assert sections(page) == ["status-general"]
    assert rows(page, "#status-general") == [
        ["Hostname", "bare"],
        ["Uptime", "42s"],
        ["Load", "0.50 0.25 0.12"],
        ["CPUs", "1"],
    ]
    for absent in ("Resources", "Interfaces", "WiFi clients", "Mobile", "DHCP leases", "ARP neighbours"):
        assert page.locator(f"#device-status h3:text-is('{absent}')").count() == 0


def test_a_device_that_never_reported_has_no_status_section(browser, live_server, timeseries, device_a, bob):
    page = open_device_page(browser, live_server, device_a)
    assert page.inner_text("#health-status") == "waiting for first report"
    assert page.locator("#device-status").count() == 0


def test_a_simulated_router_of_make_run_shows_every_section(browser, live_server, timeseries, orgs, bob):
    """The acceptance of issue 20: `make run`'s simulated routers (``fleetwatch simulate``,
    every fourth with an LTE modem) report leases, neighbours and addresses."""
    router = Device.objects.create(organization=orgs[0], name="sim-003", os=FIRMWARE)
    peak = MOMENT.replace(hour=20, minute=0, second=0) - timedelta(days=1)  # the busiest hour
    data = report(3, peak, peak - timedelta(days=1), lte=True)
    data["general"]["local_time"] = int(MOMENT.timestamp())
    ingest(router, data)
    page = open_device_page(browser, live_server, router)
    assert sections(page) == EVERY_SECTION
    assert rows(page, "#status-general")[:2] == [["Hostname", "sim-003"], ["Firmware", FIRMWARE]]
    assert page.inner_text("#status-interfaces tr[data-interface=br-lan] td.addresses") == (
        "192.168.1.1/24 ipv4 (static)\nfd00:1::1/60 ipv6 (static)"
    )
    leases = rows(page, "#status-dhcp-leases")
    assert leases[0][:3] == ["192.168.1.100", "00:1b:63:03:00:00", "Apple, Inc."]
    assert len(leases) == len(rows(page, "#status-wifi-clients"))
    assert rows(page, "#status-neighbors")[0][3:] == ["wan", "REACHABLE"]
    assert rows(page, "#status-mobile")[0][1:3] == ["TIM (22201)", "LTE"]
    if SCREENSHOTS:
        page.locator("#device-status").screenshot(path=f"{SCREENSHOTS}/device-status.png")
