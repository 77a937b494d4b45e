"""Organizations (read) and devices (read for members, write for organization admins).

Rows of organizations the user does not belong to are invisible (404), never 403; a member
who may see a device but not change it gets 403."""

from rest_framework import permissions, viewsets
from rest_framework.exceptions import PermissionDenied

from fleetwatch.inventory.api.serializers import DeviceSerializer, OrganizationSerializer
from fleetwatch.inventory.models import Device, Organization


class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = OrganizationSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return Organization.objects.visible_to(self.request.user)


class OrgAdminWrites(permissions.BasePermission):
    message = "Only an administrator of the organization may change this."

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return type(obj).objects.manageable_by(request.user).filter(pk=obj.pk).exists()


class OrgAdminViewSet(viewsets.ModelViewSet):
    """Rows with an ``organization``: members read, administrators of that organization write
    (also when moving a row to another organization)."""

    permission_classes = [permissions.IsAuthenticated, OrgAdminWrites]

    def _check_organization(self, organization):
        if not Organization.objects.manageable_by(self.request.user).filter(pk=organization.pk).exists():
            raise PermissionDenied("You are not an administrator of that organization.")

    def perform_create(self, serializer):
        self._check_organization(serializer.validated_data["organization"])
        serializer.save()

    def perform_update(self, serializer):
        self._check_organization(
            serializer.validated_data.get("organization", serializer.instance.organization)
        )
        serializer.save()


class DeviceViewSet(OrgAdminViewSet):
    serializer_class = DeviceSerializer

    def get_queryset(self):
        return Device.objects.visible_to(self.request.user).select_related("organization", "health")
