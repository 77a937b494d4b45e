"""Notifications of the requesting user; webhooks and maintenance windows of organizations.

Members see their organizations' maintenance windows; only administrators create webhooks,
read their delivery log and manage maintenance windows. Other organizations' rows are 404.
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch.api.viewsets import INTEGER_LOOKUP, OrganizationScopedViewSet
from fleetwatch.notifications.api.filtersets import (
    MaintenanceWindowFilterSet,
    NotificationFilterSet,
    WebhookFilterSet,
)
from fleetwatch.notifications.api.serializers import (
    DeliverySerializer,
    MaintenanceWindowSerializer,
    NotificationSerializer,
    PreferenceSerializer,
    WebhookSerializer,
)
from fleetwatch.notifications.models import MaintenanceWindow, Notification, Preference, Webhook


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The user's own notifications, newest first (``?unread=true`` only unread ones);
    ``POST …/<id>/read/``, ``POST …/read-all/``, ``GET …/unread-count/``."""

    serializer_class = NotificationSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_class = NotificationFilterSet
    lookup_value_regex = INTEGER_LOOKUP

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's request
            return Notification.objects.none()
        return Notification.objects.filter(user=self.request.user)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=None, responses=inline_serializer("Marked", {"marked": serializers.IntegerField()})
    )
    @action(detail=False, methods=["post"], url_path="read-all", filterset_class=None, pagination_class=None)
    def read_all(self, request):
        marked = Notification.objects.filter(user=request.user).unread().update(read_at=timezone.now())
        return Response({"marked": marked})

    @extend_schema(responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()}))
    @action(
        detail=False, methods=["get"], url_path="unread-count", filterset_class=None, pagination_class=None
    )
    def unread_count(self, request):
        return Response({"unread": Notification.objects.filter(user=request.user).unread().count()})


class PreferenceView(APIView):
    """The user's own notification preferences (created with the defaults when first read)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=PreferenceSerializer)
    def get(self, request):
        preference, _ = Preference.objects.get_or_create(user=request.user)
        return Response(PreferenceSerializer(preference).data)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def put(self, request):
        # Validate before creating the defaults row: a 400 writes nothing.
        existing = Preference.objects.filter(user=request.user).first()
        serializer = PreferenceSerializer(
            existing or Preference(user=request.user), data=request.data, partial=True
        )
        serializer.is_valid(raise_exception=True)
        if existing is None:
            serializer.instance, _ = Preference.objects.get_or_create(user=request.user)
        serializer.save()
        return Response(serializer.data)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def patch(self, request):
        return self.put(request)


class WebhookViewSet(OrganizationScopedViewSet):
    """Webhooks (and their secrets, and their delivery log) are for administrators only."""

    queryset = Webhook.objects.all()
    serializer_class = WebhookSerializer
    filterset_class = WebhookFilterSet
    scope = "manageable"
    ordering = ("name", "pk")
    lookup_value_regex = INTEGER_LOOKUP

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=DeliverySerializer, filterset_class=None)
    def deliveries(self, request, pk=None):
        """The webhook's delivery log, newest first (paginated)."""
        webhook = self.get_object()
        page = self.paginate_queryset(webhook.deliveries.order_by("-created", "-id"))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class MaintenanceWindowViewSet(OrganizationScopedViewSet):
    """Members read their organizations' windows, administrators write them; filters in
    :class:`~fleetwatch.notifications.api.filtersets.MaintenanceWindowFilterSet`."""

    queryset = MaintenanceWindow.objects.all()
    serializer_class = MaintenanceWindowSerializer
    filterset_class = MaintenanceWindowFilterSet
    ordering = ("-start", "-pk")
    lookup_value_regex = INTEGER_LOOKUP
