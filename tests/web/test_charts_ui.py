"""Chart fidelity in our own UI (issue 13): bucket times on hover, unit axes, 0–100 percentages,
exact traffic in the UI and its CSV, range and zone in the URL, one time zone per user, resizing.

Browser tests drive Debian's Chromium as tests/web/test_browser.py does (its fixture). With
FLEETWATCH_SCREENSHOTS=docs/img they also write the screenshots the docs show.
"""

import csv
import io
import itertools
import json
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleetwatch.monitoring import ingestion
from fleetwatch.notifications.models import Preference
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db(transaction=True)

# eth0's rx counter grows by these between reports: not multiples of 10 MB, so the peer's
# rounding to 0.01 GB shows them as 0.01 and 0.01 (the "10 MB staircase") and exact shows them.
FIRST, SECOND = 12_345_678, 7_654_321
BASE_RX, BASE_TX = 2275, 826  # the example report's eth0 counters (a first reading counts whole)
ZONE = "Asia/Kathmandu"  # UTC+05:45: its 10-minute buckets are not UTC's
SCREENSHOTS = os.environ.get("FLEETWATCH_SCREENSHOTS")


def report_times(now: datetime) -> list[datetime]:
    return [now - timedelta(minutes=minutes) for minutes in (45, 25, 5)]


@pytest.fixture
def traffic_device(device_a, timeseries):
    """Three reports 20 minutes apart (loads 20%, 40%, 90% of one CPU; eth0 +FIRST, +SECOND)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rx = BASE_RX
    for moment, load, grow in zip(report_times(now), (0.2, 0.4, 0.9), (0, FIRST, SECOND), strict=True):
        rx += grow
        report = example_report()
        report["resources"]["load"] = [load, 0.1, 0.1]
        report["interfaces"][2]["statistics"]["rx_bytes"] = rx
        ingestion.ingest(
            ingestion.reporting_device(device_a.pk),
            json.dumps(report).encode(),
            moment.strftime("%d-%m-%Y_%H:%M:%S.%f"),
        )
    device_a.report_times = report_times(now)
    return device_a


def bucket_label(moment: datetime, zone: str, minutes: int = 10) -> str:
    """The chart API's label of the bucket holding ``moment``, buckets aligned in ``zone``."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.replace(minute=local.minute - local.minute % minutes).strftime("%Y-%m-%d %H:%M")


def log_in(browser, live_server, username, **context):
    page = browser.new_context(timezone_id="UTC", **context).new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_selector("#notifications-link")
    return page


def open_charts(page, url):
    page.goto(url)
    page.wait_for_selector("#charts[data-loaded=true]", state="attached", timeout=15_000)


PLOT = "window.fleetwatchPlots.find(p => p.fleetwatch.title === {title!r})"


def hover_bucket(page, title: str, index: int) -> dict:
    """Moves the mouse onto bucket ``index`` of a chart; its legend's texts by series label."""
    plot = PLOT.format(title=title)
    box = page.evaluate(
        f"(() => {{ const p = {plot}; p.root.scrollIntoView(); const r = p.over.getBoundingClientRect();"
        f" return [r.x + p.valToPos({index}, 'x'), r.y + r.height / 2]; }})()"
    )
    page.mouse.move(*box)
    page.wait_for_function(f"{plot}.cursor.idx === {index}", timeout=5_000)
    return dict(
        page.evaluate(
            f"[...{plot}.root.querySelectorAll('.u-legend .u-series')]"
            ".map(e => [e.querySelector('.u-label').textContent, e.querySelector('.u-value').textContent])"
        )
    )


@pytest.mark.parametrize("username", ["alice", "bob"])  # an organization admin and a member
def test_the_hover_legend_shows_the_bucket_time_in_the_users_zone(
    browser, live_server, traffic_device, alice, bob, username
):
    for user in (alice, bob):
        Preference.objects.update_or_create(user=user, defaults={"timezone": ZONE})
    page = log_in(browser, live_server, username, viewport={"width": 1200, "height": 900})
    open_charts(page, f"{live_server.url}/devices/{traffic_device.pk}/?time=1d")
    assert page.get_attribute("#charts", "data-tz") == ZONE
    assert page.text_content("#chart-status") == f"9 charts, {ZONE}"

    labels = [bucket_label(moment, ZONE) for moment in traffic_device.report_times]
    cpu = page.evaluate(f"{PLOT.format(title='CPU Load')}.data[1]")
    filled = [i for i, v in enumerate(cpu) if v is not None]
    assert [b - a for a, b in itertools.pairwise(filled)] == [2, 2]  # 20 minutes apart, 10-minute buckets
    for index, label, shown in zip(filled, labels, ("20%", "40%", "90%"), strict=True):
        assert hover_bucket(page, "CPU Load", index) == {"Time": label, "CPU load": shown}


