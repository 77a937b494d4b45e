"""The one lifecycle of device commands, whatever carries them (HTTP polling, MQTT, AMQP).

A command is queued by an organization administrator (:func:`queue`, :func:`queue_batch`),
offered to the device when it asks or comes online (:func:`offer`: ``queued`` → ``delivered``),
and finished by the device's result (:func:`record_result`: ``ok`` / ``err``), by an
administrator (:func:`cancel`) or by time (:func:`expire`, after ``FLEETWATCH_COMMAND_EXPIRY``).

The protocol is the Sensorgnome hub agent's (``sensor-stations.md`` B.3): a command goes to the
device as ``{"seq", "action", "argument"}`` (:func:`wire`); ``seq`` numbers the device's
commands (strictly increasing, never reused) and the device runs each number at most once, so
offering a delivered command again (a lost answer, a reconnect) is safe. Its result comes back
as ``seq`` + ``OK``/``ERR`` + output; the first result of a number is kept, a repeat changes
nothing. Every :class:`~fleetwatch.messaging.models.Command` row is the audit record (who asked,
when, over which channel, what came back); each change is also logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fleetwatch.inventory.models import Device
from fleetwatch.messaging.models import (
    FINAL_STATUSES,
    MAX_OUTPUT,
    Command,
    CommandAction,
    CommandBatch,
    CommandStatus,
    DeviceChannel,
)

log = logging.getLogger(__name__)

PENDING_STATUSES = (CommandStatus.QUEUED, CommandStatus.DELIVERED)
MAX_ARGUMENT = 1000  # Command.argument's column
MAX_BATCH = 1000  # devices in one batch
# ``restart``: a service (systemd unit) name; ``logs``: an absolute path, then at most 1 MiB.
SERVICE = re.compile(r"[A-Za-z0-9@._:-]{1,200}")
LOGS = re.compile(r"(?P<path>/\S*)(?:\s+(?P<kib>[0-9]{1,7}))?")
MAX_LOG_KIB = MAX_OUTPUT // 1024
RESULTS = {"ok": CommandStatus.OK, "err": CommandStatus.ERR}
MAX_FEATURES, MAX_AGENT = 16, 64  # DeviceChannel's columns


class CommandRefused(ValueError):
    """A request that can never be accepted as sent (HTTP 400): ``field`` names what is wrong
    (``action``, ``argument``, ``devices``, ``status``, ``seq``), ``str()`` says why."""

    def __init__(self, message: str, field: str = "argument"):
        super().__init__(message)
        self.field = field


class CommandFinished(CommandRefused):
    """A change of a command that has finished already, e.g. cancelling an ``ok`` one
    (HTTP 409: it conflicts with the stored state)."""


class UnknownCommand(LookupError):
    """No command of that device has this sequence number (HTTP 404; a broker result with it
    is dead-lettered)."""


def _device_id(device) -> object:
    """A :class:`Device`, or anything with its ``pk`` (the agent path's ``ReportingDevice``)."""
    return device.pk


def validate(action: str, argument: str | None) -> str:
    """The argument of ``action`` as stored (stripped); :class:`CommandRefused` otherwise.

    ``exec``: a command line (run by the device's shell); ``restart``: a service name;
    ``logs``: ``<absolute path> [KiB]`` (1 to 1024 KiB, the output bound); ``reboot`` and
    ``test`` take none."""
    if action not in CommandAction.values:
        raise CommandRefused(
            f"'{action}' is not a command; one of {', '.join(CommandAction.values)}.", "action"
        )
    argument = (argument or "").strip()
    if len(argument) > MAX_ARGUMENT:
        raise CommandRefused(f"The argument has more than {MAX_ARGUMENT} characters.")
    if "\x00" in argument:
        raise CommandRefused("The argument must not contain NUL characters.")
    if action == CommandAction.EXEC and not argument:
        raise CommandRefused("exec needs a command line.")
    if action in (CommandAction.REBOOT, CommandAction.TEST) and argument:
        raise CommandRefused(f"{action} takes no argument.")
    if action == CommandAction.RESTART and not SERVICE.fullmatch(argument):
        raise CommandRefused(
            "restart needs a service name (letters, digits, '@', '.', '_', ':' and '-')."
        )
    if action == CommandAction.LOGS:
        match = LOGS.fullmatch(argument)
        if match is None:
            raise CommandRefused("logs needs an absolute path and optionally KiB: '/var/log/syslog 64'.")
        kib = match["kib"]
        if kib is not None and not 1 <= int(kib) <= MAX_LOG_KIB:
            raise CommandRefused(f"logs: KiB must be between 1 and {MAX_LOG_KIB}, not {int(kib)}.")
    return argument


def wire(command: Command) -> dict:
    """The command as the device gets it, over HTTP and over the broker alike:
    ``{"seq": 3, "action": "exec", "argument": "uptime"}``."""
    return {"seq": command.seq, "action": command.action, "argument": command.argument}


def _locked_channel(device_id) -> DeviceChannel:
    """The device's channel row, created if absent, locked until the transaction ends (the
    sequence numbers are given under this lock; SQLite's writes are serialised anyway)."""
    DeviceChannel.objects.get_or_create(device_id=device_id)
    return DeviceChannel.objects.select_for_update().get(device_id=device_id)


def _queue(device: Device, action: str, argument: str, user, batch, now: datetime) -> Command:
    channel = _locked_channel(device.pk)
    channel.last_seq += 1
    channel.save(update_fields=["last_seq"])
    command = Command.objects.create(
        device=device,
        seq=channel.last_seq,
        action=action,
        argument=argument,
        batch=batch,
        requested_by=user if getattr(user, "pk", None) is not None else None,
        expires=now + settings.FLEETWATCH_COMMAND_EXPIRY,
    )
    log.info(
        "command %s #%d %s %r for device %s queued by %s",
        command.pk,
        command.seq,
        action,
        argument,
        device.pk,
        user,
    )
    return command


def queue(device: Device, action: str, argument: str | None, user, batch=None, now=None) -> Command:
    """Queue a command for ``device``, asked by ``user``; its ``seq`` is the device's next
    number. Raises :class:`CommandRefused` for an unknown action or a bad argument
    (:func:`validate`). Expires ``FLEETWATCH_COMMAND_EXPIRY`` after ``now``."""
    argument = validate(action, argument)
    now = now or timezone.now()
    with transaction.atomic():
        return _queue(device, action, argument, user, batch, now)


def queue_batch(devices: Iterable[Device], action: str, argument: str | None, user, now=None) -> CommandBatch:
    """One command for each of ``devices`` (all of one organization, at most
    :data:`MAX_BATCH`, each once), grouped in a :class:`CommandBatch` whose progress is their
    statuses (:func:`progress`). All or nothing: a refusal queues none."""
    argument = validate(action, argument)
    devices = list({device.pk: device for device in devices}.values())
    if not devices:
        raise CommandRefused("Name at least one device.", "devices")
    if len(devices) > MAX_BATCH:
        raise CommandRefused(f"At most {MAX_BATCH} devices in one batch.", "devices")
    organizations = {device.organization_id for device in devices}
    if len(organizations) != 1:
        raise CommandRefused("The devices of a batch must belong to one organization.", "devices")
    now = now or timezone.now()
    with transaction.atomic():
        batch = CommandBatch.objects.create(
            organization_id=organizations.pop(),
            action=action,
            argument=argument,
            requested_by=user if getattr(user, "pk", None) is not None else None,
        )
        for device in sorted(devices, key=lambda d: str(d.pk)):  # one lock order for every batch
            _queue(device, action, argument, user, batch, now)
    return batch


def progress(batch: CommandBatch) -> dict[str, int]:
    """``{status: number of the batch's commands in it}`` for every status (zeros included)."""
    counts = dict.fromkeys(CommandStatus.values, 0)
    for status in batch.commands.values_list("status", flat=True):
        counts[status] += 1
    return counts


def offer(device, channel: str, now=None, limit: int | None = None) -> list[Command]:
    """The commands the device should run, oldest ``seq`` first (at most ``limit``): queued
    ones, now marked delivered over ``channel`` (``http``, ``mqtt``, ``amqp``), and delivered
    ones without a result yet (offered again: the device runs a number at most once and
    answers a repeat with its stored result). Expired ones are left for :func:`expire`."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = (
            Command.objects.select_for_update()
            .filter(device_id=_device_id(device), status__in=PENDING_STATUSES, expires__gt=now)
            .order_by("seq")
        )
        commands = list(pending[:limit] if limit is not None else pending)
        for command in commands:
            if command.status == CommandStatus.QUEUED:
                command.status, command.delivered, command.channel = CommandStatus.DELIVERED, now, channel
                command.save(update_fields=["status", "delivered", "channel"])
                log.info("command %s #%d delivered over %s", command.pk, command.seq, channel)
    return commands


def bound_output(output: bytes | str | None) -> tuple[str, bool]:
    """``(text, truncated)``: the output as text of at most :data:`MAX_OUTPUT` bytes in UTF-8,
    its beginning kept. Bytes are decoded as UTF-8, invalid sequences replaced by U+FFFD; NUL
    characters (which no database text column keeps) and lone surrogates are replaced too. A
    character cut in two at the bound is dropped whole."""
    if output is None:
        return "", False
    if isinstance(output, bytes | bytearray | memoryview):
        text = bytes(output).decode("utf-8", errors="replace")
    else:
        text = str(output)
    encoded = text.replace("\x00", "\ufffd").encode("utf-8", errors="replace")
    if len(encoded) <= MAX_OUTPUT:
        return encoded.decode("utf-8"), False
    return encoded[:MAX_OUTPUT].decode("utf-8", errors="ignore"), True


def parse_result_status(status: str | None) -> str:
    """``OK``/``ERR`` (any case) → ``ok``/``err``; :class:`CommandRefused` (field ``status``)
    otherwise."""
    found = RESULTS.get((status or "").strip().lower())
    if found is None:
        raise CommandRefused(f"status must be OK or ERR, not {status!r}.", "status")
    return found


def record_result(device, seq: int, status: str, output: bytes | str | None, now=None) -> tuple[Command, bool]:
    """Store the device's result of command ``seq``: ``(command, recorded)``.

    ``status`` is ``OK`` or ``ERR`` (any case; else :class:`CommandRefused`); ``output`` is
    bounded by :func:`bound_output`. The first result wins: a command that has finished (a
    repeated result, or one cancelled or expired meanwhile) is returned unchanged with
    ``recorded`` False. A result may come before the delivery was recorded (the broker's
    publish and the device's answer race): the command is then delivered and finished at once.
    :class:`UnknownCommand` when the device has no command ``seq``."""
    final = parse_result_status(status)
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**31:
        raise CommandRefused(f"seq must be a positive integer, not {seq!r}.", "seq")
    text, truncated = bound_output(output)
    now = now or timezone.now()
    with transaction.atomic():
        command = Command.objects.select_for_update().filter(device_id=_device_id(device), seq=seq).first()
        if command is None:
            raise UnknownCommand(f"Device {_device_id(device)} has no command {seq}.")
        if command.status in FINAL_STATUSES:
            return command, False
        command.status, command.output, command.output_truncated = final, text, truncated
        command.finished = now
        command.delivered = command.delivered or now
        command.save(update_fields=["status", "output", "output_truncated", "finished", "delivered"])
    log.info("command %s #%d finished %s (%d characters of output)", command.pk, seq, final, len(text))
    return command, True


def cancel(command: Command, user, now=None) -> Command:
    """Cancel a queued or delivered command (a device that received it already may still run
    it: its result is then ignored). :class:`CommandFinished` for any other status."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Command.objects.select_for_update().get(pk=command.pk)
        if current.status not in PENDING_STATUSES:
            raise CommandFinished(
                f"Command {current.seq} is {current.status}: only a queued or delivered command can be cancelled.",
                "status",
            )
        current.status, current.finished = CommandStatus.CANCELLED, now
        current.cancelled_by = user if getattr(user, "pk", None) is not None else None
        current.save(update_fields=["status", "finished", "cancelled_by"])
    log.info("command %s #%d cancelled by %s", current.pk, current.seq, user)
    return current


def expire(now=None) -> int:
    """Mark every queued or delivered command whose ``expires`` has passed as expired (the
    worker's pass, ``expire-commands``); returns how many."""
    now = now or timezone.now()
    count = Command.objects.filter(status__in=PENDING_STATUSES, expires__lte=now).update(
        status=CommandStatus.EXPIRED, finished=now
    )
    if count:
        log.info("%d commands expired", count)
    return count


def printable(text: str) -> str:
    """``text`` without control characters and lone surrogates (what an agent says of itself
    is shown on pages and stored in any database)."""
    return "".join(c for c in text if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF)


def note_contact(device, channel: str, now=None, features: str | None = None, agent: str | None = None) -> None:
    """Record that the device spoke over ``channel`` at ``now``: ``DeviceChannel.channel`` and
    ``last_message`` (the row is created if absent), its ``features`` and ``agent`` when given
    (bounded to their columns), and ``Device.last_seen``."""
    now = now or timezone.now()
    changes = {"channel": channel, "last_message": now}
    if features is not None:
        changes["features"] = printable(features)[:MAX_FEATURES]
    if agent is not None:
        changes["agent"] = printable(agent)[:MAX_AGENT]
    device_id = _device_id(device)
    with transaction.atomic():
        DeviceChannel.objects.get_or_create(device_id=device_id)
        DeviceChannel.objects.filter(device_id=device_id).update(**changes)
        Device.objects.filter(pk=device_id).update(last_seen=now)
