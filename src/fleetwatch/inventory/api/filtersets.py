"""Query parameters of the inventory lists (django-filter; a malformed value is a 400 naming
the parameter, see ``fleetwatch.api.exceptions``)."""

from django_filters import rest_framework as filters

from fleetwatch.inventory.models import Device, Organization


class OrganizationFilterSet(filters.FilterSet):
    class Meta:
        model = Organization
        fields = ["slug", "is_active"]


class DeviceFilterSet(filters.FilterSet):
    """``organization=<uuid>``, ``organization_slug=<slug>``, ``is_active=true|false``,
    ``name=<exact name>``."""

    organization = filters.UUIDFilter(field_name="organization_id")
    organization_slug = filters.CharFilter(field_name="organization__slug")

    class Meta:
        model = Device
        fields = ["organization", "organization_slug", "name", "is_active"]
