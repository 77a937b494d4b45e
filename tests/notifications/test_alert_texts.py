"""What people read: the status history, notifications, e-mails and webhook annotations say
what happened in plain language with rounded numbers (issue 13: ``14.499999999999998``)."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.core.timeseries import get_backend
from fleetwatch.monitoring.alerts import evaluate
from fleetwatch.monitoring.check_runner import metric_for
from fleetwatch.monitoring.models import StatusChange
from fleetwatch.notifications.models import Notification, Webhook
from fleetwatch.timeseries import Point

pytestmark = pytest.mark.django_db

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
STEP = timedelta(minutes=5)


def report(metric, value, when, capture):
    tags = {"content_type": "inventory.device", "object_id": str(metric.device_id)}
    get_backend().write([Point("cpu", {"cpu_usage": value}, when, tags)])
    with capture(execute=True):
        return evaluate(metric, value, when)


def test_a_cpu_problem_and_recovery_read_plainly(
    device_a,
    timeseries,
    alice,
    smtp,
    receiver,
    allow_private_webhooks,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.FLEETWATCH_BASE_URL = "https://fleetwatch.example.org"
    alice.email = "alice@a.example"
    alice.save()
    Webhook.objects.create(organization=device_a.organization, name="pager", url=receiver.url)
    cpu = metric_for(device_a, "cpu")  # > 90 % for 30 minutes
    for i in range(7):
        report(cpu, 95.19999999999999, T0 + i * STEP, django_capture_on_commit_callbacks)
    for i in range(7, 14):
        report(cpu, 14.499999999999998, T0 + i * STEP, django_capture_on_commit_callbacks)

    reasons = list(
        StatusChange.objects.filter(device=device_a).order_by("time").values_list("reason", flat=True)
    )
    assert reasons == [
        "CPU usage 95.2 % is above the threshold of 90 %",
        "CPU usage 14.5 % is below the threshold of 90 %",
    ]
    messages = list(Notification.objects.filter(user=alice).order_by("time").values_list("title", "message"))
    assert messages == [
        ("ap-lobby: CPU usage problem", "CPU usage 95.2 % is above the threshold of 90 % for 30 minutes."),
        ("ap-lobby: CPU usage recovered", "Back to normal: CPU usage 14.5 % is below the threshold of 90 %."),
    ]
    [problem_mail, recovery_mail] = smtp.to("alice@a.example")
    assert (
        "CPU usage 95.2 % is above the threshold of 90 % for 30 minutes.\n\n"
        f"https://fleetwatch.example.org/devices/{device_a.pk}/\n" in problem_mail.replace("\r\n", "\n")
    )
    assert "Back to normal: CPU usage 14.5 % is below the threshold of 90 %." in recovery_mail
    firing, resolved = receiver.payloads()
    assert firing["commonAnnotations"] == {
        "summary": "ap-lobby: CPU usage problem",
        "description": "CPU usage 95.2 % is above the threshold of 90 % for 30 minutes.",
        "value": "95.2",
        "threshold": "> 90 for 30 min",
    }
    assert resolved["commonAnnotations"]["value"] == "14.5"
    assert resolved["commonAnnotations"]["description"] == (
        "Back to normal: CPU usage 14.5 % is below the threshold of 90 %."
    )
