from django.contrib import admin
from django.db import models
from django.urls import reverse

from fleetwatch.notifications.models import (
    MaintenanceWindow,
    Notification,
    OpenProblem,
    Webhook,
    WebhookDelivery,
)


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    fields = ("created", "kind", "status", "attempts", "response_code", "error", "next_attempt")
    readonly_fields = fields
    ordering = ("-created",)
    max_num = 0


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "url", "is_active")
    list_filter = ("is_active", "organization")
    inlines = [DeliveryInline]
    # A URL typed without its scheme is https (Django 6's default; saying so silences its warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def view_on_site(self, obj):
        return reverse("web:webhook", args=[obj.pk])  # the delivery log and "send test"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every attempt's outcome."""

    list_display = ("webhook", "kind", "status", "attempts", "response_code", "created", "last_attempt")
    list_filter = ("status", "kind")
    readonly_fields = (
        "webhook",
        "kind",
        "payload",
        "status",
        "attempts",
        "response_code",
        "error",
        "created",
        "last_attempt",
        "next_attempt",
    )


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ("organization", "device", "start", "end", "reason")
    list_filter = ("organization",)
    raw_id_fields = ("device",)

    def view_on_site(self, obj):
        return reverse("web:device", args=[obj.device_id]) if obj.device_id else reverse("web:maintenance")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "kind", "time", "read_at")
    list_filter = ("kind",)


@admin.register(OpenProblem)
class OpenProblemAdmin(admin.ModelAdmin):
    list_display = ("metric", "since", "notified")
