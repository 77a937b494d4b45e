from django.urls import path

from fleetwatch.monitoring.api.views import DashboardView, StatusHistoryView, device_monitoring

urlpatterns = [
    path("device/<uuid:pk>/", device_monitoring, name="device-monitoring"),
    path("device/<uuid:pk>/status-history/", StatusHistoryView.as_view(), name="device-status-history"),
    path("dashboard/", DashboardView.as_view(), name="monitoring-dashboard"),
]
