"""Alert settings, maintenance windows and webhooks in the web UI (fleetwatch.web.alerting),
at the Django level: exact values, messages and status codes for each persona (alice
administers organization A, bob is a member of it, charlie administers B)."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.core.timeseries import get_backend
from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.check_runner import metric_for
from fleetwatch.monitoring.models import AlertSettings, DeviceHealth, Metric, StatusChange
from fleetwatch.notifications.models import (
    MaintenanceWindow,
    Notification,
    OpenProblem,
    Webhook,
    WebhookDelivery,
)
from fleetwatch.timeseries import Point
from tests.notifications.conftest import Receiver

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)  # for times hours away; near "now" is read when used


def write_cpu(device, *values_minutes_ago):
    now = datetime.now(UTC)
    get_backend().write(
        [
            Point(
                "cpu",
                {"cpu_usage": float(value)},
                now - timedelta(minutes=minutes),
                {"content_type": "inventory.device", "object_id": str(device.pk)},
            )
            for value, minutes in values_minutes_ago
        ]
    )


@pytest.fixture
def cpu(device_a, timeseries, alice, bob):
    """Device A's CPU metric (default: > 90 for 30 min), values 40 then 60 stored."""
    metric = metric_for(device_a, "cpu")
    write_cpu(device_a, (40, 10), (60, 5))
    return metric


@pytest.fixture
def ping(device_a, timeseries):
    return metric_for(device_a, "ping")


def edit_url(metric):
    return f"/devices/{metric.device_id}/alerts/{metric.pk}/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def status_of(device) -> str:
    return DeviceHealth.objects.get(device=device).status


# ------------------------------------------------------------------------- device page


