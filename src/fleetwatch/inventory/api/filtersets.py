"""Query parameters of the inventory lists (django-filter; a malformed value is a 400 naming
the parameter, see ``fleetwatch.api.exceptions``)."""

from django.db.models import Q
from django_filters import rest_framework as filters

from fleetwatch.inventory.models import Device, Organization

# The health statuses (fleetwatch.monitoring.models.HealthStatus; inventory does not import
# monitoring, which imports inventory).
HEALTH_STATUSES = [(s, s) for s in ("unknown", "ok", "problem", "critical", "deactivated")]


class OrganizationFilterSet(filters.FilterSet):
    class Meta:
        model = Organization
        fields = ["slug", "is_active"]


class DeviceFilterSet(filters.FilterSet):
    """``organization=<uuid>``, ``organization_slug=<slug>``, ``is_active=true|false``,
    ``name=<exact name>``, ``channel=http|mqtt|amqp`` (the channel it last spoke over; a device
    never heard over the broker is ``http``), ``connected=true|false`` (to the broker now)."""

    organization = filters.UUIDFilter(field_name="organization_id")
    organization_slug = filters.CharFilter(field_name="organization__slug")
    channel = filters.ChoiceFilter(
        choices=[("http", "HTTP"), ("mqtt", "MQTT"), ("amqp", "AMQP")], method="filter_channel"
    )
    connected = filters.BooleanFilter(method="filter_connected")

    def filter_channel(self, queryset, name, value):
        if value == "http":
            return queryset.filter(Q(channel__channel="http") | Q(channel__isnull=True))
        return queryset.filter(channel__channel=value)

    def filter_connected(self, queryset, name, value):
        if value:
            return queryset.filter(channel__connected=True)
        return queryset.exclude(channel__connected=True)

    class Meta:
        model = Device
        fields = ["organization", "organization_slug", "name", "is_active"]


class DeviceMapFilterSet(filters.FilterSet):
    """``organization_slug=<slug>``, ``status=unknown|ok|problem|critical|deactivated`` (the
    health status, as the fleet page filters it)."""

    organization_slug = filters.CharFilter(field_name="organization__slug")
    status = filters.ChoiceFilter(choices=HEALTH_STATUSES, method="filter_status")

    def filter_status(self, queryset, name, value):
        if value == "deactivated":
            return queryset.filter(is_active=False)
        if value == "unknown":
            return queryset.filter(Q(is_active=True) & (Q(health__isnull=True) | Q(health__status="unknown")))
        return queryset.filter(is_active=True, health__status=value)

    class Meta:
        model = Device
        fields = ["organization_slug"]
