from django.urls import include, path

from fleetwatch.api.health import HealthView

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("monitoring/", include("fleetwatch.monitoring.api.urls")),
    path("inventory/", include("fleetwatch.inventory.api.urls")),
    path("notifications/", include("fleetwatch.notifications.api.urls")),
]