def test_the_device_page_shows_settings_defaults_and_overrides(client, alice, cpu, ping):
    AlertSettings.objects.filter(metric=cpu).update(threshold=80)
    client.force_login(alice)
    html = client.get(f"/devices/{cpu.device_id}/").content.decode()
    cpu_row = re.search(rf'<tr data-metric="{cpu.pk}" class="overridden">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="rule">&gt; 80</td>' in cpu_row
    assert '<td class="tolerance">30 min</td>' in cpu_row
    assert "&gt; 90 for 30 min" in cpu_row
    assert 'title="Changed: threshold">overridden</span>' in cpu_row
    assert f'href="{edit_url(cpu)}"' in cpu_row
    ping_row = re.search(rf'<tr data-metric="{ping.pk}" class="">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="rule">&lt; 1</td>' in ping_row
    assert "overridden" not in ping_row
    assert 'id="device-maintenance-form"' in html
    # The charts the thresholds apply to, in the charts' units (reachability 1 is 100 %).
    lines = json.loads(
        re.search(r'<script id="threshold-lines" type="application/json">(.*?)</script>', html).group(1)
    )
    assert lines == [
        {"title": "CPU Load", "value": 80.0, "label": "alert > 80%"},
        {"title": "Ping Success Rate", "value": 100.0, "label": "alert < 100%"},
    ]
    assert 'id="admin-link"' not in html  # alice is no superuser


def test_a_member_sees_the_values_but_no_form(client, bob, cpu):
    client.force_login(bob)
    html = client.get(f"/devices/{cpu.device_id}/").content.decode()
    assert '<td class="rule">&gt; 90</td>' in html
    assert "/alerts/" not in html
    assert '<form method="post"' not in html.split('id="alert-settings"')[1]
    page = client.get(edit_url(cpu)).content.decode()
    assert "Only the organization's administrators change alert settings." in page
    assert 'id="alert-settings-form"' not in page


def test_a_member_post_is_403_and_changes_nothing(client, bob, cpu):
    client.force_login(bob)
    response = client.post(edit_url(cpu), {"operator": ">", "threshold": "1", "tolerance": "0"})
    assert response.status_code == 403
    assert client.post(edit_url(cpu), {"reset": "1"}).status_code == 403
    assert AlertSettings.objects.get(metric=cpu).threshold == 90


def test_another_organization_gets_404(client, charlie, cpu):
    client.force_login(charlie)
    assert client.get(edit_url(cpu)).status_code == 404
    assert (
        client.post(edit_url(cpu), {"operator": ">", "threshold": "1", "tolerance": "0"}).status_code == 404
    )
    assert AlertSettings.objects.get(metric=cpu).threshold == 90


# ------------------------------------------------------------------------- editing and re-check


def test_saving_rechecks_the_latest_value_at_once(client, alice, bob, cpu):
    client.force_login(alice)
    response = client.post(
        edit_url(cpu), {"operator": ">", "threshold": "50", "tolerance": "0", "is_active": "on"}, follow=True
    )
    assert response.redirect_chain == [(f"/devices/{cpu.device_id}/#alert-settings", 302)]
    assert messages_of(response) == [
        "Saved. CPU usage re-checked against its latest value: unhealthy; a problem was opened."
    ]
    alert = AlertSettings.objects.get(metric=cpu)
    assert (alert.operator, alert.threshold, alert.tolerance, alert.is_active) == (">", 50.0, 0, True)
    cpu.refresh_from_db()
    assert (cpu.is_healthy, cpu.is_healthy_tolerant) == (False, False)
    assert status_of(cpu.device) == "problem"
    assert (
        StatusChange.objects.get(device=cpu.device).reason == "CPU usage 60 % is above the threshold of 50 %"
    )
    assert OpenProblem.objects.filter(metric=cpu).count() == 1
    assert sorted(Notification.objects.values_list("user__username", "title")) == [
        ("alice", "ap-lobby: CPU usage problem"),
        ("bob", "ap-lobby: CPU usage problem"),
    ]
    html = response.content.decode()
    assert '<span class="status problem" id="health-status">problem</span>' in html
    assert "CPU usage: problem since" in html
    assert '<li class="success">Saved. CPU usage re-checked against its latest value: unhealthy;' in html


def test_resetting_to_the_default_rechecks_too(client, alice, cpu, settings):
    settings.FLEETWATCH_ALERT_TOLERANCE = 0  # the defaults' tolerance: a recovery needs no wait
    client.force_login(alice)
    client.post(
        edit_url(cpu), {"operator": ">", "threshold": "50", "tolerance": "0", "is_active": "on"}, follow=True
    )
    assert status_of(cpu.device) == "problem"
    response = client.post(edit_url(cpu), {"reset": "1"}, follow=True)
    assert messages_of(response) == [
        "Saved. CPU usage re-checked against its latest value: healthy; its problem recovered."
    ]
    alert = AlertSettings.objects.get(metric=cpu)
    assert (alert.operator, alert.threshold, alert.tolerance) == (">", 90.0, 0)
    assert status_of(cpu.device) == "ok"
    assert not OpenProblem.objects.filter(metric=cpu).exists()
    assert list(Notification.objects.filter(user__username="alice").values_list("kind", flat=True)) == [
        "recovery",
        "problem",
    ]


def test_a_reset_with_the_tolerance_leaves_the_problem_open_until_it_has_lasted(client, alice, cpu):
    """Registry default 30 min: the status follows the value at once, the recovery waits."""
    client.force_login(alice)
    client.post(
        edit_url(cpu), {"operator": ">", "threshold": "50", "tolerance": "0", "is_active": "on"}, follow=True
    )
    response = client.post(edit_url(cpu), {"reset": "1"}, follow=True)
    assert messages_of(response) == ["Saved. CPU usage re-checked against its latest value: healthy."]
    cpu.refresh_from_db()
    assert (cpu.is_healthy, cpu.is_healthy_tolerant) == (True, False)
    assert status_of(cpu.device) == "ok"
    assert OpenProblem.objects.filter(metric=cpu).count() == 1


def test_saving_a_metric_without_values_says_so(client, alice, ping):
    client.force_login(alice)
    response = client.post(
        edit_url(ping), {"operator": "<", "threshold": "1", "tolerance": "5", "is_active": "on"}, follow=True
    )
    assert messages_of(response) == ["Saved. Ping has no value yet to judge."]
    assert AlertSettings.objects.get(metric=ping).tolerance == 5
    assert not DeviceHealth.objects.filter(device=ping.device).exclude(status="unknown").exists()


def test_a_metric_not_evaluated_yet_shows_its_defaults_and_gets_its_row_when_saved(
    client, alice, device_a, timeseries
):
    """Reported metrics get their settings row at their first evaluation: until then the page
    shows the defaults, and saving creates the row."""
    memory = Metric.objects.create(
        device=device_a, configuration="memory", name="Memory usage", key="memory", field_name="percent_used"
    )
    client.force_login(alice)
    html = client.get(f"/devices/{device_a.pk}/").content.decode()
    row = re.search(rf'<tr data-metric="{memory.pk}" class="">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="rule">&gt; 95</td>' in row
    assert not AlertSettings.objects.filter(metric=memory).exists()
    response = client.post(
        edit_url(memory), {"operator": ">", "threshold": "85", "tolerance": "10"}, follow=True
    )
    assert messages_of(response) == ["Saved. Memory usage has no value yet to judge."]
    alert = AlertSettings.objects.get(metric=memory)
    assert (alert.operator, alert.threshold, alert.tolerance, alert.is_active) == (">", 85.0, 10, False)


def test_a_metric_without_alert_is_404(client, alice, device_a):
    traffic = Metric.objects.create(
        device=device_a,
        configuration="traffic",
        name="eth0",
        key="eth0",
        field_name="rx_bytes",
        main_tags={"ifname": "eth0"},
    )
    client.force_login(alice)
    assert client.get(edit_url(traffic)).status_code == 404
    assert client.post(edit_url(traffic), {"reset": "1"}).status_code == 404


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"operator": ">", "threshold": "abc", "tolerance": "0"}, "threshold", "Enter a number."),
        ({"operator": ">", "threshold": "nan", "tolerance": "0"}, "threshold", "Enter a number."),
        ({"operator": ">", "threshold": "inf", "tolerance": "0"}, "threshold", "Enter a number."),
        ({"operator": ">", "threshold": "", "tolerance": "0"}, "threshold", "Enter a threshold."),
        (
            {"operator": ">", "threshold": "1", "tolerance": "-1"},
            "tolerance",
            "The tolerance cannot be negative.",
        ),
        (
            {"operator": ">", "threshold": "1", "tolerance": "10081"},
            "tolerance",
            "The tolerance is at most 10080 minutes (a week).",
        ),
        (
            {"operator": ">", "threshold": "1", "tolerance": ""},
            "tolerance",
            "Enter a tolerance in minutes (0 for none).",
        ),
        (
            {"operator": ">=", "threshold": "1", "tolerance": "0"},
            "operator",
            "Select a valid choice. &gt;= is not one of the available choices.",
        ),
    ],
)
def test_invalid_settings_are_refused_with_the_reason(client, alice, cpu, data, field, message):
    client.force_login(alice)
    response = client.post(edit_url(cpu), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message.replace("&gt;", ">")]
    assert f'<span class="error">{message}</span>' in response.content.decode()
    alert = AlertSettings.objects.get(metric=cpu)
    assert (alert.operator, alert.threshold, alert.tolerance) == (">", 90.0, 30)