def test_percent_axes_are_0_to_100_and_traffic_is_exact_with_prefixed_units(
    browser, live_server, traffic_device, bob
):
    page = log_in(browser, live_server, "bob", viewport={"width": 1200, "height": 900})
    open_charts(page, f"{live_server.url}/devices/{traffic_device.pk}/?time=1d&tz=UTC")
    for title in ("CPU Load", "Memory Usage", "Disk Usage"):
        assert page.evaluate(
            f"[{PLOT.format(title=title)}.scales.y.min, {PLOT.format(title=title)}.scales.y.max]"
        ) == [
            0,
            100,
        ]
    traffic = PLOT.format(title="Traffic: eth0")
    # Bytes, not the API's GB rounded to 0.01: the downloads are exactly the counters' growth.
    download = page.evaluate(f"{traffic}.data[{traffic}.series.findIndex(s => s.label === 'download')]")
    assert [v for v in download if v is not None] == [BASE_RX, FIRST, SECOND]
    summary = page.text_content("section.chart:has(h2:text-is('Traffic: eth0')) .summary")
    assert summary == "Total traffic: 20 MB · Total download traffic: 20 MB · Total upload traffic: 826 B"
    index = download.index(FIRST)
    legend = hover_bucket(page, "Traffic: eth0", index)
    assert legend == {
        "Time": bucket_label(traffic_device.report_times[1], "UTC"),
        "total": "12.35 MB",
        "download": "12.35 MB",
        "upload": "0 B",
    }
    if SCREENSHOTS:
        box = page.evaluate(
            f"(() => {{ const r = {traffic}.fleetwatch.box.getBoundingClientRect();"
            " return {x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height}; })()"
        )
        page.screenshot(path=f"{SCREENSHOTS}/charts-hover.png", full_page=True, clip=box)
    # Every y tick has the unit, with one prefix per axis (uPlot keeps the drawn texts).
    ticks = page.evaluate(f"{traffic}.axes[1]._values")
    assert ticks
    assert all(t.endswith(" MB") for t in ticks), ticks
    assert all(t.endswith("%") for t in page.evaluate(f"{PLOT.format(title='CPU Load')}.axes[1]._values"))


def test_the_csv_of_the_page_has_exact_bytes_and_the_api_default_keeps_the_peers_rounding(
    browser, live_server, client, traffic_device, alice
):
    client.force_login(alice)
    api = f"/api/v1/monitoring/device/{traffic_device.pk}/?time=1d&timezone=UTC"
    rounded = client.get(api).json()
    eth0 = next(c for c in rounded["charts"] if c["title"] == "Traffic: eth0")
    # The peer's rounding (2 decimals, 4 below 0.01) of GB: 2275 B, 12.35 MB, 7.65 MB.
    assert [v for v in dict(eth0["traces"])["download"] if v is not None] == [0.0, 0.01, 0.0077]
    assert eth0["summary"] == {"download": 0.02, "upload": 0.0}
    assert client.get(api + "&precision=bogus").json() == {
        "detail": "precision not supported: 'bogus'; use rounded or exact"
    }

    page = log_in(browser, live_server, "alice")
    open_charts(page, f"{live_server.url}/devices/{traffic_device.pk}/?time=1d&tz=UTC")
    href = page.get_attribute("#csv", "href")
    assert href.endswith("?time=1d&timezone=UTC&precision=exact&csv=1")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200
    rows = list(csv.reader(io.StringIO(response.text())))
    column = rows[0].index("download - Traffic: eth0")
    assert [row[column] for row in rows[1:] if row and row[column]] == [str(BASE_RX), str(FIRST), str(SECOND)]
    upload = rows[0].index("upload - Traffic: eth0")
    assert [row[upload] for row in rows[1:] if row and row[upload]] == [str(BASE_TX), "0", "0"]


