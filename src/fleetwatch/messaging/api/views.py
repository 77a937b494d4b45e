"""The commands API for people: organization administrators only (sensor-stations.md B.3's
command queue; issue 15). A member of the device's organization gets 403 (:data:`ADMINS_ONLY`),
anyone else 404, no credentials 401.

- ``/api/v1/devices/<uuid>/commands/``: the device's commands (GET, newest first) and a new one
  (POST ``{"action", "argument"}`` → 201);
- ``/api/v1/commands/``: the commands of the organizations you administer (filters: device,
  organization, batch, status, action); ``commands/<uuid>/`` one, with its output;
  ``commands/<uuid>/cancel/`` (POST) cancels a queued or delivered one (another status: 409);
- ``/api/v1/command-batches/``: one command to several devices of one organization (POST
  ``{"devices": [...], "action", "argument"}`` → 201), with its progress per status.

Every write goes through :mod:`fleetwatch.messaging.commands` (the one lifecycle).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from fleetwatch.api.exceptions import Conflict
from fleetwatch.api.querysets import scoped, visible_or_404
from fleetwatch.api.viewsets import UUID_LOOKUP
from fleetwatch.inventory.models import Device, administers
from fleetwatch.messaging import commands
from fleetwatch.messaging.api.filtersets import (
    CommandBatchFilterSet,
    CommandFilterSet,
    DeviceCommandFilterSet,
)
from fleetwatch.messaging.api.serializers import (
    BatchRequestSerializer,
    CommandBatchDetailSerializer,
    CommandBatchSerializer,
    CommandListSerializer,
    CommandSerializer,
    QueueSerializer,
)
from fleetwatch.messaging.models import Command, CommandBatch

TAGS = ["commands"]
ADMINS_ONLY = "Only an administrator of the organization may send commands or see them."
NOT_YOUR_ORGANIZATION = "You are not an administrator of that organization."


class OrganizationAdminsOnly(permissions.BasePermission):
    """Authenticated; on a row, an administrator of its organization (403 :data:`ADMINS_ONLY`
    for a member, who sees it exists; rows of other organizations never reach here: 404)."""

    message = ADMINS_ONLY

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        organization_id = obj.organization_id if isinstance(obj, CommandBatch) else obj.device.organization_id
        return administers(request.user, organization_id)


def refused(exc: commands.CommandRefused) -> ValidationError:
    return ValidationError({exc.field: [str(exc)]})


@extend_schema(tags=TAGS)
class DeviceCommandsView(generics.ListCreateAPIView):
    """A device's commands, newest first (without output: ``commands/<id>/`` has it), and a new
    command for it."""

    permission_classes = [OrganizationAdminsOnly]
    filterset_class = DeviceCommandFilterSet

    def get_serializer_class(self):
        return CommandListSerializer if self.request.method == "GET" else QueueSerializer

    def device(self) -> Device:
        """The path's device: 404 unless you see it, 403 unless you administer it."""
        device = visible_or_404(
            Device.objects.all(), self.request.user, "No such device.", pk=self.kwargs["pk"]
        )
        if not administers(self.request.user, device.organization_id):
            raise PermissionDenied(ADMINS_ONLY)
        return device

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's request
            return Command.objects.none()
        return (
            Command.objects.filter(device=self.device())
            .select_related("device", "requested_by", "cancelled_by")
            .order_by("-seq")
        )

    @extend_schema(
        operation_id="device_commands_create",
        request=QueueSerializer,
        responses={201: CommandSerializer},
    )
    def post(self, request, *args, **kwargs):
        """Queue a command: it goes to the device when it next asks (HTTP) or at once over the
        broker while it is connected; it expires after ``FLEETWATCH_COMMAND_EXPIRY``."""
        device = self.device()
        body = QueueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            command = commands.queue(device, data["action"], data["argument"], request.user)
        except commands.CommandRefused as exc:
            raise refused(exc) from None
        return Response(CommandSerializer(command).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="device_commands_list", responses=CommandListSerializer(many=True))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS)
class CommandViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Commands of the organizations you administer (the audit trail: who asked what, when,
    and what came back); one with its output; cancelling one."""

    permission_classes = [OrganizationAdminsOnly]
    filterset_class = CommandFilterSet
    lookup_value_regex = UUID_LOOKUP
    queryset = Command.objects.select_related("device", "requested_by", "cancelled_by")

    def get_serializer_class(self):
        return CommandListSerializer if self.action == "list" else CommandSerializer

    def get_queryset(self):
        # Lists: administered organizations only. One row: every visible one, so that a member
        # learns it is theirs but not theirs to see (403), an outsider nothing (404).
        scope = "manageable" if self.action == "list" else "visible"
        return scoped(self.queryset, self.request.user, scope).order_by("-created", "-seq", "pk")

    @extend_schema(
        request=None,
        responses={
            200: CommandSerializer,
            409: OpenApiResponse(
                description="The command has finished already (ok, err, expired, cancelled)."
            ),
        },
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        """Cancel a queued or delivered command. A device that received it already may still
        run it; its result is then not recorded."""
        command = self.get_object()
        try:
            command = commands.cancel(command, request.user)
        except commands.CommandFinished as exc:
            raise Conflict(str(exc)) from None
        return Response(CommandSerializer(command).data)


@extend_schema(tags=TAGS)
class CommandBatchViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """One command sent to several devices of an organization, and its progress."""

    permission_classes = [OrganizationAdminsOnly]
    filterset_class = CommandBatchFilterSet
    lookup_value_regex = UUID_LOOKUP
    queryset = CommandBatch.objects.select_related("requested_by")

    def get_serializer_class(self):
        if self.action == "create":
            return BatchRequestSerializer
        return CommandBatchDetailSerializer if self.action == "retrieve" else CommandBatchSerializer

    def get_queryset(self):
        scope = "manageable" if self.action == "list" else "visible"
        return scoped(self.queryset, self.request.user, scope).order_by("-created", "pk")

    @extend_schema(request=BatchRequestSerializer, responses={201: CommandBatchDetailSerializer})
    def create(self, request, *args, **kwargs):
        body = BatchRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not administers(request.user, data["devices"][0].organization_id):
            raise PermissionDenied(NOT_YOUR_ORGANIZATION)
        try:
            batch = commands.queue_batch(data["devices"], data["action"], data["argument"], request.user)
        except commands.CommandRefused as exc:
            raise refused(exc) from None
        detail = CommandBatchDetailSerializer(batch, context=self.get_serializer_context())
        return Response(detail.data, status=status.HTTP_201_CREATED)
