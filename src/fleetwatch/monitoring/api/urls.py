from django.urls import path

from fleetwatch.monitoring.api.views import DashboardView, DeviceMonitoringView

urlpatterns = [
    path("device/<uuid:pk>/", DeviceMonitoringView.as_view(), name="device-monitoring"),
    path("dashboard/", DashboardView.as_view(), name="monitoring-dashboard"),
]
