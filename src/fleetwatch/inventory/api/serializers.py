from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from fleetwatch.api.fields import ScopedPrimaryKeyRelatedField
from fleetwatch.inventory.models import Device, Location, Organization, administers


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "is_active", "created"]
        read_only_fields = ["id", "created"]


def health_status(device) -> str:
    """unknown, ok, problem, critical or deactivated (see fleetwatch.monitoring.health)."""
    if not device.is_active:
        return "deactivated"
    health = getattr(device, "health", None)
    return health.status if health is not None else "unknown"


class ConnectionSerializer(serializers.Serializer):
    """A device's channel state (fleetwatch.messaging.models.DeviceChannel): the channel it last
    spoke over (``http``, ``mqtt``, ``amqp``), whether it is connected to the broker now and since
    when, its last message over any channel, and whether its agent runs remote commands (null: it
    never said)."""

    channel = serializers.CharField(read_only=True)
    connected = serializers.BooleanField(read_only=True)
    connected_since = serializers.DateTimeField(read_only=True, allow_null=True)
    disconnected_since = serializers.DateTimeField(read_only=True, allow_null=True)
    last_message = serializers.DateTimeField(read_only=True, allow_null=True)
    commands_enabled = serializers.BooleanField(read_only=True, allow_null=True)


class DeviceSerializer(serializers.ModelSerializer):
    health_status = serializers.SerializerMethodField()
    # Null for a device that never had a channel row (HTTP only, never heard over the broker).
    connection = ConnectionSerializer(source="channel", read_only=True, allow_null=True)
    # Ids among the user's organizations' rows only: another organization's id is answered as an
    # unknown one (fleetwatch.api.fields); creating into one the user only reads is the view's 403.
    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all())
    location = ScopedPrimaryKeyRelatedField(queryset=Location.objects.all(), allow_null=True, required=False)
    # The agent's credential: null unless the user administers the device's organization.
    key = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "name",
            "organization",
            "mac_address",
            "key",
            "is_active",
            "last_seen",
            "management_ip",
            "location",
            "health_status",
            "connection",
            "created",
        ]
        read_only_fields = ["id", "key", "last_seen", "health_status", "connection", "created"]

    def get_health_status(self, device) -> str:
        return health_status(device)

    def to_representation(self, device):
        body = super().to_representation(device)
        request = self.context.get("request")
        seen = self.context.setdefault("_keys_visible", {})  # one query per organization, not per row
        if device.organization_id not in seen:
            seen[device.organization_id] = administers(getattr(request, "user", None), device.organization_id)
        if not seen[device.organization_id]:
            body["key"] = None
        return body

    def validate(self, attrs):
        # One validation path: the model's clean() applies to admin, API and CLI alike.
        current = {}
        if self.instance is not None:
            current = {
                f: getattr(self.instance, f) for f in ("name", "organization", "mac_address", "location")
            }
        candidate = Device(**{**current, **attrs})
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        attrs["mac_address"] = candidate.mac_address
        return attrs


class DeviceLocationSerializer(serializers.ModelSerializer):
    """A device on the fleet map: where its location is (WGS 84 degrees) and its health."""

    health_status = serializers.SerializerMethodField()
    latitude = serializers.FloatField(source="location.latitude", read_only=True)
    longitude = serializers.FloatField(source="location.longitude", read_only=True)
    location = serializers.CharField(source="location.name", read_only=True)

    class Meta:
        model = Device
        fields = ["id", "name", "organization", "health_status", "location", "latitude", "longitude"]
        read_only_fields = fields

    def get_health_status(self, device) -> str:
        return health_status(device)