# ------------------------------------------------------------------------- maintenance


def local(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_maintenance_from_the_device_page(client, alice, device_a):
    client.force_login(alice)
    end = NOW + timedelta(hours=2)
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    response = client.post(
        "/maintenance/new/",
        {
            "device": str(device_a.pk),
            "end": local(end),
            "reason": "firmware",
            "next": f"/devices/{device_a.pk}/",
        },
        follow=True,
    )
    assert response.redirect_chain == [(f"/devices/{device_a.pk}/", 302)]
    assert messages_of(response) == [f"Maintenance of ap-lobby until {end:%Y-%m-%d %H:%M} UTC."]
    window = MaintenanceWindow.objects.get()
    assert (window.device, window.organization, window.end, window.reason) == (
        device_a,
        device_a.organization,
        end.replace(second=0),
        "firmware",
    )
    assert before <= window.start <= datetime.now(UTC)  # empty start: now (to the minute)
    assert "Problems are not notified meanwhile." in response.content.decode()


def test_maintenance_of_selected_devices_and_of_an_organization(client, alice, device_a, orgs):
    other = Device.objects.create(organization=orgs[0], name="ap-roof", mac_address="44:d1:fa:4b:38:45")
    client.force_login(alice)
    start, end = NOW + timedelta(hours=1), NOW + timedelta(hours=3)
    data = {"device": [str(device_a.pk), str(other.pk)], "start": local(start), "end": local(end)}
    response = client.post("/maintenance/new/", data, follow=True)
    assert response.redirect_chain == [("/maintenance/", 302)]
    assert messages_of(response) == [f"Maintenance of ap-lobby, ap-roof until {end:%Y-%m-%d %H:%M} UTC."]
    assert sorted(MaintenanceWindow.objects.values_list("device__name", flat=True)) == ["ap-lobby", "ap-roof"]
    response = client.post("/maintenance/new/", {"organization": "org-a", "end": local(end)}, follow=True)
    assert messages_of(response) == [f"Maintenance of Org A until {end:%Y-%m-%d %H:%M} UTC."]
    assert MaintenanceWindow.objects.filter(device=None, organization=orgs[0]).count() == 1
    html = response.content.decode()
    assert html.count("data-window=") == 3


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"start": 2, "end": 1}, {"end": ["The end must be after the start."]}),
        ({"start": 1, "end": 1}, {"end": ["The end must be after the start."]}),
        ({"start": -3, "end": -1}, {"end": ["The end must be in the future."]}),
        ({"end": None}, {"end": ["Enter when the maintenance ends."]}),
        ({"end": "tomorrow"}, {"end": ["Enter a valid date/time."]}),
        ({"end": 1, "device": None}, {"__all__": ["Choose devices or an organization."]}),
    ],
)
def test_invalid_maintenance_is_refused_with_the_reason(client, alice, device_a, data, errors):
    post, now = {"device": str(device_a.pk)}, datetime.now(UTC)
    for key, hours in data.items():
        if hours is None:
            post.pop(key, None)
        else:
            post[key] = local(now + timedelta(hours=hours)) if isinstance(hours, int) else hours
    client.force_login(alice)
    response = client.post("/maintenance/new/", post)
    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert not MaintenanceWindow.objects.exists()


