from rest_framework import serializers

from fleetwatch.api.fields import ScopedPrimaryKeyRelatedField
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.notifications.models import (
    MaintenanceWindow,
    Notification,
    Preference,
    Webhook,
    WebhookDelivery,
)


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "message", "url", "organization", "device", "time", "read_at"]
        read_only_fields = fields


class PreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Preference
        fields = ["web", "email"]


class WebhookSerializer(serializers.ModelSerializer):
    # Another organization's id is answered as an unknown one (fleetwatch.api.fields).
    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all())

    class Meta:
        model = Webhook
        fields = ["id", "organization", "name", "url", "secret", "is_active", "created"]
        read_only_fields = ["id", "created"]
        extra_kwargs = {"secret": {"required": False}}


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "kind",
            "status",
            "attempts",
            "response_code",
            "error",
            "created",
            "last_attempt",
            "next_attempt",
            "payload",
        ]
        read_only_fields = fields


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    # Ids among the user's organizations' rows only (fleetwatch.api.fields): another
    # organization's organization or device is answered as an unknown one.
    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all())
    device = ScopedPrimaryKeyRelatedField(queryset=Device.objects.all(), allow_null=True, required=False)

    class Meta:
        model = MaintenanceWindow
        fields = ["id", "organization", "device", "start", "end", "reason"]
        read_only_fields = ["id"]

    def validate(self, attrs):
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"end": "The end must be after the start."})
        device = attrs.get("device", getattr(self.instance, "device", None))
        organization = attrs.get("organization", getattr(self.instance, "organization", None))
        # Both are the user's to see here (the fields are scoped), so this reveals nothing.
        if device is not None and organization is not None and device.organization_id != organization.pk:
            raise serializers.ValidationError({"device": "The device belongs to another organization."})
        return attrs
