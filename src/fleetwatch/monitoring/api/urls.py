from django.urls import path

from fleetwatch.monitoring.api.views import DeviceMonitoringView

urlpatterns = [
    path("device/<uuid:pk>/", DeviceMonitoringView.as_view(), name="device-monitoring"),
]
