"""Fleet overview and device pages. Organization scoping comes from ``visible_to``."""

from datetime import UTC

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from fleetwatch.api.downloads import attachment, safe_filename
from fleetwatch.core import params
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.messaging.models import Channel
from fleetwatch.monitoring.models import HealthStatus
from fleetwatch.notifications.models import Notification, Preference
from fleetwatch.web import channels
from fleetwatch.web.devicepage import device_context
from fleetwatch.web.fleet import fleet_page
from fleetwatch.web.system import usage_notice


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a login refused after too many failures (settings.py)."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "username": get_client_username(request, credentials) or "",
        "cooloff_minutes": round(get_cool_off(request).total_seconds() / 60),
    }
    return render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


def unread_notifications(request) -> dict:
    """Context processor: the unread count in the header of every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.filter(user=user).unread().count()}


@login_required
def fleet(request):
    """The fleet list: one page of devices, sorted, searched and filtered server-side, with the
    overview of the fleet's health and the devices needing attention (``web/fleet.py``)."""
    usage_notice(request)
    context = fleet_page(request)
    context.update(
        organizations=Organization.objects.visible_to(request.user),
        statuses=HealthStatus.values,
        channels=Channel.choices,
        connections=channels.CONNECTIONS,
        map_url=reverse("device-map-list"),
        tile_url=settings.FLEETWATCH_MAP_TILES,
        # OpenStreetMap's tile policy asks for the attribution; another server's is the operator's.
        tile_attribution="© OpenStreetMap contributors"
        if "openstreetmap.org" in settings.FLEETWATCH_MAP_TILES
        else "",
    )
    return render(request, "web/fleet.html", context)


@login_required
def device(request, pk):
    obj = get_object_or_404(
        Device.objects.visible_to(request.user).select_related("organization", "health", "channel"), pk=pk
    )
    return render(request, "web/device.html", device_context(request, obj))


@login_required
def device_status_json(request, pk):
    """The device's latest status as a JSON download: ``{"id", "name", "time", "data"}``, with
    ``data`` the snapshot the chart API serves with ``?status=true`` and ``time`` the report's
    time (ISO 8601, UTC); both null when the device never reported. Members of the device's
    organization only (others: 404, as the device page)."""
    obj = get_object_or_404(Device.objects.visible_to(request.user).select_related("state"), pk=pk)
    state = getattr(obj, "state", None)
    when = state.data_time if state is not None else None
    body = {
        "id": str(obj.pk),
        "name": obj.name,
        "time": when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when is not None else None,
        "data": state.data if state is not None and when is not None else None,
    }
    response = JsonResponse(body, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = attachment(f"{safe_filename(obj.name, 'device')}-status.json")
    return response


@login_required
def notifications(request):
    """The user's notifications (newest first), mark read, and channel preferences."""
    preference, _ = Preference.objects.get_or_create(user=request.user)
    mine = Notification.objects.filter(user=request.user)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "read-all":
            mine.unread().update(read_at=timezone.now())
        elif action == "read":
            mine.filter(pk=params.integer(request.POST, "id")).unread().update(read_at=timezone.now())
        elif action == "preferences":
            preference.web = "web" in request.POST
            preference.email = "email" in request.POST
            preference.save()
        return redirect("web:notifications")
    return render(request, "web/notifications.html", {"notifications": mine[:200], "preference": preference})


@login_required
def dashboard(request):
    usage_notice(request)
    organizations = Organization.objects.visible_to(request.user).filter(is_active=True)
    return render(request, "web/dashboard.html", {"organizations": organizations})
