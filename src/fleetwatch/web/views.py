"""Fleet overview and device pages. Organization scoping comes from ``visible_to``."""

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, render

from fleetwatch.inventory.models import Device, Organization


@login_required
def fleet(request):
    devices = Device.objects.visible_to(request.user).select_related("organization", "location")
    organizations = Organization.objects.visible_to(request.user)
    query = request.GET.get("q", "").strip()
    if query:
        devices = devices.filter(Q(name__icontains=query) | Q(mac_address__icontains=query))
    org = request.GET.get("org", "")
    if org:
        devices = devices.filter(organization__slug=org)
    return render(
        request,
        "web/fleet.html",
        {
            "devices": devices.order_by("organization__name", "name"),
            "organizations": organizations,
            "query": query,
            "org": org,
        },
    )


@login_required
def device(request, pk):
    obj = get_object_or_404(Device.objects.visible_to(request.user).select_related("organization"), pk=pk)
    return render(request, "web/device.html", {"device": obj})


@login_required
def dashboard(request):
    organizations = Organization.objects.visible_to(request.user).filter(is_active=True)
    return render(request, "web/dashboard.html", {"organizations": organizations})
