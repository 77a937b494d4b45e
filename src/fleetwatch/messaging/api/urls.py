"""Paths of the messaging app under ``/api/v1/`` that are not router viewsets: the agents'
poll and command log (device key), and a device's commands (people)."""

from django.urls import path

from fleetwatch.messaging.api.agent import agent_poll, command_result
from fleetwatch.messaging.api.views import DeviceCommandsView

urlpatterns = [
    path("devices/<uuid:pk>/agent/", agent_poll, name="device-agent"),
    path("devices/<uuid:pk>/cmdlog/", command_result, name="device-cmdlog"),
    path("devices/<uuid:pk>/commands/", DeviceCommandsView.as_view(), name="device-commands"),
]