def test_the_range_and_zone_are_kept_in_the_url_and_a_link_reproduces_the_view(
    browser, live_server, traffic_device, alice
):
    page = log_in(browser, live_server, "alice")
    open_charts(page, f"{live_server.url}/devices/{traffic_device.pk}/")
    # Its data is 40 minutes old: the page opens on the shortest range that covers it.
    assert page.input_value("select[name=time]") == "1d"
    assert page.input_value("input[name=tz]") == "UTC"
    page.select_option("select[name=time]", "3d")
    page.click("#range button[type=submit]")
    page.wait_for_selector("#charts[data-loaded=true]")
    assert page.url == f"{live_server.url}/devices/{traffic_device.pk}/?time=3d&tz=UTC"
    assert page.get_attribute("#csv", "href").endswith("?time=3d&timezone=UTC&precision=exact&csv=1")

    # Another zone: the whole page follows, history included.
    page.fill("input[name=tz]", ZONE)
    page.click("#range button[type=submit]")
    page.wait_for_url(f"{live_server.url}/devices/{traffic_device.pk}/?time=3d&tz=Asia%2FKathmandu")
    page.wait_for_selector("#charts[data-loaded=true]")
    assert page.text_content("#chart-status") == f"9 charts, {ZONE}"

    # The link, opened by someone else whose preference is another zone, shows the same view.
    link = page.url
    other = log_in(browser, live_server, "alice")
    open_charts(other, link)
    assert other.input_value("select[name=time]") == "3d"
    assert other.get_attribute("#charts", "data-tz") == ZONE
    assert other.get_attribute("#csv", "href").endswith(
        "?time=3d&timezone=Asia%2FKathmandu&precision=exact&csv=1"
    )

    # A custom range too.
    open_charts(
        other, f"{link.split('?')[0]}?start=2026-01-01+00%3A00%3A00&end=2026-01-02+00%3A00%3A00&tz=UTC"
    )
    assert other.input_value("select[name=time]") == "custom"
    assert other.input_value("input[name=start]") == "2026-01-01T00:00"  # Chromium drops ":00"
    assert other.input_value("input[name=end]") == "2026-01-02T00:00"
    assert other.text_content("#chart-status") == "No data in this range."
    assert other.get_attribute("#csv", "href").endswith(
        "?start=2026-01-01+00%3A00%3A00&end=2026-01-02+00%3A00%3A00&timezone=UTC&precision=exact&csv=1"
    )


def test_charts_follow_the_window_width(browser, live_server, traffic_device, bob):
    page = log_in(browser, live_server, "bob", viewport={"width": 1200, "height": 900})
    open_charts(page, f"{live_server.url}/devices/{traffic_device.pk}/?time=1d")
    widths = "window.fleetwatchPlots.map(p => [p.width, p.fleetwatch.box.querySelector('.plot').clientWidth])"
    wide = page.evaluate(widths)
    assert all(plot == box for plot, box in wide)
    assert wide[0][0] > 1000
    page.set_viewport_size({"width": 700, "height": 900})
    page.wait_for_function(f"{widths}.every(([p, b]) => p === b && p < 700)", timeout=5_000)
    narrow = page.evaluate(widths)
    assert narrow[0][0] == page.evaluate("document.querySelector('#charts .plot').clientWidth")
    assert (
        page.evaluate("document.querySelector('#charts canvas').getBoundingClientRect().width")
        == narrow[0][0]
    )


def test_a_device_with_one_report_shows_its_value_as_a_dot(browser, live_server, device_a, timeseries, bob):
    """One report makes one non-empty bucket: a line needs two, so the lonely value is drawn as a
    point (the newcomer trial saw "CPU Load: 25%" over an empty plot)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ingestion.ingest(
        ingestion.reporting_device(device_a.pk),
        json.dumps(example_report()).encode(),
        (now - timedelta(minutes=5)).strftime("%d-%m-%Y_%H:%M:%S.%f"),
    )
    page = log_in(browser, live_server, "bob")
    open_charts(page, f"{live_server.url}/devices/{device_a.pk}/?time=1d")
    cpu = PLOT.format(title="CPU Load")
    assert page.evaluate(f"{cpu}.data[1].filter(v => v !== null).length") == 1
    assert page.evaluate(f"{cpu}.series[1].points.show") is True