def test_maintenance_of_someone_elses_device_or_organization_is_refused(client, alice, device_b):
    client.force_login(alice)
    end = local(NOW + timedelta(hours=1))
    response = client.post("/maintenance/new/", {"device": str(device_b.pk), "end": end})
    assert response.context["form"].errors == {"device": ["Choose devices you administer."]}
    response = client.post("/maintenance/new/", {"organization": "org-b", "end": end})
    assert response.context["form"].errors == {"organization": ["Choose an organization you administer."]}
    assert not MaintenanceWindow.objects.exists()


def test_a_member_sees_windows_but_cannot_create_end_or_delete(client, bob, device_a):
    window = MaintenanceWindow.objects.create(
        organization=device_a.organization,
        device=device_a,
        start=NOW - timedelta(hours=1),
        end=NOW + timedelta(hours=1),
    )
    client.force_login(bob)
    html = client.get("/maintenance/").content.decode()
    assert f'data-window="{window.pk}"' in html
    assert "End now" not in html
    assert "Delete" not in html
    assert 'id="maintenance-form"' not in html
    assert 'id="fleet-maintenance"' not in client.get("/").content.decode()
    end = local(NOW + timedelta(hours=2))
    assert client.post("/maintenance/new/", {"device": str(device_a.pk), "end": end}).status_code == 403
    assert client.post(f"/maintenance/{window.pk}/end/").status_code == 403
    assert client.post(f"/maintenance/{window.pk}/delete/").status_code == 403
    assert MaintenanceWindow.objects.get().end == NOW + timedelta(hours=1)


def test_ending_and_deleting_windows(client, alice, charlie, device_a):
    org = device_a.organization
    current = MaintenanceWindow.objects.create(
        organization=org, device=device_a, start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1)
    )
    coming = MaintenanceWindow.objects.create(
        organization=org, start=NOW + timedelta(hours=1), end=NOW + timedelta(hours=2)
    )
    client.force_login(charlie)
    assert client.post(f"/maintenance/{current.pk}/end/").status_code == 404
    client.force_login(alice)
    assert client.get(f"/maintenance/{current.pk}/end/").status_code == 405
    response = client.post(f"/maintenance/{current.pk}/end/", follow=True)
    assert messages_of(response) == ["Maintenance ended."]
    current.refresh_from_db()
    assert NOW <= current.end <= datetime.now(UTC)
    assert not MaintenanceWindow.objects.active_for(device_a, datetime.now(UTC)).exists()
    response = client.post(f"/maintenance/{coming.pk}/end/", follow=True)
    assert messages_of(response) == ["The maintenance had not begun: deleted."]
    response = client.post(f"/maintenance/{current.pk}/delete/", follow=True)
    assert messages_of(response) == ["Maintenance window deleted."]
    assert not MaintenanceWindow.objects.exists()


def test_the_fleet_list_offers_maintenance_for_the_administered_devices(client, alice, device_a):
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert f'<input type="checkbox" name="device" value="{device_a.pk}" form="fleet-maintenance"' in html
    assert '<option value="org-a">all of Org A</option>' in html


