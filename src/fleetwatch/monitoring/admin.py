from django import forms
from django.contrib import admin
from django.urls import reverse

from fleetwatch.monitoring.models import (
    AlertSettings,
    Chart,
    Check,
    DeviceHealth,
    DeviceState,
    Iperf3Server,
    Metric,
    SshCredentials,
    StatusChange,
)


def device_page(device_id) -> str | None:
    """The web UI's page of a device: admin change pages link to it ("View on site")."""
    return reverse("web:device", args=[device_id]) if device_id else None


class ChartInline(admin.TabularInline):
    model = Chart
    extra = 0


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "device",
        "configuration",
        "key",
        "field_name",
        "is_healthy",
        "is_healthy_tolerant",
    )
    list_filter = ("configuration", "is_healthy")
    search_fields = ("name", "device__name")
    inlines = [ChartInline]

    def view_on_site(self, obj):
        return device_page(obj.device_id)


@admin.register(DeviceState)
class DeviceStateAdmin(admin.ModelAdmin):
    list_display = ("device", "data_time", "counters_time")
    readonly_fields = ("device", "data", "data_time", "counters", "counters_time", "series_seen")


@admin.register(AlertSettings)
class AlertSettingsAdmin(admin.ModelAdmin):
    """Per-device overrides of the registry's alert defaults."""

    list_display = ("metric", "device", "operator", "threshold", "tolerance", "is_active")
    list_filter = ("is_active", "metric__configuration")
    list_select_related = ("metric__device",)
    search_fields = ("metric__name", "metric__device__name")
    raw_id_fields = ("metric",)

    @admin.display(description="device", ordering="metric__device__name")
    def device(self, obj):
        return obj.metric.device

    def view_on_site(self, obj):
        return device_page(obj.metric.device_id)


@admin.register(Check)
class CheckAdmin(admin.ModelAdmin):
    list_display = ("device", "check_type", "is_active", "last_run", "last_error")
    list_filter = ("check_type", "is_active")
    search_fields = ("device__name",)
    raw_id_fields = ("device",)

    def view_on_site(self, obj):
        return device_page(obj.device_id)


@admin.register(DeviceHealth)
class DeviceHealthAdmin(admin.ModelAdmin):
    list_display = ("device", "status", "changed")
    list_filter = ("status",)
    readonly_fields = ("device", "status", "changed")


@admin.register(StatusChange)
class StatusChangeAdmin(admin.ModelAdmin):
    list_display = ("device", "time", "previous", "status", "reason")
    list_filter = ("status",)
    readonly_fields = ("device", "time", "previous", "status", "reason")


class SecretsForm(forms.ModelForm):
    """Secrets are never shown back; a field left blank keeps the stored value."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            stored = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name].widget = (
                forms.Textarea(attrs={"rows": 3}) if name == "private_key" else forms.PasswordInput()
            )
            self.fields[name].help_text = "Stored (encrypted): leave blank to keep it." if stored else ""
            self.initial[name] = ""

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            for name in self.secret_fields:
                if not cleaned.get(name):
                    cleaned[name] = getattr(self.instance, name)
                    setattr(self.instance, name, cleaned[name])
        return cleaned


class Iperf3ServerForm(SecretsForm):
    secret_fields = ("password",)

    class Meta:
        model = Iperf3Server
        fields = (
            "organization",
            "host",
            "port",
            "priority",
            "is_active",
            "username",
            "password",
            "rsa_public_key",
        )


@admin.register(Iperf3Server)
class Iperf3ServerAdmin(admin.ModelAdmin):
    form = Iperf3ServerForm
    list_display = ("__str__", "organization", "priority", "is_active", "username")
    list_filter = ("is_active", "organization")
    search_fields = ("host",)


class SshCredentialsForm(SecretsForm):
    secret_fields = ("password", "private_key", "passphrase")

    class Meta:
        model = SshCredentials
        fields = (
            "device",
            "username",
            "address",
            "port",
            "password",
            "private_key",
            "passphrase",
            "host_key",
        )


@admin.register(SshCredentials)
class SshCredentialsAdmin(admin.ModelAdmin):
    form = SshCredentialsForm
    list_display = ("device", "username", "address", "port", "updated")
    search_fields = ("device__name", "username")
    raw_id_fields = ("device",)

    def view_on_site(self, obj):
        return device_page(obj.device_id)
