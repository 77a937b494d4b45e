"""Query parameters of the commands lists (django-filter; a malformed value is a 400 naming the
parameter, see ``fleetwatch.api.exceptions``)."""

from __future__ import annotations

from django_filters import rest_framework as filters

from fleetwatch.messaging.models import Command, CommandAction, CommandBatch, CommandStatus


class CommandFilterSet(filters.FilterSet):
    """``device=<uuid>``, ``organization=<uuid>``, ``batch=<uuid>``, ``status``, ``action``."""

    device = filters.UUIDFilter(field_name="device_id")
    organization = filters.UUIDFilter(field_name="device__organization_id")
    batch = filters.UUIDFilter(field_name="batch_id")
    status = filters.ChoiceFilter(choices=CommandStatus.choices)
    action = filters.ChoiceFilter(choices=CommandAction.choices)

    class Meta:
        model = Command
        fields = ["device", "organization", "batch", "status", "action"]


class DeviceCommandFilterSet(filters.FilterSet):
    """A device's commands: ``status``, ``action``."""

    status = filters.ChoiceFilter(choices=CommandStatus.choices)
    action = filters.ChoiceFilter(choices=CommandAction.choices)

    class Meta:
        model = Command
        fields = ["status", "action"]


class CommandBatchFilterSet(filters.FilterSet):
    """``organization=<uuid>``, ``action``."""

    organization = filters.UUIDFilter(field_name="organization_id")
    action = filters.ChoiceFilter(choices=CommandAction.choices)

    class Meta:
        model = CommandBatch
        fields = ["organization", "action"]