# ------------------------------------------------------------------------- webhooks


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def hook(orgs, receiver, settings):
    settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = True
    return Webhook.objects.create(organization=orgs[0], name="ops", url=receiver.url, secret="s3cret")


def test_an_admin_creates_a_webhook(client, alice, receiver, settings):
    settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = True
    client.force_login(alice)
    response = client.post(
        "/webhooks/",
        {
            "organization": alice.memberships.get().organization_id,
            "name": "ops",
            "url": receiver.url,
            "is_active": "on",
        },
        follow=True,
    )
    webhook = Webhook.objects.get()
    assert response.redirect_chain == [(f"/webhooks/{webhook.pk}/", 302)]
    assert messages_of(response) == ["Webhook ops created. Its secret signs every delivery."]
    assert (webhook.name, webhook.url, webhook.is_active, len(webhook.secret)) == (
        "ops",
        receiver.url,
        True,
        48,
    )
    assert f'<code id="secret">{webhook.secret}</code>' in response.content.decode()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://127.0.0.1:9/alerts",
            "127.0.0.1 is a loopback address: webhooks to it are refused unless FLEETWATCH_WEBHOOK_ALLOW_PRIVATE is true.",
        ),
        ("ftp://example.com/x", "Webhook URLs start with http:// or https://."),
        ("", "This field is required."),
    ],
)
def test_a_webhook_url_is_checked_when_saved(client, alice, orgs, url, message):
    client.force_login(alice)
    response = client.post("/webhooks/", {"organization": orgs[0].pk, "name": "ops", "url": url})
    assert response.status_code == 200
    assert response.context["form"].errors == {"url": [message]}
    assert not Webhook.objects.exists()


def test_send_test_delivers_now_and_logs_it(client, alice, hook, receiver):
    client.force_login(alice)
    response = client.post(f"/webhooks/{hook.pk}/test/", follow=True)
    assert messages_of(response) == ["Test delivered: HTTP 200."]
    [payload] = receiver.payloads()
    receiver.verify("s3cret")
    assert (payload["version"], payload["status"], payload["receiver"]) == ("4", "resolved", "ops")
    assert payload["alerts"][0]["labels"] == {
        "alertname": "FleetwatchTest",
        "severity": "none",
        "organization": "org-a",
    }
    delivery = WebhookDelivery.objects.get()
    assert (delivery.kind, delivery.status, delivery.attempts, delivery.response_code, delivery.error) == (
        "test",
        "delivered",
        1,
        200,
        "",
    )
    row = re.search(rf'<tr data-delivery="{delivery.pk}">(.*?)</tr>', response.content.decode(), re.S).group(
        1
    )
    assert '<span class="delivery delivered">delivered</span>' in row
    assert '<td class="code">200</td>' in row


def test_a_failed_test_is_not_retried_and_shows_the_error(client, alice, hook, receiver):
    receiver.statuses.append(500)
    client.force_login(alice)
    response = client.post(f"/webhooks/{hook.pk}/test/", follow=True)
    assert messages_of(response) == ["Test not delivered: HTTP 500"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.next_attempt) == (
        "failed",
        1,
        500,
        None,
    )
    assert len(receiver.requests) == 1


def test_a_test_to_a_refused_address_sends_nothing(client, alice, hook, receiver, settings):
    settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = False  # saved while allowed, refused at delivery
    client.force_login(alice)
    response = client.post(f"/webhooks/{hook.pk}/test/", follow=True)
    assert messages_of(response) == [
        "Test not delivered: Refused: 127.0.0.1 is a loopback address: webhooks to it are refused "
        "unless FLEETWATCH_WEBHOOK_ALLOW_PRIVATE is true."
    ]
    assert receiver.requests == []
    assert WebhookDelivery.objects.get().status == "failed"


def test_editing_and_deleting_a_webhook(client, alice, hook):
    client.force_login(alice)
    response = client.post(f"/webhooks/{hook.pk}/", {"name": "on-call", "url": hook.url}, follow=True)
    assert messages_of(response) == ["Webhook saved."]
    hook.refresh_from_db()
    assert (hook.name, hook.is_active, hook.organization.slug) == ("on-call", False, "org-a")
    assert b"Delete webhook on-call?" in client.get(f"/webhooks/{hook.pk}/delete/").content
    response = client.post(f"/webhooks/{hook.pk}/delete/", follow=True)
    assert messages_of(response) == ["Webhook on-call deleted."]
    assert not Webhook.objects.exists()


