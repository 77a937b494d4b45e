"""Query parameters of the notification lists (django-filter)."""

from django.db.models import Q
from django.utils import timezone
from django_filters import rest_framework as filters

from fleetwatch.notifications.models import MaintenanceWindow, Notification, Webhook


class NotificationFilterSet(filters.FilterSet):
    """``unread=true`` (or ``1``): only those not read yet; ``unread=false`` (``0``): only read
    ones; another value is ignored."""

    unread = filters.BooleanFilter(method="filter_unread")

    class Meta:
        model = Notification
        fields = ["unread", "kind"]

    def filter_unread(self, queryset, name, value):
        return queryset.filter(read_at__isnull=value)


class WebhookFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = Webhook
        fields = ["organization", "is_active"]


class MaintenanceWindowFilterSet(filters.FilterSet):
    """``device=<uuid>``: the windows that cover the device (its own and its organization's);
    ``active=true``: those in force now (``false``: the others); ``organization=<uuid>``."""

    organization = filters.UUIDFilter(field_name="organization_id")
    device = filters.UUIDFilter(method="filter_device")
    active = filters.BooleanFilter(method="filter_active")

    class Meta:
        model = MaintenanceWindow
        fields = ["organization", "device", "active"]

    def filter_device(self, queryset, name, value):
        return queryset.filter(Q(device_id=value) | Q(device__isnull=True, organization__devices=value))

    def filter_active(self, queryset, name, value):
        now = timezone.now()
        in_force = Q(start__lte=now, end__gt=now)
        return queryset.filter(in_force if value else ~in_force)
