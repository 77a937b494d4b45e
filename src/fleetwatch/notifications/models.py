"""Who is told what: in-app notifications, preferences, webhooks and their delivery log,
maintenance windows, and the problems currently open."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from fleetwatch.inventory.models import Device, Organization, OrgScopedQuerySet
from fleetwatch.monitoring.models import Metric
from fleetwatch.notifications.destinations import validate_webhook_url


class Kind(models.TextChoices):
    PROBLEM = "problem", "problem"
    RECOVERY = "recovery", "recovery"


class NotificationQuerySet(OrgScopedQuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One in-app notification for one user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    metric = models.ForeignKey(Metric, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    time = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title


class Preference(models.Model):
    """A user's channels (defaults: web and e-mail on) and the time zone of their pages
    (blank: ``settings.TIME_ZONE``; see ``fleetwatch.web.timezones``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    web = models.BooleanField(default=True)
    email = models.BooleanField(default=True)
    timezone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"notification preferences of {self.user}"


def new_secret() -> str:
    return secrets.token_hex(24)


class WebhookQuerySet(OrgScopedQuerySet):
    pass


class Webhook(models.Model):
    """An Alertmanager-compatible receiver (webhook payload version 4), signed with HMAC-SHA256."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500, validators=[validate_webhook_url])
    secret = models.CharField(
        max_length=100, default=new_secret, help_text="Key of the X-Fleetwatch-Signature HMAC."
    )
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DeliveryQuerySet(OrgScopedQuerySet):
    org_path = "webhook__organization"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField()
    last_attempt = models.DateTimeField(null=True, blank=True)
    next_attempt = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.kind} to {self.webhook} ({self.status})"


class MaintenanceQuerySet(OrgScopedQuerySet):
    def active_for(self, device, moment):
        return self.filter(
            Q(device=device) | Q(device__isnull=True, organization_id=device.organization_id),
            start__lte=moment,
            end__gt=moment,
        )


class MaintenanceWindow(models.Model):
    """Problems of the device (or of every device of the organization) are not notified from
    ``start`` to ``end``."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    objects = MaintenanceQuerySet.as_manager()

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="maintenance_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        scope = self.device or self.organization
        return f"maintenance of {scope} until {self.end:%Y-%m-%d %H:%M}"


class OpenProblem(models.Model):
    """A metric's problem until it recovers; ``notified`` says whether anyone was told, so a
    recovery is announced exactly when its problem was."""

    metric = models.OneToOneField(Metric, on_delete=models.CASCADE, related_name="open_problem")
    since = models.DateTimeField()
    notified = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.metric} since {self.since:%Y-%m-%d %H:%M}"
