"""Device channels: how a device talks to Fleetwatch (HTTP, MQTT, AMQP), whether it is connected
to the broker right now and since when, the messages stations send, and the command queue.

Who may see what follows the device's organization (``OrgScopedQuerySet`` with an
``org_path`` through the device); commands are for organization administrators only.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models

from fleetwatch.inventory.models import Device, Organization, OrgScopedQuerySet

# Bound of a command's stored output (the hub agent's cmdlog bound, sensor-stations.md B.3).
MAX_OUTPUT = 1024 * 1024


def new_broker_password() -> str:
    return secrets.token_urlsafe(24)


class Channel(models.TextChoices):
    HTTP = "http", "HTTP"
    MQTT = "mqtt", "MQTT"
    AMQP = "amqp", "AMQP"


class DeviceScopedQuerySet(OrgScopedQuerySet):
    org_path = "device__organization"


class DeviceChannel(models.Model):
    """A device's channel state (one row per device that has a broker account or has spoken an
    agent protocol beyond the OpenWrt monitoring agent's).

    The broker account: username = the device's UUID (so RabbitMQ's ``{username}`` expansion in
    topic permissions confines it to ``fleetwatch.<uuid>.*``), ``broker_password`` is given to the
    device at enrollment; ``provisioned`` is when the broker last accepted the account (None: not
    yet, the worker retries). Connection: ``connected`` from the broker's connection events and
    MQTT will messages, ``last_message`` over any channel. ``features``: the agent's feature flags
    (``c`` remote commands enabled, as the Sensorgnome hub agent's ``features=``)."""

    device = models.OneToOneField(Device, primary_key=True, on_delete=models.CASCADE, related_name="channel")
    channel = models.CharField(max_length=4, choices=Channel.choices, default=Channel.HTTP)
    broker_password = models.CharField(max_length=64, default=new_broker_password, editable=False)
    provisioned = models.DateTimeField(null=True, blank=True)
    connected = models.BooleanField(default=False)
    connected_since = models.DateTimeField(null=True, blank=True)
    disconnected_since = models.DateTimeField(null=True, blank=True)
    last_message = models.DateTimeField(null=True, blank=True)
    features = models.CharField(max_length=16, blank=True)
    agent = models.CharField(max_length=64, blank=True)  # e.g. "fleetwatch-agent/0.1.0"
    last_seq = models.PositiveIntegerField(default=0)  # the last command sequence number given

    objects = DeviceScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.device} over {self.channel}"

    @property
    def username(self) -> str:
        return str(self.device_id)

    @property
    def commands_enabled(self) -> bool | None:
        """Whether the agent said it runs remote commands (None: it never said)."""
        if not self.agent:
            return None
        return "c" in self.features


class ConnectionEvent(models.Model):
    """History of a device's broker connection: connected / disconnected, when, how."""

    class Kind(models.TextChoices):
        CONNECTED = "connected", "Connected"
        DISCONNECTED = "disconnected", "Disconnected"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="connection_events")
    time = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    channel = models.CharField(max_length=4, choices=Channel.choices)
    # Where the event came from: "broker" (connection event), "will" (MQTT will), "agent".
    source = models.CharField(max_length=10)
    detail = models.CharField(max_length=200, blank=True)

    objects = DeviceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["device", "-time"])]

    def __str__(self) -> str:
        return f"{self.device} {self.kind} at {self.time:%Y-%m-%d %H:%M:%S}"


class StationMessage(models.Model):
    """A station's message (the ``{"id": serial, "message": …}`` envelope of sensor-stations.md
    B.1), one row per line; typed lines of B.2 (``G``, ``M``, ``C``, ``S``, ``A``, ``R``, ``p<port>``)
    keep their type and time. ``digest`` (SHA-1 of time and text) makes a redelivered message
    stored once."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="station_messages")
    time = models.DateTimeField()  # the line's own time, else when Fleetwatch received it
    received = models.DateTimeField()
    kind = models.CharField(max_length=8, blank=True)  # "G", "M", "p1", … ("" for free text)
    text = models.TextField()
    digest = models.CharField(max_length=40)

    objects = DeviceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        constraints = [models.UniqueConstraint(fields=["device", "digest"], name="one_station_message")]
        indexes = [models.Index(fields=["device", "-time"])]

    def __str__(self) -> str:
        return self.text[:80]


class CommandAction(models.TextChoices):
    EXEC = "exec", "Run a command line"
    REBOOT = "reboot", "Reboot"
    RESTART = "restart", "Restart a service"
    TEST = "test", "Test (uptime)"
    LOGS = "logs", "Upload the end of a log"


class CommandStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DELIVERED = "delivered", "Delivered"
    OK = "ok", "OK"
    ERR = "err", "Error"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = (CommandStatus.OK, CommandStatus.ERR, CommandStatus.EXPIRED, CommandStatus.CANCELLED)


class CommandBatch(models.Model):
    """One command sent to a group of devices: one :class:`Command` per device, whose statuses
    are the batch's progress."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="command_batches")
    action = models.CharField(max_length=8, choices=CommandAction.choices)
    argument = models.CharField(max_length=1000, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.action} {self.argument}".strip()


class Command(models.Model):
    """A command for one device (sensor-stations.md B.3, the hub agent's protocol): ``seq``
    numbers a device's commands (the device runs each number at most once), ``argument`` is the
    command line (``exec``), the service (``restart``) or ``<path> [KiB]`` (``logs``). Every row
    is the audit record: who asked, when, what came back. ``output`` holds at most 1 MiB."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="commands")
    seq = models.PositiveIntegerField()
    action = models.CharField(max_length=8, choices=CommandAction.choices)
    argument = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=10, choices=CommandStatus.choices, default=CommandStatus.QUEUED)
    output = models.TextField(blank=True)
    output_truncated = models.BooleanField(default=False)
    batch = models.ForeignKey(
        CommandBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="commands"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=4, choices=Channel.choices, blank=True)  # delivered over
    created = models.DateTimeField(auto_now_add=True)
    delivered = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField()

    objects = DeviceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-seq"]
        constraints = [models.UniqueConstraint(fields=["device", "seq"], name="one_command_per_seq")]
        indexes = [models.Index(fields=["device", "status"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.argument}".strip()
