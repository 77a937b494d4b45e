"""Query parameters of the iperf3 servers' and SSH credentials' lists (django-filter)."""

from django_filters import rest_framework as filters

from fleetwatch.monitoring.models import Iperf3Server, SshCredentials


class Iperf3ServerFilterSet(filters.FilterSet):
    """``organization=<uuid>``, ``is_active=true|false``."""

    organization = filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = Iperf3Server
        fields = ["organization", "is_active"]


class SshCredentialsFilterSet(filters.FilterSet):
    """``organization=<uuid>``: the credentials of that organization's devices."""

    organization = filters.UUIDFilter(field_name="device__organization_id")

    class Meta:
        model = SshCredentials
        fields = ["organization"]
