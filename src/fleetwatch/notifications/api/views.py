"""Notifications of the requesting user; webhooks and maintenance windows of organizations.

Members see their organizations' maintenance windows; only administrators create webhooks,
read their delivery log and manage maintenance windows. Other organizations' rows are 404.
"""

from django.utils import timezone
from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch.core import params
from fleetwatch.inventory.api.views import OrgAdminViewSet
from fleetwatch.notifications.api.serializers import (
    DeliverySerializer,
    MaintenanceWindowSerializer,
    NotificationSerializer,
    PreferenceSerializer,
    WebhookSerializer,
)
from fleetwatch.notifications.models import MaintenanceWindow, Notification, Preference, Webhook


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """``?unread=1`` lists unread ones; ``POST …/<id>/read/``, ``POST …/read-all/``,
    ``GET …/unread-count/``."""

    serializer_class = NotificationSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        queryset = Notification.objects.filter(user=self.request.user)
        if self.request.query_params.get("unread") in ("1", "true"):
            queryset = queryset.unread()
        return queryset

    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
        return Response(self.get_serializer(notification).data)

    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        marked = Notification.objects.filter(user=request.user).unread().update(read_at=timezone.now())
        return Response({"marked": marked})

    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread": Notification.objects.filter(user=request.user).unread().count()})


class PreferenceView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    def get(self, request):
        preference, _ = Preference.objects.get_or_create(user=request.user)
        return Response(PreferenceSerializer(preference).data)

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

    patch = put


class WebhookViewSet(OrgAdminViewSet):
    """Webhooks (and their secrets, and their delivery log) are for administrators only."""

    serializer_class = WebhookSerializer

    def get_queryset(self):
        return Webhook.objects.manageable_by(self.request.user)

    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        webhook = self.get_object()
        page = webhook.deliveries.all()[:200]
        return Response(DeliverySerializer(page, many=True).data)


class MaintenanceWindowViewSet(OrgAdminViewSet):
    """``?device=<id>`` narrows to one device's windows (its own and its organization's);
    ``?active=1`` to those in force now."""

    serializer_class = MaintenanceWindowSerializer

    def get_queryset(self):
        queryset = MaintenanceWindow.objects.visible_to(self.request.user)
        device = params.uuid_value(self.request.query_params, "device")
        if device:
            from django.db.models import Q

            queryset = queryset.filter(
                Q(device_id=device) | Q(device__isnull=True, organization__devices=device)
            )
        if self.request.query_params.get("active") in ("1", "true"):
            now = timezone.now()
            queryset = queryset.filter(start__lte=now, end__gt=now)
        return queryset.distinct()
