"""The device page's context, shared by its view (``web/views.py``) and the command console's
(``web/channels.py``), which renders the page again with a refused form."""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from fleetwatch.core.timeseries import get_backend
from fleetwatch.inventory.api.serializers import health_status
from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.models import DeviceState, Metric, StatusChange
from fleetwatch.notifications.models import MaintenanceWindow, OpenProblem
from fleetwatch.timeseries import TimeseriesError
from fleetwatch.timeseries.buckets import DEFAULT_RANGE
from fleetwatch.timeseries.model import ReadQuery
from fleetwatch.web.devicestatus import device_status

log = logging.getLogger(__name__)

# The ranges the page offers up to the default (web/_range.html), shortest first.
OPENING_RANGES = (("1d", timedelta(days=1)), ("3d", timedelta(days=3)), (DEFAULT_RANGE, timedelta(days=7)))


def opening_range(device: Device, now: datetime) -> str:
    """The range the device page opens on: the shortest of 1 day, 3 days and 7 days (the
    default) that covers the device's data of the last 7 days, so a device reporting since
    yesterday does not open on six empty days. Its earliest point within those 7 days is read
    from the time-series store (one point, of the device's own series). A device that never
    reported (no metric yet): 1 day; one silent for the last 7 days, or the store unavailable:
    the default. A link's
    ``?time=`` still wins (charts.js)."""
    keys = sorted(set(Metric.objects.filter(device=device).values_list("key", flat=True)))
    if not keys:
        return OPENING_RANGES[0][0]
    longest = OPENING_RANGES[-1][1]
    query = ReadQuery(
        tuple(keys), tags={"object_id": str(device.pk)}, since=now - longest, until=now, order="asc", limit=1
    )
    try:
        rows = get_backend().read(query)
    except TimeseriesError as exc:  # BackendUnavailable included
        log.warning("device %s: the opening range falls back to %s: %s", device.pk, DEFAULT_RANGE, exc)
        return DEFAULT_RANGE
    if not rows:  # it reported once, but not in the last 7 days
        return DEFAULT_RANGE
    age = now - rows[0].time
    return next(name for name, span in OPENING_RANGES if age <= span or span == longest)


def latest_status(obj: Device):
    """The Status section's view-model (``web/devicestatus.py``) from the device's latest
    snapshot, None when it never reported one."""
    state = DeviceState.objects.filter(device=obj).values("data", "data_time").first()
    if state is None:
        return None
    facts = {"os": obj.os, "model": obj.model, "system": obj.system}
    return device_status(state["data"], state["data_time"], facts)


def device_context(request, obj: Device) -> dict:
    """The device page's context (also rendered by the command console when it refuses a form)."""
    now = timezone.now()
    return {
        "device_status": latest_status(obj),
        "device": obj,
        "health_status": health_status(obj),
        "maintenance": MaintenanceWindow.objects.active_for(obj, now).order_by("end"),
        "open_problems": OpenProblem.objects.filter(metric__device=obj).select_related("metric"),
        "status_changes": StatusChange.objects.filter(device=obj)[:20],
        "opening_range": opening_range(obj, now),
    }
