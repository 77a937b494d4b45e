"""The device page's context, shared by its view (``web/views.py``) and the command console's
(``web/channels.py``), which renders the page again with a refused form."""

from django.utils import timezone

from fleetwatch.inventory.api.serializers import health_status
from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.models import StatusChange
from fleetwatch.notifications.models import MaintenanceWindow, OpenProblem


def device_context(request, obj: Device) -> dict:
    """The device page's context (also rendered by the command console when it refuses a form)."""
    now = timezone.now()
    return {
        "device": obj,
        "health_status": health_status(obj),
        "maintenance": MaintenanceWindow.objects.active_for(obj, now).order_by("end"),
        "open_problems": OpenProblem.objects.filter(metric__device=obj).select_related("metric"),
        "status_changes": StatusChange.objects.filter(device=obj)[:20],
    }
