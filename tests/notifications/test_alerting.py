"""Alerts with controlled time: tolerance, flapping, an outage end to end, maintenance windows,
webhook retries, and organizations kept apart. Every channel is real: the time-series store,
fping, an SMTP server and an HTTP receiver on loopback."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.core.timeseries import get_backend
from fleetwatch.monitoring.alerts import evaluate
from fleetwatch.monitoring.check_runner import metric_for, run_check
from fleetwatch.monitoring.models import Check, StatusChange
from fleetwatch.notifications.models import MaintenanceWindow, Notification, Webhook, WebhookDelivery
from fleetwatch.notifications.tasks import attempt_delivery
from fleetwatch.timeseries import Point

pytestmark = pytest.mark.django_db

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
STEP = timedelta(minutes=5)


def kinds(user):
    return list(Notification.objects.filter(user=user).order_by("time", "id").values_list("kind", flat=True))


@pytest.fixture
def cpu(device_a, timeseries, alice, bob):
    """The CPU metric of device A: alert when > 90 % for 30 minutes (the registry default)."""
    metric = metric_for(device_a, "cpu")
    assert (
        metric.alert_settings.operator,
        metric.alert_settings.threshold,
        metric.alert_settings.tolerance,
    ) == (">", 90, 30)
    return metric


def report(metric, value, when, capture):
    get_backend().write(
        [
            Point(
                "cpu",
                {"cpu_usage": float(value)},
                when,
                {"content_type": "inventory.device", "object_id": str(metric.device_id)},
            )
        ]
    )
    with capture(execute=True):
        return evaluate(metric, value, when)


def test_a_problem_is_notified_only_after_the_tolerance(cpu, alice, bob, django_capture_on_commit_callbacks):
    transitions = [report(cpu, 95, T0 + i * STEP, django_capture_on_commit_callbacks) for i in range(6)]
    assert transitions == [None] * 6  # 25 minutes above 90 %: not yet
    assert cpu.is_healthy is False
    assert cpu.is_healthy_tolerant is None
    assert cpu.device.health.status == "problem"  # the status follows the raw value at once
    assert kinds(alice) == []
    assert report(cpu, 96, T0 + 6 * STEP, django_capture_on_commit_callbacks) == "problem"  # 30 minutes
    assert kinds(alice) == ["problem"]
    assert kinds(bob) == ["problem"]
    assert report(cpu, 97, T0 + 7 * STEP, django_capture_on_commit_callbacks) is None  # told once


def test_recovery_is_notified_after_the_tolerance_too(cpu, alice, django_capture_on_commit_callbacks):
    for i in range(7):
        report(cpu, 95, T0 + i * STEP, django_capture_on_commit_callbacks)
    assert kinds(alice) == ["problem"]
    start = T0 + 7 * STEP
    transitions = [report(cpu, 20, start + i * STEP, django_capture_on_commit_callbacks) for i in range(7)]
    assert transitions == [None] * 6 + ["recovery"]
    assert kinds(alice) == ["problem", "recovery"]
    assert cpu.device.health.status == "ok"


def test_flapping_around_the_threshold_notifies_nobody(cpu, alice, django_capture_on_commit_callbacks):
    for i in range(48):  # four hours of 95, 50, 95, 50 …
        report(cpu, 95 if i % 2 == 0 else 50, T0 + i * STEP, django_capture_on_commit_callbacks)
    assert kinds(alice) == []
    # The raw status did follow every value, and its history says so.
    assert StatusChange.objects.filter(device=cpu.device).count() == 48


def test_a_new_devices_first_healthy_sample_is_silent(cpu, alice, django_capture_on_commit_callbacks):
    assert report(cpu, 10, T0, django_capture_on_commit_callbacks) is None
    assert cpu.is_healthy_tolerant is True
    assert kinds(alice) == []


def test_a_ten_minute_outage_gives_one_problem_and_one_recovery_per_channel(
    device_a,
    timeseries,
    alice,
    bob,
    charlie,
    smtp,
    receiver,
    allow_private_webhooks,
    django_capture_on_commit_callbacks,
):
    """Ping every minute with a 5-minute tolerance; the device stops answering for 10 minutes."""
    alice.email, bob.email, charlie.email = "alice@a.example", "bob@a.example", "charlie@b.example"
    for user in (alice, bob, charlie):
        user.save()
    device_a.last_seen = T0  # an installed router (a new one waits for its first report)
    webhook = Webhook.objects.create(organization=device_a.organization, name="pager", url=receiver.url)
    other = Webhook.objects.create(
        organization=charlie.memberships.get().organization, name="b", url=receiver.url + "/b"
    )
    check = Check.objects.get(device=device_a, check_type="ping")  # created with the device
    check.params = {"count": 2, "interval": 10, "timeout": 100}
    check.save()
    ping = metric_for(device_a, "ping")
    ping.alert_settings.tolerance = 5
    ping.alert_settings.save()
    down_from, down_until = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    for minute in range(40):
        now = T0 + timedelta(minutes=minute)
        device_a.management_ip = "198.51.100.1" if down_from <= now < down_until else "127.0.0.1"
        device_a.save()
        check.device = device_a
        with django_capture_on_commit_callbacks(execute=True):
            run_check(check, now)
    assert kinds(alice) == ["problem", "recovery"]
    assert kinds(bob) == ["problem", "recovery"]
    assert kinds(charlie) == []
    assert [m.split("Subject: ")[1].splitlines()[0] for m in smtp.to("alice@a.example")] == [
        "ap-lobby: Ping problem",
        "ap-lobby: Ping recovered",
    ]
    assert len(smtp.to("bob@a.example")) == 2
    assert smtp.to("charlie@b.example") == []
    payloads = receiver.payloads()
    assert [(p["status"], p["alerts"][0]["status"]) for p in payloads] == [
        ("firing", "firing"),
        ("resolved", "resolved"),
    ]
    assert payloads[0]["version"] == "4"
    assert payloads[0]["receiver"] == "pager"
    assert payloads[0]["alerts"][0]["labels"]["alertname"] == "ping_problem"
    assert payloads[0]["alerts"][0]["labels"]["severity"] == "critical"
    assert payloads[1]["alerts"][0]["startsAt"] == payloads[0]["alerts"][0]["startsAt"]
    receiver.verify(webhook.secret)
    assert not other.deliveries.exists()
    # The status went critical? Only ping is critical here (no passive data yet): the status
    # follows the raw ping value, so it went to problem while ping was failing.
    statuses = list(
        StatusChange.objects.filter(device=device_a).order_by("time").values_list("status", flat=True)
    )
    assert statuses[0] == "ok"
    assert "critical" in statuses
    assert statuses[-1] == "ok"


def test_maintenance_windows_keep_problems_quiet(cpu, alice, django_capture_on_commit_callbacks):
    MaintenanceWindow.objects.create(
        organization=cpu.device.organization,
        device=cpu.device,
        start=T0,
        end=T0 + timedelta(hours=1),
        reason="firmware upgrade",
    )
    for i in range(7):
        report(cpu, 95, T0 + i * STEP, django_capture_on_commit_callbacks)
    for i in range(7, 14):
        report(cpu, 20, T0 + i * STEP, django_capture_on_commit_callbacks)
    assert cpu.is_healthy_tolerant is True  # it did go through problem and recovery …
    assert kinds(alice) == []  # … and nobody was told, not even of the recovery
    # After the window, problems are notified again.
    later = T0 + timedelta(hours=2)
    for i in range(7):
        report(cpu, 95, later + i * STEP, django_capture_on_commit_callbacks)
    assert kinds(alice) == ["problem"]


def test_an_organization_wide_window_covers_its_devices(cpu, alice, django_capture_on_commit_callbacks):
    MaintenanceWindow.objects.create(
        organization=cpu.device.organization, start=T0, end=T0 + timedelta(hours=1)
    )
    for i in range(7):
        report(cpu, 95, T0 + i * STEP, django_capture_on_commit_callbacks)
    assert kinds(alice) == []


def test_a_webhook_is_retried_after_a_500_with_backoff(
    cpu, receiver, allow_private_webhooks, django_capture_on_commit_callbacks
):
    webhook = Webhook.objects.create(organization=cpu.device.organization, name="ops", url=receiver.url)
    receiver.statuses.extend([500])
    for i in range(7):
        report(cpu, 95, T0 + i * STEP, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    # Tasks run inline in tests, so the retry came at once; a worker waits for next_attempt.
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 2, 200)
    assert len(receiver.requests) == 2
    assert receiver.requests[0][1] == receiver.requests[1][1]  # the same signed body, twice


def test_delivery_attempts_back_off_then_give_up(cpu, receiver, allow_private_webhooks):
    webhook = Webhook.objects.create(organization=cpu.device.organization, name="down", url=receiver.url)
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, kind="problem", payload={"version": "4"}, created=T0
    )
    receiver.statuses.extend([503] * 10)
    gaps = []
    now = T0
    while attempt_delivery(delivery, now):
        gaps.append(delivery.next_attempt - now)
        now = delivery.next_attempt
    assert gaps == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 6, 503)
    assert delivery.error.startswith("HTTP 503")
