"""Onboarding in the web UI: add a device, show its UUID and key once with the OpenWrt agent's
settings, rotate its key, deactivate or delete it.

Organization admins (and superusers) may do all of it; members see the device pages but none of
these controls, and a request to these views anyway is 403; a device of another organization is
404 (``visible_to`` / ``manageable_by`` in inventory/models.py). Every change is a POST with its
CSRF token; rotating, deactivating and deleting each ask for confirmation first (a GET shows
what will happen, only the POST does it).

The key is kept by the server (agents' reports are checked against it), but shown only on the
page that follows its creation or rotation: the device's id goes into the session then, and the
connect page takes it out again. Reloading that page shows the UUID and the settings with a
placeholder for the key; rotating gives a new key (and the old one stops working).
"""

from __future__ import annotations

import ipaddress

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http.request import split_domain_port
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from fleetwatch.inventory.models import Device, Location, Organization, new_device_key

REVEAL = "fleetwatch.onboarding.reveal"  # session: ids (str) of devices whose key shows once
KEY_PLACEHOLDER = "<the key shown when the device was added or its key rotated>"


class DeviceForm(forms.ModelForm):
    """Name, MAC, management IP and location of a new device, in an organization the user
    administers. ``new_location`` creates a location of that organization by name (or takes the
    existing one of that name) when none is chosen."""

    new_location = forms.CharField(
        max_length=100, required=False, label="or a new location", help_text="e.g. Lobby, 2nd floor"
    )

    class Meta:
        model = Device
        fields = ["organization", "name", "mac_address", "management_ip", "location"]
        labels = {"mac_address": "MAC address", "management_ip": "Management IP"}
        help_texts = {
            "mac_address": "e.g. 44:d1:fa:4b:38:43 (optional)",
            "management_ip": "the address the server pings (optional)",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        organizations = Organization.objects.manageable_by(user).filter(is_active=True)
        self.fields["organization"].queryset = organizations
        self.fields["organization"].empty_label = None
        if organizations.count() == 1:
            self.fields["organization"].initial = organizations.first().pk
            self.fields["organization"].widget = forms.HiddenInput()
        self.fields["location"].queryset = Location.objects.filter(organization__in=organizations)
        self.fields["location"].empty_label = "(none)"
        self.fields["name"].widget.attrs["autofocus"] = True

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("location") and cleaned.get("new_location", "").strip():
            self.add_error("new_location", "Choose a location or name a new one, not both.")
        return cleaned

    def save(self, commit=True):
        device = super().save(commit=False)
        name = self.cleaned_data.get("new_location", "").strip()
        if name:
            device.location, _ = Location.objects.get_or_create(organization=device.organization, name=name)
        if commit:
            device.save()
        return device


def _manageable_device(request, pk) -> Device:
    """The device if the user may change it; 404 if they cannot see it, 403 if they only see it."""
    device = get_object_or_404(Device.objects.visible_to(request.user).select_related("organization"), pk=pk)
    if not Device.objects.manageable_by(request.user).filter(pk=device.pk).exists():
        raise PermissionDenied("Only an administrator of the device's organization may change it.")
    return device


def _reveal_next(request, device: Device) -> None:
    request.session[REVEAL] = [*request.session.get(REVEAL, []), str(device.pk)]


def _take_reveal(request, device: Device) -> bool:
    pending = request.session.get(REVEAL, [])
    if str(device.pk) not in pending:
        return False
    request.session[REVEAL] = [pk for pk in pending if pk != str(device.pk)]
    return True


def server_url(request) -> str:
    """This server's base URL as the browser reached it, e.g. ``http://192.168.1.10:8000``."""
    return request.build_absolute_uri("/").rstrip("/")


def is_loopback_host(request) -> bool:
    """True when the page was opened on a loopback name, which a router cannot reach."""
    host, _port = split_domain_port(request.get_host())
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def openwrt_commands(url: str, device: Device, key: str, verify_ssl: bool) -> str:
    """The ``uci`` lines that point the OpenWrt ``openwisp-monitoring`` agent at this server: it
    reads url/uuid/key (and TLS options) from ``/etc/config/openwisp`` section ``http`` and its
    own options from ``/etc/config/openwisp-monitoring`` section ``monitoring``
    (shared/reference/agents.md; docs/connecting-a-router.md explains each line)."""
    lines = [
        "uci set openwisp.http=controller",
        f"uci set openwisp.http.url='{url}'",
        f"uci set openwisp.http.uuid='{device.pk}'",
        f"uci set openwisp.http.key='{key}'",
        f"uci set openwisp.http.verify_ssl='{1 if verify_ssl else 0}'",
        "uci set openwisp-monitoring.monitoring=monitoring",
        "uci set openwisp-monitoring.monitoring.interval='300'",
        "uci set openwisp-monitoring.monitoring.monitored_interfaces='*'",
        "uci commit openwisp",
        "uci commit openwisp-monitoring",
        "/etc/init.d/openwisp-monitoring restart",
    ]
    return "\n".join(lines)


def can_add_devices(user) -> bool:
    """True if ``user`` administers an active organization (or is a superuser): who sees "Add
    device" and may use it."""
    return Organization.objects.manageable_by(user).filter(is_active=True).exists()


@login_required
@require_http_methods(["GET", "POST"])
def add_device(request):
    """``/devices/add/``: the form; on success the device is saved and the connect page follows."""
    if not can_add_devices(request.user):
        raise PermissionDenied("Only an organization's administrators may add devices.")
    form = DeviceForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            device = form.save()
        _reveal_next(request, device)
        return redirect("web:device-connect", pk=device.pk)
    return render(request, "web/onboarding/add.html", {"form": form})


@never_cache
@login_required
@require_http_methods(["GET"])
def connect(request, pk):
    """``/devices/<uuid>/connect/``: UUID, key (right after adding or rotating only) and the
    OpenWrt agent's settings, with copy buttons."""
    device = _manageable_device(request, pk)
    reveal = _take_reveal(request, device)
    key = device.key if reveal else KEY_PLACEHOLDER
    url = server_url(request)
    context = {
        "device": device,
        "reveal": reveal,
        "key": key,
        "server_url": url,
        "loopback": is_loopback_host(request),
        "commands": openwrt_commands(url, device, key, verify_ssl=request.is_secure()),
        "report_url": f"{url}/api/v1/monitoring/device/{device.pk}/?key={key}",
    }
    return render(request, "web/onboarding/connect.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rotate_key(request, pk):
    """``/devices/<uuid>/rotate-key/``: confirm, then a new key (the old one stops working at
    once: agents using it get 403) shown once on the connect page."""
    device = _manageable_device(request, pk)
    if request.method == "POST":
        device.key = new_device_key()
        device.save(update_fields=["key"])
        _reveal_next(request, device)
        messages.success(request, f"{device.name} has a new key; the old one no longer works.")
        return redirect("web:device-connect", pk=device.pk)
    return render(request, "web/onboarding/confirm.html", {"device": device, "action": "rotate"})


@login_required
@require_http_methods(["GET", "POST"])
def set_active(request, pk):
    """``/devices/<uuid>/deactivate/``: confirm, then deactivate (its reports get 404 and it
    raises no alerts) or, for a deactivated device, activate again."""
    device = _manageable_device(request, pk)
    action = "activate" if not device.is_active else "deactivate"
    if request.method == "POST":
        device.is_active = not device.is_active
        device.save(update_fields=["is_active"])
        messages.success(request, f"{device.name} is {'active' if device.is_active else 'deactivated'}.")
        return redirect("web:device", pk=device.pk)
    return render(request, "web/onboarding/confirm.html", {"device": device, "action": action})


@login_required
@require_http_methods(["GET", "POST"])
def delete_device(request, pk):
    """``/devices/<uuid>/delete/``: confirm, then delete the device and its checks, metrics and
    alert settings (its points stay in the time-series store until their retention ends)."""
    device = _manageable_device(request, pk)
    if request.method == "POST":
        name = device.name
        device.delete()
        messages.success(request, f"{name} was deleted.")
        return redirect("web:fleet")
    return render(request, "web/onboarding/confirm.html", {"device": device, "action": "delete"})
