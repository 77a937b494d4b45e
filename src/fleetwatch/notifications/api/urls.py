from django.urls import path
from rest_framework.routers import SimpleRouter

from fleetwatch.notifications.api.views import (
    MaintenanceWindowViewSet,
    NotificationViewSet,
    PreferenceView,
    WebhookViewSet,
)

router = SimpleRouter()
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("maintenance", MaintenanceWindowViewSet, basename="maintenance")
router.register("", NotificationViewSet, basename="notification")

urlpatterns = [path("preferences/", PreferenceView.as_view(), name="notification-preferences"), *router.urls]
