"""Bodies of the commands API: a command (the audit record: who asked, when, over which
channel, what came back), the request to queue one, and batches with their progress. Dates are
ISO 8601 (UTC, ``Z``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from fleetwatch.api.fields import ScopedPrimaryKeyRelatedField
from fleetwatch.inventory.models import Device
from fleetwatch.messaging import commands
from fleetwatch.messaging.models import Command, CommandAction, CommandBatch, CommandStatus


class CommandSerializer(serializers.ModelSerializer):
    """A command as ``commands/<id>/`` answers it. ``output``: the device's output, its first
    1 MiB (``output_truncated`` when there was more); ``channel``: what delivered it."""

    device_name = serializers.CharField(source="device.name", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    cancelled_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    channel = serializers.CharField(
        read_only=True, help_text='What delivered it: "http", "mqtt" or "amqp"; "" until it is delivered.'
    )

    class Meta:
        model = Command
        fields = [
            "id",
            "device",
            "device_name",
            "seq",
            "action",
            "argument",
            "status",
            "output",
            "output_truncated",
            "batch",
            "requested_by",
            "cancelled_by",
            "channel",
            "created",
            "delivered",
            "finished",
            "expires",
        ]
        read_only_fields = fields


class CommandListSerializer(CommandSerializer):
    """A command in a list: without its ``output`` (up to 1 MiB each; ``commands/<id>/`` has it)."""

    class Meta(CommandSerializer.Meta):
        fields = [f for f in CommandSerializer.Meta.fields if f != "output"]
        read_only_fields = fields


class ActionFields(serializers.Serializer):
    """``action`` and its ``argument``, checked by the lifecycle's own rules
    (:func:`fleetwatch.messaging.commands.validate`)."""

    action = serializers.ChoiceField(choices=CommandAction.choices)
    argument = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=commands.MAX_ARGUMENT,
        trim_whitespace=True,
        help_text="exec: the command line; restart: the service; logs: `<absolute path> [KiB]`; "
        "reboot, test: none.",
    )

    def validate(self, attrs):
        try:
            attrs["argument"] = commands.validate(attrs["action"], attrs.get("argument", ""))
        except commands.CommandRefused as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from None
        return attrs


class QueueSerializer(ActionFields):
    """``POST devices/<id>/commands/``: ``{"action": "exec", "argument": "uptime"}``."""


class BatchRequestSerializer(ActionFields):
    """``POST command-batches/``: ``{"devices": [<uuid>, …], "action", "argument"}``: devices of
    one organization you administer, at most 1000."""

    devices = ScopedPrimaryKeyRelatedField(
        queryset=Device.objects.select_related("organization"), many=True, allow_empty=False
    )

    def validate_devices(self, devices):
        if len(devices) > commands.MAX_BATCH:
            raise serializers.ValidationError(f"At most {commands.MAX_BATCH} devices in one batch.")
        if len({device.organization_id for device in devices}) != 1:
            raise serializers.ValidationError("The devices of a batch must belong to one organization.")
        return devices


PROGRESS = inline_serializer(
    "CommandBatchProgress",
    {status: serializers.IntegerField() for status in CommandStatus.values},
)


class CommandBatchSerializer(serializers.ModelSerializer):
    """A batch: the command sent, who asked, and ``progress``, how many of its devices'
    commands are in each status."""

    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    devices = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = CommandBatch
        fields = [
            "id",
            "organization",
            "action",
            "argument",
            "requested_by",
            "created",
            "devices",
            "progress",
        ]
        read_only_fields = fields

    def get_devices(self, batch) -> int:
        """How many devices the batch was sent to."""
        return sum(self.get_progress(batch).values())

    @extend_schema_field(PROGRESS)
    def get_progress(self, batch) -> dict:
        cache = self.context.setdefault("_progress", {})
        if batch.pk not in cache:
            cache[batch.pk] = commands.progress(batch)
        return cache[batch.pk]


class BatchCommandSerializer(serializers.ModelSerializer):
    """One device's command of a batch (its status; the output is at ``commands/<id>/``)."""

    device_name = serializers.CharField(source="device.name", read_only=True)

    class Meta:
        model = Command
        fields = ["id", "device", "device_name", "seq", "status", "output_truncated", "delivered", "finished"]
        read_only_fields = fields


class CommandBatchDetailSerializer(CommandBatchSerializer):
    """A batch with its commands, one per device, by device name."""

    commands = serializers.SerializerMethodField()

    class Meta(CommandBatchSerializer.Meta):
        fields = [*CommandBatchSerializer.Meta.fields, "commands"]
        read_only_fields = fields

    @extend_schema_field(BatchCommandSerializer(many=True))
    def get_commands(self, batch) -> list:
        rows = batch.commands.select_related("device").order_by("device__name", "device_id")
        return BatchCommandSerializer(rows, many=True).data
