"""Device channels on the pages: the device page's connection card, connection history, station
messages and command console; the fleet list's channel and connection filters and badge.

Who sees what (``OrgScopedQuerySet`` as everywhere): whoever sees a device sees its connection,
its history and its station messages; only the administrators of its organization see the
command console and the commands (issue 15: "Organization admins only, every command
audited"). A member's request to the console is 403, another organization's device is 404.

Commands are queued by :func:`fleetwatch.messaging.commands.queue` (the single lifecycle;
:class:`~fleetwatch.messaging.commands.CommandRefused` is shown in the form). The console form
carries a one-time token (:mod:`fleetwatch.web.once`): a double click queues one command. Its
POST answers with a redirect to the device page (POST/redirect/GET), so a reload does not send
it again either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from fleetwatch.core.params import InvalidParameter
from fleetwatch.inventory.models import Device, administers
from fleetwatch.messaging.models import (
    FINAL_STATUSES,
    Channel,
    Command,
    CommandAction,
    ConnectionEvent,
    DeviceChannel,
    StationMessage,
)
from fleetwatch.web import once
from fleetwatch.web.devicepage import device_context

CONNECTION_EVENTS = 20  # rows of the device page's connection history
STATION_MESSAGES = 50  # rows of its last station messages
COMMANDS = 50  # rows of its command history
OUTPUT_SHOWN = 16 * 1024  # characters of a command's output shown on the page (the rest: a link)
OUTPUT_OPEN_LINES = 12  # longer outputs are collapsed (<details>) until opened
BROKER_CHANNELS = (Channel.MQTT, Channel.AMQP)
CONNECTIONS = ("connected", "disconnected")

COMMANDS_ENABLED = "Remote commands are enabled on this device"
COMMANDS_DISABLED = "Remote commands are disabled in the device's own configuration"
COMMANDS_UNKNOWN = "Whether this device runs remote commands is unknown: its agent has not said"


def device_channel(device: Device) -> DeviceChannel | None:
    """The device's channel row, or None for a device that only ever spoke the OpenWrt
    monitoring agent's HTTP (no row)."""
    try:
        return device.channel
    except DeviceChannel.DoesNotExist:
        return None


@dataclass
class Connection:
    """What the pages say of a device's connection. ``state``: ``connected`` /
    ``disconnected`` for a device on a broker channel (MQTT, AMQP), ``""`` over HTTP, which has
    no connection to keep; ``since``: when it last changed; ``last_message``: over any channel."""

    channel: str
    channel_label: str
    state: str
    since: datetime | None
    last_message: datetime | None
    agent: str
    commands_enabled: bool | None

    @property
    def commands_note(self) -> str:
        if self.commands_enabled is None:
            return COMMANDS_UNKNOWN
        return COMMANDS_ENABLED if self.commands_enabled else COMMANDS_DISABLED


def connection(device: Device) -> Connection:
    """The device's :class:`Connection` (from its :class:`DeviceChannel`, else HTTP and its
    ``last_seen``)."""
    row = device_channel(device)
    if row is None:
        return Connection(Channel.HTTP, Channel.HTTP.label, "", None, device.last_seen, "", None)
    state, since = "", None
    if row.channel in BROKER_CHANNELS:
        state = "connected" if row.connected else "disconnected"
        since = row.connected_since if row.connected else row.disconnected_since
    last = max((t for t in (row.last_message, device.last_seen) if t is not None), default=None)
    return Connection(
        row.channel, Channel(row.channel).label, state, since, last, row.agent, row.commands_enabled
    )


# --------------------------------------------------------------------------------- fleet list


def _choice(params, name: str, allowed) -> str:
    value = params.get(name, "")
    if value and value not in allowed:
        raise InvalidParameter(name, f"one of {', '.join(allowed)}")
    return value


def fleet_filters(params) -> tuple[str, str]:
    """The fleet list's ``channel`` (http, mqtt, amqp) and ``connection`` (connected,
    disconnected) parameters; anything else is a 400."""
    return _choice(params, "channel", Channel.values), _choice(params, "connection", CONNECTIONS)


def filter_fleet(devices: QuerySet, channel: str, state: str) -> QuerySet:
    """``channel=http`` includes the devices without a channel row (the OpenWrt agent);
    ``connection=connected`` is connected to the broker now, ``disconnected`` is on a broker
    channel and not connected (an HTTP device is neither: it has no connection to lose)."""
    if channel == Channel.HTTP:
        devices = devices.filter(Q(channel__isnull=True) | Q(channel__channel=Channel.HTTP))
    elif channel:
        devices = devices.filter(channel__channel=channel)
    if state == "connected":
        devices = devices.filter(channel__connected=True)
    elif state == "disconnected":
        devices = devices.filter(channel__connected=False, channel__channel__in=BROKER_CHANNELS)
    return devices


