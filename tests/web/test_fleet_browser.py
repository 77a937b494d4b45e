"""The fleet page, its map and the device charts' units in headless Chromium (issue 18, point 5).

Browser tests drive Debian's Chromium as tests/web/test_browser.py does (its fixture). With
FLEETWATCH_SCREENSHOTS=docs/img they also write docs/img/fleet-page.png, fleet-map.png and
device-charts.png (docs/web.md shows them).
"""

import pytest

from fleetwatch.inventory.models import Device, Location
from fleetwatch.monitoring.models import DeviceHealth, HealthStatus
from fleetwatch.notifications.models import Notification
from tests.web.test_charts_ui import SCREENSHOTS, log_in, open_charts, traffic_device  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

# Every link and button on the page, its text color against the first opaque background behind
# it: [text, contrast ratio] of those under WCAG's 4.5:1 for normal text.
LOW_CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
                                 if (c.length === 3 || c[3] > 0.5) return c.slice(0, 3); } return [255, 255, 255]; };
  const low = [];
  for (const el of document.querySelectorAll("a, button")) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || el.closest(".leaflet-container")) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push([el.textContent.trim(), Math.round(ratio * 100) / 100]);
  }
  return low;
}"""


@pytest.fixture
def fleet(orgs, settings):
    """120 devices of organization A (ap-000 … ap-119), 60 of them at four sites near
    Barcelona, with every health status; no tile server (tests make no outside request)."""
    settings.FLEETWATCH_MAP_TILES = ""
    sites = [
        Location.objects.create(organization=orgs[0], name=name, latitude=lat, longitude=lon)
        for name, lat, lon in (
            ("Town hall", 41.3851, 2.1734),
            ("Harbour", 41.3755, 2.1800),
            ("Hill", 41.4145, 2.1527),
            ("Airport", 41.2974, 2.0833),
        )
    ]
    devices = Device.objects.bulk_create(
        Device(
            organization=orgs[0],
            name=f"ap-{i:03d}",
            mac_address=f"02:00:00:00:00:{i:02x}",
            key=f"k-{i}",
            location=sites[i % 4] if i % 2 == 0 else None,
            is_active=i != 7,
        )
        for i in range(120)
    )
    statuses = [HealthStatus.OK] * 6 + [HealthStatus.PROBLEM, HealthStatus.CRITICAL]
    DeviceHealth.objects.bulk_create(
        DeviceHealth(device=d, status=statuses[i % len(statuses)]) for i, d in enumerate(devices) if i % 10
    )
    return devices


def test_the_fleet_page_pages_sorts_and_maps_the_fleet_with_readable_controls(
    browser, live_server, fleet, bob
):
    page = log_in(browser, live_server, "bob", viewport={"width": 1280, "height": 1000})
    page.goto(f"{live_server.url}/")
    page.wait_for_selector("#fleet-map[data-loaded=true]", timeout=15_000)
    names = "els => els.map(e => e.textContent)"
    assert page.eval_on_selector_all("table.devices tbody td[data-label=Device] a", names)[:3] == [
        "ap-000",
        "ap-001",
        "ap-002",
    ]
    assert page.locator("table.devices tbody tr").count() == 50
    assert "Page 1 of 3 · devices 1–50 of 120" in page.text_content("#fleet-pages")
    counts = page.eval_on_selector_all(
        "#overview a.count[data-status]",
        "els => els.map(e => [e.dataset.status, e.querySelector('strong').textContent])",
    )
    # 12 without a health row (i % 10 == 0), the rest by i % 8 (ap-007 deactivated)
    assert dict(counts) == {
        "critical": "14",
        "problem": "12",
        "unknown": "12",
        "ok": "81",
        "deactivated": "1",
    }

    # The map: every located device placed, clustered at this zoom (the four sites are close).
    assert page.evaluate("window.fleetwatchMap.placed") == 60
    assert page.evaluate("window.fleetwatchMap.cluster.getLayers().length") == 60
    # (the clusters of the first zoom fade out for a moment after the map fits the devices)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#fleet-map .marker-cluster span')]"
        ".reduce((sum, s) => sum + Number(s.textContent), 0) === 60"
    )
    clusters = page.eval_on_selector_all("#fleet-map .marker-cluster span", names)
    assert len(clusters) >= 2, clusters  # clustered: fewer markers than devices
    assert page.text_content("#fleet-map-status") == "60 devices with a location."
    assert page.locator("#fleet-map img.leaflet-tile").count() == 0  # no tile server: a blank map
    assert page.evaluate(LOW_CONTRAST) == []
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/fleet-page.png")
        page.locator(".fleet-map-card").screenshot(path=f"{SCREENSHOTS}/fleet-map.png")

    # Next page, then a sort: the URL carries both, and the rows follow.
    page.click("#fleet-pages a[rel=next]")
    page.wait_for_url(f"{live_server.url}/?page=2")
    assert page.text_content("table.devices tbody td[data-label=Device] a") == "ap-050"
    page.click("table.devices th a[data-sort=name]")
    page.wait_for_url(f"{live_server.url}/?sort=-name")
    assert page.text_content("table.devices tbody td[data-label=Device] a") == "ap-119"
    assert page.get_attribute("table.devices th[aria-sort]", "aria-sort") == "descending"
    page.click("#fleet-pages a[rel=last]")
    page.wait_for_url(f"{live_server.url}/?sort=-name&page=3")
    assert page.eval_on_selector_all("table.devices tbody td[data-label=Device] a", names)[-1] == "ap-000"
    # The overview narrows the list and the map to a status, keeping the sort.
    page.click("#overview a.count.critical")
    page.wait_for_url(f"{live_server.url}/?status=critical&sort=-name")
    page.wait_for_selector("#fleet-map[data-loaded=true]")
    assert page.locator("table.devices tbody tr").count() == 14
    assert (
        page.evaluate("window.fleetwatchMap.placed") == 0
    )  # the critical ones (i % 8 == 7) are odd: unplaced


def test_the_notifications_controls_are_readable(browser, live_server, device_a, bob):
    from datetime import UTC, datetime

    Notification.objects.create(
        user=bob,
        organization=device_a.organization,
        device=device_a,
        kind="problem",
        title="down",
        time=datetime.now(UTC),
    )
    page = log_in(browser, live_server, "bob")
    page.goto(f"{live_server.url}/notifications/")
    assert page.locator("button.mark-read").count() == 1
    assert page.evaluate(LOW_CONTRAST) == []


def test_every_chart_axis_has_its_unit(browser, live_server, traffic_device, bob):  # noqa: F811
    page = log_in(browser, live_server, "bob", viewport={"width": 1280, "height": 1000})
    open_charts(page, f"{live_server.url}/devices/{traffic_device.pk}/")
    plots = page.evaluate(
        "window.fleetwatchPlots.map(p => [p.fleetwatch.title, p.fleetwatch.box.dataset.unit, p.axes[1]._values,"
        " p.scales.y.min, p.scales.y.max])"
    )
    by_title = {title: (unit, ticks, low, high) for title, unit, ticks, low, high in plots}
    unit, ticks, _low, _high = by_title["Traffic: eth0"]
    assert unit == "adaptive_prefix+B"
    assert ticks
    assert all(t.endswith(" MB") for t in ticks), ticks
    for title in ("CPU Load", "Memory Usage", "Disk Usage"):
        unit, ticks, low, high = by_title[title]
        assert (unit, low, high) == ("%", 0, 100)
        assert ticks
        assert all(t.endswith("%") for t in ticks), ticks
    # Units on every axis that has one; counts (WiFi clients, access technology index) have none.
    for title, (unit, ticks, _low, _high) in by_title.items():
        suffix = unit.removeprefix("adaptive_prefix+")
        assert all(t.endswith(suffix) for t in ticks), (title, ticks)
    assert page.evaluate(LOW_CONTRAST) == []
    if SCREENSHOTS:
        page.locator("section.chart:has(h2:text-is('Traffic: eth0'))").screenshot(
            path=f"{SCREENSHOTS}/device-charts.png"
        )
