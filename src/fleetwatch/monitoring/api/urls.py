from django.urls import path

from fleetwatch.monitoring.api.views import DashboardView, device_monitoring

urlpatterns = [
    path("device/<uuid:pk>/", device_monitoring, name="device-monitoring"),
    path("dashboard/", DashboardView.as_view(), name="monitoring-dashboard"),
]
