from rest_framework import serializers

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
    organization = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all())

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
    organization = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all())
    device = serializers.PrimaryKeyRelatedField(
        queryset=Device.objects.all(), allow_null=True, required=False
    )

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
        if device is not None and organization is not None and device.organization_id != organization.pk:
            raise serializers.ValidationError({"device": "The device belongs to another organization."})
        return attrs