def test_a_member_sees_the_log_but_not_the_url_secret_or_forms(client, bob, hook):
    WebhookDelivery.objects.create(
        webhook=hook,
        kind="problem",
        payload={},
        status="failed",
        attempts=6,
        response_code=502,
        error="HTTP 502: bad gateway",
        created=NOW,
    )
    client.force_login(bob)
    listing = client.get("/webhooks/").content.decode()
    assert f'<a href="/webhooks/{hook.pk}/">ops</a>' in listing
    assert hook.url not in listing
    assert 'id="webhook-form"' not in listing
    page = client.get(f"/webhooks/{hook.pk}/").content.decode()
    assert "HTTP 502: bad gateway" in page
    assert hook.secret not in page
    assert hook.url not in page
    assert "Send test" not in page
    assert client.post(f"/webhooks/{hook.pk}/test/").status_code == 403
    assert client.post(f"/webhooks/{hook.pk}/", {"name": "x", "url": hook.url}).status_code == 403
    assert client.post(f"/webhooks/{hook.pk}/delete/").status_code == 403
    assert (
        client.post(
            "/webhooks/", {"organization": hook.organization_id, "name": "x", "url": hook.url}
        ).status_code
        == 403
    )
    assert Webhook.objects.get().name == "ops"
    assert WebhookDelivery.objects.count() == 1


def test_another_organizations_webhook_is_404(client, charlie, hook):
    client.force_login(charlie)
    assert client.get(f"/webhooks/{hook.pk}/").status_code == 404
    assert client.post(f"/webhooks/{hook.pk}/test/").status_code == 404
    assert client.post(f"/webhooks/{hook.pk}/delete/").status_code == 404
    assert "ops" not in client.get("/webhooks/").content.decode()


# ------------------------------------------------------------------------- the Django admin


@pytest.fixture
def root(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", password="pw")


def test_the_admin_lists_alert_settings_with_their_device_and_links_to_device_pages(client, root, cpu):
    client.force_login(root)
    listing = client.get("/admin/monitoring/alertsettings/").content.decode()
    assert 'class="sortable column-device"' in listing
    assert '<td class="field-device">ap-lobby</td>' in listing
    alert = AlertSettings.objects.get(metric=cpu)
    change = client.get(f"/admin/monitoring/alertsettings/{alert.pk}/change/").content.decode()
    # "View on site" of the change pages is the device's page in the web UI
    assert f'<a href="/devices/{cpu.device_id}/" class="viewsitelink">' in change
    device_change = client.get(f"/admin/inventory/device/{cpu.device_id}/change/").content.decode()
    assert f'<a href="/devices/{cpu.device_id}/" class="viewsitelink">' in device_change
    metric_change = client.get(f"/admin/monitoring/metric/{cpu.pk}/change/").content.decode()
    assert f'<a href="/devices/{cpu.device_id}/" class="viewsitelink">' in metric_change
    page = client.get(f"/devices/{cpu.device_id}/").content.decode()
    assert f'href="/admin/inventory/device/{cpu.device_id}/change/" id="admin-link"' in page
    assert f'href="/admin/monitoring/alertsettings/{alert.pk}/change/"' in page


def test_maintenance_times_are_in_the_users_time_zone_and_say_so(client, alice, device_a):
    """A user in Rome types Rome's time: stored as the UTC instant it means, and every label and
    message names the zone (the newcomer trial found "UTC" labels on Rome times, an hour off)."""
    from zoneinfo import ZoneInfo

    from fleetwatch.notifications.models import Preference

    Preference.objects.update_or_create(user=alice, defaults={"timezone": "Europe/Rome"})
    client.force_login(alice)
    rome = ZoneInfo("Europe/Rome")
    end = datetime(2027, 1, 15, 21, 0, tzinfo=rome)  # CET, UTC+1
    page = client.get(f"/devices/{device_a.pk}/").content.decode()
    assert "Start (Europe/Rome, empty: now)" in page
    assert "End (Europe/Rome)" in page
    assert "(UTC" not in page
    response = client.post(
        "/maintenance/new/",
        {"device": str(device_a.pk), "end": "2027-01-15T21:00", "next": f"/devices/{device_a.pk}/"},
        follow=True,
    )
    assert messages_of(response) == ["Maintenance of ap-lobby until 2027-01-15 21:00 CET."]
    assert (
        MaintenanceWindow.objects.get().end == end.astimezone(UTC) == datetime(2027, 1, 15, 20, 0, tzinfo=UTC)
    )
