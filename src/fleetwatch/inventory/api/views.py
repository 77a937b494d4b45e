"""Organizations (read) and devices (read for members, write for organization admins).

Rows of organizations the user does not belong to are invisible (404), never 403; a member
who may see a device but not change it gets 403. The shared pieces (base viewset, permissions,
pagination, error shape) are in ``fleetwatch.api``."""

from rest_framework import permissions, viewsets

from fleetwatch.api.querysets import scoped
from fleetwatch.api.viewsets import UUID_LOOKUP, OrganizationScopedViewSet
from fleetwatch.inventory.api.filtersets import DeviceFilterSet, OrganizationFilterSet
from fleetwatch.inventory.api.serializers import DeviceSerializer, OrganizationSerializer
from fleetwatch.inventory.models import Device, Organization


class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    """The organizations the user belongs to (all of them for a superuser)."""

    serializer_class = OrganizationSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_class = OrganizationFilterSet
    lookup_value_regex = UUID_LOOKUP

    def get_queryset(self):
        return scoped(Organization.objects.all(), self.request.user).order_by("name", "pk")


class DeviceViewSet(OrganizationScopedViewSet):
    queryset = Device.objects.select_related("organization", "health", "channel")
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet
    ordering = ("name", "pk")
