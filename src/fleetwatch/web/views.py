"""Fleet overview and device pages. Organization scoping comes from ``visible_to``."""

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from fleetwatch.core import params
from fleetwatch.inventory.api.serializers import health_status
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.messaging.models import Channel
from fleetwatch.monitoring.models import HealthStatus
from fleetwatch.notifications.models import Notification, Preference
from fleetwatch.web import channels
from fleetwatch.web.devicepage import device_context
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
    usage_notice(request)
    devices = Device.objects.visible_to(request.user).select_related(
        "organization", "location", "health", "channel"
    )
    organizations = Organization.objects.visible_to(request.user)
    query = params.text(request.GET, "q").strip()
    if query:
        devices = devices.filter(Q(name__icontains=query) | Q(mac_address__icontains=query))
    org = params.slug(request.GET, "org")
    if org:
        devices = devices.filter(organization__slug=org)
    status = request.GET.get("status", "")
    channel, state = channels.fleet_filters(request.GET)
    devices = channels.filter_fleet(devices, channel, state)
    devices = list(devices.order_by("organization__name", "name"))
    for d in devices:
        d.health_status = health_status(d)
        d.connection = channels.connection(d)
    if status:
        devices = [d for d in devices if d.health_status == status]
    return render(
        request,
        "web/fleet.html",
        {
            "devices": devices,
            "organizations": organizations,
            "query": query,
            "org": org,
            "status": status,
            "statuses": HealthStatus.values,
            "channel": channel,
            "channels": Channel.choices,
            "connection": state,
            "connections": channels.CONNECTIONS,
        },
    )


@login_required
def device(request, pk):
    obj = get_object_or_404(
        Device.objects.visible_to(request.user).select_related("organization", "health", "channel"), pk=pk
    )
    return render(request, "web/device.html", device_context(request, obj))


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
