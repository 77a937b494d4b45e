"""The alerting UI in headless Chromium: an organization admin changes a threshold (the chart's
line moves and the status follows at once), starts maintenance from the device page and the
fleet list, creates a webhook and sends a test; a member sees the same values and no control,
and a POST of theirs is refused with 403.

With FLEETWATCH_SCREENSHOTS=1 the pages are saved into docs/img/ (alert-settings.png,
maintenance.png, webhook.png: the ones docs/alerts.md shows).
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetwatch.monitoring.models import AlertSettings, DeviceHealth, Metric
from fleetwatch.notifications.models import MaintenanceWindow, Webhook, WebhookDelivery
from tests.notifications.conftest import Receiver
from tests.web.test_browser import reporting_device  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def shot(page_or_element, name: str) -> None:
    if os.environ.get("FLEETWATCH_SCREENSHOTS") == "1":
        page_or_element.screenshot(path=str(IMG / name))


def log_in(browser, live_server, username):
    page = browser.new_context(timezone_id="UTC", viewport={"width": 1200, "height": 900}).new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    return page


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def cpu_threshold(page) -> str | None:
    page.wait_for_selector("#charts[data-loaded=true]", timeout=15_000)
    return page.eval_on_selector(
        "#charts",
        "root => [...root.querySelectorAll('section.chart')].find(s => s.querySelector('h2').textContent === 'CPU Load').dataset.threshold || null",
    )


@pytest.fixture
def receiver(settings):
    settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
    r = Receiver()
    yield r
    r.server.shutdown()


def test_an_admin_changes_a_threshold_and_sees_the_line_and_the_status_follow(
    browser,
    live_server,
    reporting_device,  # noqa: F811
    alice,
):
    page = log_in(browser, live_server, "alice")
    page.click(f"text={reporting_device.name}")
    assert cpu_threshold(page) == "90"  # the default, > 90 %
    assert page.text_content("#health-status") == "unknown"  # reports not evaluated yet
    # Reported, not yet evaluated: no settings row yet, the page shows the defaults it will get.
    cpu = Metric.objects.get(device=reporting_device, configuration="cpu")
    assert not AlertSettings.objects.filter(metric=cpu).exists()
    row = f"tr[data-metric='{cpu.pk}']"
    assert page.text_content(f"{row} .rule").strip() == "> 90"
    assert page.query_selector(f"{row} .override") is None

    page.click(f"{row} a.edit")
    assert page.text_content("#default-rule") == "> 90 for 30 min"
    page.fill("input[name=threshold]", "80")
    page.fill("input[name=tolerance]", "0")
    page.click("#alert-settings-form button[type=submit]")
    # Back on the device page: the latest value (90 %) was judged against the new threshold.
    assert page.text_content("#messages li") == (
        "Saved. CPU usage re-checked against its latest value: unhealthy; a problem was opened."
    )
    assert page.text_content("#health-status") == "problem"
    assert AlertSettings.objects.get(metric=cpu).threshold == 80
    assert DeviceHealth.objects.get(device=reporting_device).status == "problem"
    assert page.text_content(f"{row} .rule").strip() == "> 80"
    assert page.text_content(f"{row} .override") == "overridden"
    assert cpu_threshold(page) == "80"
    assert page.text_content(".problems li").startswith("CPU usage: problem since")
    shot(page.locator("#alert-settings"), "alert-settings.png")
    shot(page.locator("section.chart", has_text="CPU Load"), "threshold-line.png")

    page.click(f"{row} a.edit")
    page.click("#reset")
    assert page.text_content(f"{row} .rule").strip() == "> 90"
    assert page.query_selector(f"{row} .override") is None
    assert page.text_content("#health-status") == "ok"  # raw health follows; the recovery waits 30 min
    assert cpu_threshold(page) == "90"


def test_an_admin_starts_maintenance_from_the_device_page_and_the_fleet_list(
    browser,
    live_server,
    device_a,
    alice,
):
    now = datetime.now(UTC)
    page = log_in(browser, live_server, "alice")
    page.goto(f"{live_server.url}/devices/{device_a.pk}/")
    form = "#device-maintenance-form"
    page.fill(f"{form} input[name=start]", local(now + timedelta(hours=3)))
    page.fill(f"{form} input[name=end]", local(now + timedelta(hours=2)))
    page.click(f"{form} button[type=submit]")
    assert page.text_content("#maintenance-form .error") == "The end must be after the start."
    assert page.text_content("#chosen-devices") == "Devices: ap-lobby"  # kept for the retry
    page.fill("#id_start", "")
    page.fill("#id_end", local(now + timedelta(hours=2)))
    page.fill("#id_reason", "firmware upgrade")
    page.click("#maintenance-form button[type=submit]")
    assert page.url == f"{live_server.url}/devices/{device_a.pk}/"
    assert "until" in page.text_content("p.maintenance")
    assert (
        page.text_content("p.maintenance")
        .strip()
        .endswith("firmware upgrade. Problems are not notified meanwhile.")
    )

    page.goto(f"{live_server.url}/")
    page.check(f"input[name=device][value='{device_a.pk}']")
    page.fill("#fleet-maintenance input[name=end]", local(now + timedelta(days=1)))
    page.fill("#fleet-maintenance input[name=reason]", "power works")
    page.click("#fleet-maintenance button[type=submit]")
    assert page.url == f"{live_server.url}/maintenance/"
    assert page.eval_on_selector_all("table.windows tbody tr[data-window]", "rows => rows.length") == 2
    assert sorted(MaintenanceWindow.objects.values_list("reason", flat=True)) == [
        "firmware upgrade",
        "power works",
    ]
    shot(page, "maintenance.png")
    first = MaintenanceWindow.objects.get(reason="firmware upgrade")
    page.click(f"tr[data-window='{first.pk}'] button:text('End now')")
    assert page.text_content("#messages li") == "Maintenance ended."
    first.refresh_from_db()
    assert first.end <= datetime.now(UTC)


def test_an_admin_creates_a_webhook_and_sends_a_test(
    browser,
    live_server,
    orgs,
    alice,
    receiver,
):
    page = log_in(browser, live_server, "alice")
    page.click("header >> text=Webhooks")
    page.select_option("#id_organization", label="Org A")
    page.fill("#id_name", "on-call")
    page.fill("#id_url", receiver.url)
    page.click("#webhook-form button[type=submit]")
    webhook = Webhook.objects.get()
    assert page.url == f"{live_server.url}/webhooks/{webhook.pk}/"
    assert page.text_content("#secret") == webhook.secret
    page.click("#send-test")
    assert page.text_content("#messages li") == "Test delivered: HTTP 200."
    delivery = WebhookDelivery.objects.get()
    assert page.text_content(f"tr[data-delivery='{delivery.pk}'] .code") == "200"
    assert receiver.payloads()[0]["alerts"][0]["labels"]["alertname"] == "FleetwatchTest"
    receiver.verify(webhook.secret)
    receiver.statuses.append(503)
    page.click("#send-test")
    assert page.text_content("#messages li") == "Test not delivered: HTTP 503"
    assert page.eval_on_selector_all(
        "table.deliveries tbody tr", "rows => rows.map(r => r.querySelector('.delivery').textContent)"
    ) == ["failed", "delivered"]
    shot(page, "webhook.png")


def test_a_member_sees_values_but_no_control_and_a_post_is_403(
    browser,
    live_server,
    reporting_device,  # noqa: F811
    bob,
    receiver,
):
    webhook = Webhook.objects.create(organization=reporting_device.organization, name="ops", url=receiver.url)
    page = log_in(browser, live_server, "bob")
    page.goto(f"{live_server.url}/devices/{reporting_device.pk}/")
    assert cpu_threshold(page) == "90"
    cpu = Metric.objects.get(device=reporting_device, configuration="cpu")
    assert page.text_content(f"tr[data-metric='{cpu.pk}'] .rule").strip() == "> 90"
    assert page.query_selector("#alert-settings a.edit") is None
    assert page.query_selector("#device-maintenance-form") is None
    page.goto(f"{live_server.url}/")
    assert page.query_selector("#fleet-maintenance") is None
    assert page.query_selector("input[name=device]") is None
    page.goto(f"{live_server.url}/webhooks/{webhook.pk}/")
    assert page.query_selector("#send-test") is None
    assert page.query_selector("#secret") is None

    # A POST anyway (with a valid CSRF token): refused by the permission check.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": token, "Referer": f"{live_server.url}/"}
    edit = f"{live_server.url}/devices/{reporting_device.pk}/alerts/{cpu.pk}/"
    assert (
        page.request.post(
            edit, form={"operator": ">", "threshold": "1", "tolerance": "0"}, headers=headers
        ).status
        == 403
    )
    assert page.request.post(f"{live_server.url}/webhooks/{webhook.pk}/test/", headers=headers).status == 403
    end = local(datetime.now(UTC) + timedelta(hours=1))
    new = f"{live_server.url}/maintenance/new/"
    assert (
        page.request.post(new, form={"device": str(reporting_device.pk), "end": end}, headers=headers).status
        == 403
    )
    assert not AlertSettings.objects.filter(metric=cpu).exists()
    assert receiver.requests == []
    assert not MaintenanceWindow.objects.exists()