# --------------------------------------------------------------------------------- device page


class CommandForm(forms.Form):
    """The console: an action and its argument (checked by ``commands.queue``), and the form's
    one-time token."""

    action = forms.ChoiceField(choices=CommandAction.choices)
    argument = forms.CharField(max_length=1000, required=False, strip=True)
    once = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"once": once.new_nonce(), "action": CommandAction.TEST})
        super().__init__(*args, **kwargs)
        self.fields["argument"].widget.attrs.update(
            placeholder="exec: a command line · restart: a service · logs: /var/log/syslog 64",
            autocomplete="off",
        )


def command_rows(device: Device) -> list[Command]:
    """The device's last :data:`COMMANDS` commands, newest first, each with ``shown_output``
    (at most :data:`OUTPUT_SHOWN` characters), ``output_cut`` and ``collapsed``."""
    rows = list(
        Command.objects.filter(device=device).select_related("requested_by", "cancelled_by", "batch")[
            :COMMANDS
        ]
    )
    for command in rows:
        command.shown_output = command.output[:OUTPUT_SHOWN]
        command.output_cut = len(command.output) > OUTPUT_SHOWN
        command.collapsed = command.output_cut or command.output.count("\n") >= OUTPUT_OPEN_LINES
        command.pending = command.status not in FINAL_STATUSES
    return rows


def panel(request, device: Device, form: CommandForm | None = None) -> dict:
    """The context of the device page's channel sections (``{% device_channels device %}``)."""
    admin = administers(request.user, device.organization_id)
    context = {
        "device": device,
        "connection": connection(device),
        "connection_events": ConnectionEvent.objects.filter(device=device)[:CONNECTION_EVENTS],
        "station_messages": StationMessage.objects.filter(device=device)[:STATION_MESSAGES],
        "console": admin,
    }
    if admin:
        context["form"] = form or CommandForm()
        context["commands"] = command_rows(device)
    return context


def _admin_device(request, pk) -> Device:
    """The device if the user administers its organization; 404 if they cannot see it, 403 if
    they only see it."""
    device = get_object_or_404(Device.objects.visible_to(request.user).select_related("organization"), pk=pk)
    if not administers(request.user, device.organization_id):
        raise PermissionDenied("Only an administrator of the device's organization may send it commands.")
    return device


@login_required
def commands(request, pk):
    """``/devices/<uuid>/commands/``: GET the command history (the fragment the page's script
    refreshes while a command is pending); POST queue a command (then back to the device page)."""
    device = _admin_device(request, pk)
    if request.method == "GET":
        return render(
            request, "web/channels/_commands.html", {"device": device, "commands": command_rows(device)}
        )
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    from fleetwatch.messaging.commands import CommandRefused, queue

    form = CommandForm(request.POST)
    if form.is_valid():
        nonce = form.cleaned_data["once"]
        try:
            with transaction.atomic():
                earlier = once.claim(nonce, request.user, "command")
                if earlier is None:
                    command = queue(
                        device, form.cleaned_data["action"], form.cleaned_data["argument"], request.user
                    )
                    once.settle(nonce, str(command.pk))
        except CommandRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else "argument", str(refused))
        else:
            if earlier is None:
                messages.success(request, f"Command #{command.seq} ({command}) is queued.")
            else:
                messages.info(request, "This form was sent already: the command was queued once.")
            return redirect(reverse("web:device", args=[device.pk]) + "#console")
    return render(
        request, "web/device.html", {**device_context(request, device), "command_form": form}, status=400
    )


@login_required
@require_GET
def command_output(request, pk, command):
    """``/devices/<uuid>/commands/<uuid>/output/``: a command's whole stored output, as plain
    text (the page shows the first :data:`OUTPUT_SHOWN` characters)."""
    device = _admin_device(request, pk)
    row = get_object_or_404(Command, device=device, pk=command)
    response = HttpResponse(row.output, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{device.name}-{row.seq}.txt"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def command_cancel(request, pk, command):
    """``/devices/<uuid>/commands/<uuid>/cancel/``: cancel a queued or delivered command."""
    from fleetwatch.messaging.commands import CommandRefused, cancel

    device = _admin_device(request, pk)
    row = get_object_or_404(Command, device=device, pk=command)
    try:
        cancel(row, request.user)
    except CommandRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Command #{row.seq} is cancelled.")
    return redirect(reverse("web:device", args=[device.pk]) + "#console")
