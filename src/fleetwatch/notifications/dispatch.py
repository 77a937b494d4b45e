"""From an alert transition to every channel: in-app, e-mail, webhooks.

Problems are not notified during a maintenance window (or when the check says not to, e.g. a
device already critical); a recovery is notified exactly when its problem was.

:func:`deliver` takes any event with the shape of :class:`AlertEvent` (``kind``,
``organization_id``, ``title``, ``message``, ``url``, ``time``, ``notification_fields()`` and
``webhook_payload()``): a device metric's alert here, a backup job's check in
``fleetwatch.backups.notify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from fleetwatch.monitoring.health import CRITICAL_METRICS
from fleetwatch.monitoring.reasons import alert_message
from fleetwatch.notifications import links
from fleetwatch.notifications.models import (
    MaintenanceWindow,
    Notification,
    OpenProblem,
    Preference,
    Webhook,
    WebhookDelivery,
)


@dataclass
class AlertEvent:
    kind: str  # problem | recovery
    configuration: str
    metric_name: str
    metric_id: int
    device_id: str
    device_name: str
    organization_id: str
    organization_slug: str
    value: float
    operator: str
    threshold: float
    tolerance: int
    critical: bool
    since: datetime
    time: datetime

    @property
    def url(self) -> str:
        return f"/devices/{self.device_id}/"

    def notification_fields(self) -> dict:
        """What the in-app ``Notification`` links to besides its organization."""
        return {"device_id": self.device_id, "metric_id": self.metric_id}

    def webhook_payload(self, webhook_name: str, base_url: str) -> dict:
        from fleetwatch.notifications.webhooks import alert_payload

        return alert_payload(self, webhook_name, base_url)

    @property
    def title(self) -> str:
        if self.kind == "problem":
            return f"{self.device_name}: {self.metric_name} problem"
        return f"{self.device_name}: {self.metric_name} recovered"

    @property
    def message(self) -> str:
        """Plain language, numbers rounded (fleetwatch.monitoring.reasons.alert_message)."""
        return alert_message(
            self.kind,
            self.configuration,
            self.metric_name,
            self.value,
            self.operator,
            self.threshold,
            self.tolerance,
        )


def on_alert_transition(sender, metric, alert_settings, kind, value, time, send_alert=True, **kwargs):
    device = metric.device
    if device is None:
        return
    if kind == "problem":
        quiet = not send_alert or MaintenanceWindow.objects.active_for(device, time).exists()
        OpenProblem.objects.update_or_create(metric=metric, defaults={"since": time, "notified": not quiet})
        if quiet:
            return
        since = time
    else:
        problem = OpenProblem.objects.filter(metric=metric).first()
        if problem is None:
            return
        problem.delete()
        if not problem.notified or not send_alert:
            return
        since = problem.since
    organization = device.organization
    event = AlertEvent(
        kind=kind,
        configuration=metric.configuration,
        metric_name=metric.name,
        metric_id=metric.pk,
        device_id=str(device.pk),
        device_name=device.name,
        organization_id=str(organization.pk),
        organization_slug=organization.slug,
        value=value,
        operator=alert_settings.operator,
        threshold=alert_settings.threshold,
        tolerance=alert_settings.tolerance,
        critical=(metric.key, metric.field_name) in CRITICAL_METRICS,
        since=since,
        time=time,
    )
    deliver(event)


def recipients(organization_id):
    return (
        get_user_model()
        .objects.filter(memberships__organization_id=organization_id, is_active=True)
        .distinct()
    )


@dataclass
class Audience:
    """Who hears of an organization's events: its active members, their preferences (by user
    id; a member without a row has the defaults) and its active webhooks."""

    users: list
    preferences: dict
    webhooks: list

    @classmethod
    def of(cls, organization_id) -> Audience:
        preferences = {p.user_id: p for p in Preference.objects.filter(user__in=recipients(organization_id))}
        users = list(recipients(organization_id))
        webhooks = list(Webhook.objects.filter(organization_id=organization_id, is_active=True))
        return cls(users, preferences, webhooks)


def deliver(event: AlertEvent, audience: Audience | None = None) -> None:
    """Tell ``event`` to every active member of its organization on the channels their
    preferences choose (in-app, e-mail) and to the organization's active webhooks (a delivery
    row each, sent after the transaction commits). ``audience``: the organization's
    :class:`Audience`, when the caller tells many events of it at once (read here otherwise)."""
    from fleetwatch.notifications.tasks import deliver_webhook, send_email

    if audience is None:
        audience = Audience.of(event.organization_id)
    emails = []
    notifications = []
    for user in audience.users:
        preference = audience.preferences.get(user.pk) or Preference(user=user)
        if preference.web:
            notifications.append(
                Notification(
                    user=user,
                    organization_id=event.organization_id,
                    **event.notification_fields(),
                    kind=event.kind,
                    title=event.title,
                    message=event.message,
                    url=event.url,
                    time=event.time,
                )
            )
        if preference.email and user.email:
            emails.append(user.email)
    Notification.objects.bulk_create(notifications)
    base_url = links.base_url()
    deliveries = []
    for webhook in audience.webhooks:
        deliveries.append(
            WebhookDelivery.objects.create(
                webhook=webhook,
                kind=event.kind,
                payload=event.webhook_payload(webhook.name, base_url),
                created=event.time,
            )
        )
    subject = event.title
    body = f"{event.message}\n\n{base_url}{event.url}\n"

    def enqueue():
        for delivery in deliveries:
            deliver_webhook.delay(delivery.pk)
        if emails and settings.FLEETWATCH_EMAIL_ENABLED:
            send_email.delay(subject, body, emails)

    transaction.on_commit(enqueue)
