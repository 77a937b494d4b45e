"""Organizations (read) and devices (read for members, write for organization admins).

Rows of organizations the user does not belong to are invisible (404), never 403; a member
who may see a device but not change it gets 403. The shared pieces (base viewset, permissions,
pagination, error shape) are in ``fleetwatch.api``."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from fleetwatch.api.pagination import Pagination
from fleetwatch.api.querysets import scoped
from fleetwatch.api.viewsets import UUID_LOOKUP, OrganizationScopedViewSet
from fleetwatch.inventory.api.filtersets import DeviceFilterSet, DeviceMapFilterSet, OrganizationFilterSet
from fleetwatch.inventory.api.serializers import (
    DeviceLocationSerializer,
    DeviceSerializer,
    OrganizationSerializer,
)
from fleetwatch.inventory.models import (
    Device,
    Location,
    Organization,
    administers,
    new_registration_secret,
)

REGISTRATION_SECRET = inline_serializer(
    "RegistrationSecret",
    {
        "registration_secret": serializers.CharField(
            help_text="The OpenWrt config agent's `option shared_secret`; empty: registration is off."
        )
    },
)


class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    """The organizations the user belongs to (all of them for a superuser)."""

    serializer_class = OrganizationSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_class = OrganizationFilterSet
    lookup_value_regex = UUID_LOOKUP

    def get_queryset(self):
        return scoped(Organization.objects.all(), self.request.user).order_by("name", "pk")

    @extend_schema(
        methods=["GET"],
        operation_id="organization_registration_secret",
        request=None,
        responses={200: REGISTRATION_SECRET},
        description="The shared secret with which the OpenWrt config agent registers routers into "
        "the organization. Administrators only.",
    )
    @extend_schema(
        methods=["POST"],
        operation_id="organization_registration_secret_rotate",
        request=None,
        responses={200: REGISTRATION_SECRET},
        description="A new secret (registration turned on, if it was off): routers already "
        "registered keep working (they use their key); new ones need the new secret.",
    )
    @extend_schema(
        methods=["DELETE"],
        operation_id="organization_registration_secret_clear",
        request=None,
        responses={200: REGISTRATION_SECRET},
        description="Registration turned off (an empty secret): every registration is refused (403).",
    )
    @action(detail=True, methods=["get", "post", "delete"], url_path="registration-secret")
    def registration_secret(self, request, pk=None):
        organization = self.get_object()
        if not administers(request.user, organization.pk):
            raise PermissionDenied(
                "Only an administrator of the organization may see or change its registration secret."
            )
        if request.method != "GET":
            organization.registration_secret = new_registration_secret() if request.method == "POST" else ""
            organization.save(update_fields=["registration_secret"])
        return Response({"registration_secret": organization.registration_secret})


class DeviceViewSet(OrganizationScopedViewSet):
    queryset = Device.objects.select_related("organization", "health", "channel")
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet
    ordering = ("name", "pk")


class MapPagination(Pagination):
    """The map's pages: 1,000 devices by default, at most 5,000 (the page's script follows
    ``next`` until the last one)."""

    default_limit = 1000
    max_limit = 5000


class DeviceMapViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The devices with a location (latitude and longitude both set) of the user's
    organizations, for the fleet page's map: id, name, organization, health status, location
    name and coordinates. Paginated (``?limit=&offset=``), ordered by location, then id; filtered by
    ``organization_slug`` and ``status``."""

    serializer_class = DeviceLocationSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_class = DeviceMapFilterSet
    pagination_class = MapPagination

    def get_queryset(self):
        # The located places first (a few thousand rows), then their devices through the
        # location index; and the user's organizations as ids rather than ``scoped``, whose
        # membership join needs a DISTINCT (with both, a member's first page of 90,000 devices
        # took 600 ms of CPU in bench/fleet.py: every device was joined to its location).
        places = Location.objects.filter(latitude__isnull=False, longitude__isnull=False)
        located = Device.objects.filter(location__in=places.values("pk"))
        user = self.request.user
        if not user.is_superuser:
            ids = list(scoped(Organization.objects.all(), user).values_list("pk", flat=True))
            located = located.filter(organization__in=ids)
        # By place, then id: the order of the (organization, location, id) index, so a page
        # is read from it without sorting every located device first.
        return located.select_related("location", "health").order_by("location", "pk")
