"""The dashboard in a real browser: log in, open a device, see every chart drawn.

Playwright drives Debian's Chromium (/usr/bin/chromium); `make test` installs it when absent.
(docs/img/device-page.png comes from scripts/screenshot.py against the demo of `make run`.)
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.monitoring import ingestion
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reporting_device(device_a, timeseries):
    now = datetime.now(UTC).replace(microsecond=0)
    for minutes, load in ((20, 0.2), (15, 0.4), (10, 0.9)):
        report = example_report()
        report["resources"]["load"] = [load, 0.1, 0.1]
        report["interfaces"][2]["statistics"]["rx_bytes"] += 10_000_000 * minutes
        moment = now - timedelta(minutes=minutes)
        ingestion.ingest(
            ingestion.reporting_device(device_a.pk),
            json.dumps(report).encode(),
            moment.strftime("%d-%m-%Y_%H:%M:%S.%f"),
        )
    return device_a


def test_a_member_logs_in_and_sees_every_chart_of_a_device(
    browser, live_server, client, reporting_device, bob
):
    client.force_login(bob)
    # The page opens on the last day: the device's data is 20 minutes old (devicepage.opening_range).
    api = client.get(f"/api/v1/monitoring/device/{reporting_device.pk}/?time=1d&timezone=UTC").json()
    expected = {
        chart["title"]: len(chart["traces"]) + (1 if chart.get("calculate_total") else 0)
        for chart in api["charts"]
    }
    assert len(expected) == 9

    page = browser.new_context(timezone_id="UTC", viewport={"width": 1200, "height": 900}).new_page()
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.click(f"text={reporting_device.name}")
    page.wait_for_selector("#charts[data-loaded=true]", timeout=15_000)

    drawn = page.eval_on_selector_all(
        "section.chart",
        "els => els.map(e => [e.querySelector('h2').textContent, +e.dataset.traces, +e.dataset.points,"
        " e.querySelectorAll('canvas').length])",
    )
    assert {title: traces for title, traces, _points, _canvas in drawn} == expected
    assert {points for _t, _tr, points, _c in drawn} == {len(api["x"])}
    assert all(canvases == 1 for *_rest, canvases in drawn)
    assert page.text_content("#chart-status") == "9 charts, UTC"
    # Summaries carry the API's summary_labels (loads 0.2, 0.4, 0.9 of one CPU: 50% on average).
    summaries = dict(
        page.eval_on_selector_all(
            "section.chart",
            "els => els.map(e => [e.querySelector('h2').textContent, e.querySelector('.summary').textContent])",
        )
    )
    assert summaries["CPU Load"] == "CPU Load: 50%"
    assert summaries["Traffic: eth0"].startswith("Total traffic: ")
    # No summary label: the trace's name; the color scale's map names the value (4: LTE).
    assert summaries["Access Technology"] == "access tech: 4 (lte)"


def test_another_organization_gets_404_for_the_device_page(
    browser, live_server, client, reporting_device, charlie
):
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "charlie")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    response = page.goto(f"{live_server.url}/devices/{reporting_device.pk}/")
    assert response.status == 404
    assert reporting_device.name not in page.content()


def test_the_dashboard_draws_organization_wide_charts(browser, live_server, client, reporting_device, alice):
    client.force_login(alice)
    api = client.get("/api/v1/monitoring/dashboard/?time=7d&timezone=UTC").json()
    page = browser.new_context(timezone_id="UTC").new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.click("text=Dashboard")
    page.wait_for_selector("#charts[data-loaded=true]", timeout=15_000)
    titles = page.eval_on_selector_all("section.chart h2", "els => els.map(e => e.textContent)")
    assert titles == [chart["title"] for chart in api["charts"]]
    assert len(titles) == 1  # WiFi clients; the reporting device has no "wan"-like interface traffic


def test_the_device_page_says_so_when_the_time_series_store_is_down(
    browser, live_server, reporting_device, bob, settings, tmp_path
):
    from fleetwatch.core.timeseries import reset_backend

    (tmp_path / "a-file").write_text("")
    settings.TIMESERIES_DATABASE = {"BACKEND": "sqlite", "NAME": str(tmp_path / "a-file" / "ts.db")}
    reset_backend()
    page = browser.new_context(timezone_id="UTC").new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    response = page.goto(f"{live_server.url}/devices/{reporting_device.pk}/")
    assert response.status == 200
    page.wait_for_function("!document.getElementById('chart-status').textContent.startsWith('Loading')")
    assert page.text_content("#chart-status") == "The time-series store is unavailable; retry later."
    assert page.eval_on_selector_all("section.chart", "els => els.length") == 0


def test_a_down_device_shows_critical_and_its_notification_can_be_read(
    browser, live_server, device_a, timeseries, bob
):
    """Ping fails (a documentation address answers nothing) and no data came: critical, with
    the problem in the header's unread count and on the notifications page."""
    from fleetwatch.monitoring.check_runner import run_check
    from fleetwatch.monitoring.models import Check

    now = datetime.now(UTC)
    device_a.management_ip = "198.51.100.1"
    device_a.last_seen = now - timedelta(hours=2)  # installed (a new device waits for its first report)
    device_a.save()
    for check in Check.objects.filter(device=device_a):
        check.params = {"count": 2, "interval": 10, "timeout": 100} if check.check_type == "ping" else {}
        check.save()
        for metric in run_check(check, now):
            metric.alert_settings.tolerance = 0
            metric.alert_settings.save()
        run_check(check, now + timedelta(minutes=1))  # with no tolerance: a problem at once

    page = browser.new_context(timezone_id="UTC").new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    assert page.text_content(f"tr[data-device='{device_a.pk}'] .status") == "critical"
    from fleetwatch.notifications.models import Notification

    print(list(Notification.objects.filter(user=bob).values_list("title", flat=True)))
    assert page.text_content("#unread-count").strip() == "2"  # ping and data collected
    page.click("#notifications-link")
    titles = page.eval_on_selector_all("li.problem.unread a", "els => els.map(e => e.textContent)")
    assert sorted(titles) == ["ap-lobby: Monitoring Data Collected problem", "ap-lobby: Ping problem"]
    page.click("button[value=read-all]")
    assert page.query_selector("li.unread") is None
    assert page.query_selector("#unread-count") is None
    page.goto(f"{live_server.url}/devices/{device_a.pk}/")
    assert page.text_content("#health-status") == "critical"
