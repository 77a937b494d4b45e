from rest_framework import serializers

from fleetwatch.monitoring.models import StatusChange


class StatusChangeSerializer(serializers.ModelSerializer):
    """One change of a device's health: ``previous`` → ``status`` at ``time``, and why."""

    class Meta:
        model = StatusChange
        fields = ["time", "previous", "status", "reason"]
        read_only_fields = fields
