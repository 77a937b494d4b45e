"""Every URL of the REST API (``/api/v1/``): one router for the apps' viewsets, plus the
plain views (health, the monitoring endpoints, preferences) and the OpenAPI schema.

Part of the composition root, not of ``fleetwatch.api``: the apps' API modules build on the
shared layer (``fleetwatch.api``), and this module on both, so no import goes both ways
(``tests/test_layering.py``)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from fleetwatch.api.docs import RedocView, SwaggerView
from fleetwatch.api.health import HealthView
from fleetwatch.backups.api.views import BackupJobViewSet, BackupRunViewSet, RunnerTokenViewSet
from fleetwatch.inventory.api.enrollment import EnrollmentTokenViewSet, EnrollmentViewSet, EnrollView
from fleetwatch.inventory.api.views import DeviceMapViewSet, DeviceViewSet, OrganizationViewSet
from fleetwatch.messaging.api.views import CommandBatchViewSet, CommandViewSet
from fleetwatch.monitoring.api.views import Iperf3ServerViewSet, SshCredentialsViewSet
from fleetwatch.notifications.api.views import (
    MaintenanceWindowViewSet,
    NotificationViewSet,
    PreferenceView,
    WebhookViewSet,
)


class Router(DefaultRouter):
    """DRF's router with the API root view, without ``.json`` format suffixes (the API speaks
    JSON only)."""

    include_format_suffixes = False


router = Router()
router.register("inventory/organizations", OrganizationViewSet, basename="organization")
router.register("inventory/devices", DeviceViewSet, basename="device")
router.register("inventory/device-map", DeviceMapViewSet, basename="device-map")
router.register("notifications/webhooks", WebhookViewSet, basename="webhook")
router.register("notifications/maintenance", MaintenanceWindowViewSet, basename="maintenance")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("backups/jobs", BackupJobViewSet, basename="backup-job")
router.register("backups/runs", BackupRunViewSet, basename="backup-run")
router.register("backups/tokens", RunnerTokenViewSet, basename="backup-token")
router.register("commands", CommandViewSet, basename="command")
router.register("command-batches", CommandBatchViewSet, basename="command-batch")
router.register("enrollment-tokens", EnrollmentTokenViewSet, basename="enrollment-token")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")
router.register("monitoring/iperf3-servers", Iperf3ServerViewSet, basename="iperf3-server")
router.register("monitoring/ssh-credentials", SshCredentialsViewSet, basename="ssh-credentials")

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("monitoring/", include("fleetwatch.monitoring.api.urls")),
    path("notifications/preferences/", PreferenceView.as_view(), name="notification-preferences"),
    path("backups/", include("fleetwatch.backups.api.urls")),
    path("", include("fleetwatch.messaging.api.urls")),
    path("enroll/", EnrollView.as_view(), name="enroll"),
    path("usage/", include("fleetwatch.usage.api.urls")),
    *router.urls,
]
