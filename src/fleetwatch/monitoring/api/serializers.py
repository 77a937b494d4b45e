import re

from rest_framework import serializers

from fleetwatch.api.fields import ScopedPrimaryKeyRelatedField
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.monitoring.checks.base import CheckError
from fleetwatch.monitoring.checks.iperf3 import private_key
from fleetwatch.monitoring.models import Iperf3Server, SshCredentials, StatusChange

# A DNS name or an IPv4/IPv6 address (what iperf3 -c and SSH are given; never an option).
HOST = re.compile(r"[0-9A-Za-z:][0-9A-Za-z.:%_-]{0,253}")
HOST_KEY = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}")


class StatusChangeSerializer(serializers.ModelSerializer):
    """One change of a device's health: ``previous`` → ``status`` at ``time``, and why."""

    class Meta:
        model = StatusChange
        fields = ["time", "previous", "status", "reason"]
        read_only_fields = fields


class Iperf3ServerSerializer(serializers.ModelSerializer):
    """An organization's iperf3 server. ``password`` is write-only (stored encrypted; omitted on
    an update: kept); ``has_password`` says whether one is stored."""

    # Another organization's id is answered as an unknown one (fleetwatch.api.fields).
    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all())
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=256)
    has_password = serializers.SerializerMethodField()

    class Meta:
        model = Iperf3Server
        fields = [
            "id",
            "organization",
            "host",
            "port",
            "priority",
            "is_active",
            "username",
            "password",
            "has_password",
            "rsa_public_key",
            "created",
        ]
        read_only_fields = ["id", "created"]
        # The unique (organization, host, port) is checked in validate(), as one field's error.
        validators = []

    def get_has_password(self, server) -> bool:
        return bool(server.password)

    def validate_host(self, value: str) -> str:
        if not HOST.fullmatch(value):
            raise serializers.ValidationError("Enter a host name or an IP address.")
        return value

    def validate(self, attrs):
        def current(name):
            return attrs.get(name, getattr(self.instance, name, ""))

        if bool(current("username")) != bool(current("password")) or (
            current("username") and not current("rsa_public_key")
        ):
            raise serializers.ValidationError(
                {
                    "username": "iperf3 authentication needs a username, a password and the server's "
                    "RSA public key (or none of them)."
                }
            )
        organization = current("organization")
        taken = Iperf3Server.objects.filter(
            organization=organization, host=current("host"), port=current("port")
        )
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if organization and taken.exists():
            raise serializers.ValidationError({"port": "The organization already has this server and port."})
        return attrs


class SshCredentialsSerializer(serializers.ModelSerializer):
    """How Fleetwatch logs into a device over SSH. Secrets (``password``, ``private_key``,
    ``passphrase``) are write-only and stored encrypted; omitted on an update, they are kept.
    ``host_key`` is the pinned host key (``type base64``): blank, the first one seen is kept."""

    # The device's id, which is the credentials' id (one set per device), and its organization.
    id = serializers.UUIDField(source="pk", read_only=True)
    organization = serializers.UUIDField(source="device.organization_id", read_only=True)
    device = ScopedPrimaryKeyRelatedField(queryset=Device.objects.all())
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=256)
    private_key = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=16384)
    passphrase = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=256)
    has_password = serializers.SerializerMethodField()
    has_private_key = serializers.SerializerMethodField()

    class Meta:
        model = SshCredentials
        fields = [
            "id",
            "organization",
            "device",
            "username",
            "address",
            "port",
            "password",
            "private_key",
            "passphrase",
            "has_password",
            "has_private_key",
            "host_key",
            "updated",
        ]
        read_only_fields = ["updated"]

    def get_has_password(self, credentials) -> bool:
        return bool(credentials.password)

    def get_has_private_key(self, credentials) -> bool:
        return bool(credentials.private_key)

    def validate_device(self, device):
        if self.instance is not None:
            if device.pk != self.instance.pk:
                raise serializers.ValidationError("The device of SSH credentials cannot change.")
        elif SshCredentials.objects.filter(pk=device.pk).exists():
            raise serializers.ValidationError("The device already has SSH credentials: change those.")
        return device

    def validate_address(self, value: str) -> str:
        if value and not HOST.fullmatch(value):
            raise serializers.ValidationError("Enter a host name or an IP address.")
        return value

    def validate_host_key(self, value: str) -> str:
        value = value.strip()
        if value and not HOST_KEY.fullmatch(value):
            raise serializers.ValidationError("Enter a host key as `type base64`, e.g. `ssh-ed25519 AAAA…`.")
        return value

    def validate(self, attrs):
        def current(name):
            return attrs.get(name, getattr(self.instance, name, ""))

        if not current("password") and not current("private_key"):
            raise serializers.ValidationError({"password": "Give a private key or a password."})
        if attrs.get("private_key"):
            try:
                private_key(attrs["private_key"], current("passphrase"))
            except CheckError as exc:
                raise serializers.ValidationError({"private_key": str(exc)}) from None
        return attrs
