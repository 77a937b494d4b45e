"""Which series exist (Metric), what is charted (Chart), and each device's latest state.

Points never live here: they are in the time-series backend. A Metric row says that a device
reports a configuration (``traffic`` of ``wlan0``…) into a measurement with some tags.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction

from fleetwatch.core.crypto import EncryptedTextField
from fleetwatch.inventory.models import Device, Organization, OrgScopedQuerySet


class MetricQuerySet(OrgScopedQuerySet):
    org_path = "device__organization"


class Metric(models.Model):
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.CASCADE, related_name="metrics"
    )
    configuration = models.CharField(max_length=64)  # a fleetwatch.metrics registry name
    name = models.CharField(max_length=128)
    key = models.CharField(max_length=64)  # the measurement
    field_name = models.CharField(max_length=64)
    main_tags = models.JSONField(default=dict, blank=True)
    # Health against the alert threshold: raw (the latest value) drives the device status;
    # tolerant (after the tolerance window, never flapping) drives notifications.
    is_healthy = models.BooleanField(null=True, default=None)
    is_healthy_tolerant = models.BooleanField(null=True, default=None)
    created = models.DateTimeField(auto_now_add=True)

    objects = MetricQuerySet.as_manager()

    class Meta:
        constraints = [
            # key too: undeclared line-protocol measurements share one generic configuration
            models.UniqueConstraint(
                fields=["device", "configuration", "key", "main_tags"], name="one_metric_per_series"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Chart(models.Model):
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="charts")
    configuration = models.CharField(max_length=64)  # a ChartType name

    class Meta:
        constraints = [models.UniqueConstraint(fields=["metric", "configuration"], name="one_chart_per_type")]

    def __str__(self) -> str:
        return f"{self.configuration} of {self.metric}"


class DeviceState(models.Model):
    """The latest report of a device: its snapshot (served by ?status=true without touching the
    time-series store) and its interface counters (traffic deltas need the previous reading)."""

    device = models.OneToOneField(Device, primary_key=True, on_delete=models.CASCADE, related_name="state")
    data = models.JSONField(default=dict)
    data_time = models.DateTimeField(null=True)
    counters = models.JSONField(default=dict)  # {ifname: {"rx_bytes": n, "tx_bytes": n}}
    counters_time = models.DateTimeField(null=True)
    # "configuration|main tags" of every series already known, so a report needs no metric query.
    series_seen = models.JSONField(default=list)
    # Held by the one report of the device being stored (see monitoring.ingestion.take_lease).
    lease = models.CharField(max_length=32, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"state of {self.device_id}"


class AlertSettingsQuerySet(OrgScopedQuerySet):
    org_path = "metric__device__organization"


class AlertSettings(models.Model):
    """When a metric is unhealthy: ``value <operator> threshold`` for ``tolerance`` minutes.
    Created from the metric type's defaults; edit a row to override them for one device."""

    class Operator(models.TextChoices):
        LESS = "<", "less than"
        GREATER = ">", "greater than"

    metric = models.OneToOneField(Metric, on_delete=models.CASCADE, related_name="alert_settings")
    is_active = models.BooleanField(default=True, help_text="Notify on problems and recoveries.")
    operator = models.CharField(max_length=1, choices=Operator.choices)
    threshold = models.FloatField()
    tolerance = models.PositiveIntegerField(default=0, help_text="Minutes a crossing must last.")

    objects = AlertSettingsQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return f"{self.metric}: {self.operator} {self.threshold:g} for {self.tolerance} min"

    def crossed_by(self, value) -> bool:
        return value < self.threshold if self.operator == "<" else value > self.threshold


class CheckQuerySet(OrgScopedQuerySet):
    org_path = "device__organization"


class Check(models.Model):
    """An active check of a device, run periodically by the worker (``fleetwatch.monitoring.checks``)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="checks")
    check_type = models.CharField(max_length=64)  # a name in fleetwatch.monitoring.checks.CHECKS
    params = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    last_run = models.DateTimeField(null=True, blank=True)
    # Why the last run stored nothing ("iperf3 is not installed on the device" …); "" after a
    # run that stored its measurements.
    last_error = models.CharField(max_length=300, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    objects = CheckQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "check_type"], name="one_check_per_type")]
        ordering = ["check_type"]

    def __str__(self) -> str:
        return f"{self.check_type} of {self.device}"


class HealthStatus(models.TextChoices):
    UNKNOWN = "unknown", "unknown"
    OK = "ok", "ok"
    PROBLEM = "problem", "problem"
    CRITICAL = "critical", "critical"
    DEACTIVATED = "deactivated", "deactivated"


class DeviceHealth(models.Model):
    """A device's health status (see ``fleetwatch.monitoring.health``)."""

    device = models.OneToOneField(Device, primary_key=True, on_delete=models.CASCADE, related_name="health")
    status = models.CharField(max_length=12, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN)
    changed = models.DateTimeField(null=True)

    class Meta:
        # The fleet page's overview counts devices per status from this index alone, and its
        # needs-attention list reads the longest critical (then problem) devices from it.
        indexes = [models.Index(fields=["status", "changed", "device"], name="health_by_status")]

    def __str__(self) -> str:
        return f"{self.device}: {self.status}"


class StatusChangeQuerySet(OrgScopedQuerySet):
    org_path = "device__organization"


class StatusChange(models.Model):
    """History of a device's health status."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="status_changes")
    previous = models.CharField(max_length=12, choices=HealthStatus.choices)
    status = models.CharField(max_length=12, choices=HealthStatus.choices)
    time = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    objects = StatusChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["device", "-time"])]

    def __str__(self) -> str:
        return f"{self.device}: {self.previous} → {self.status}"


class PendingEvaluation(models.Model):
    """The alerting values of one live report, waiting for the next evaluation pass
    (``fleetwatch.monitoring.evaluation``): a web request only inserts this row; the worker
    evaluates every pending row in batches, in time order per device, and deletes it."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    time = models.DateTimeField()
    # JSON text: [[configuration, main_tags, value], …] (text, not JSONField: one plain INSERT)
    reported = models.TextField()

    def __str__(self) -> str:
        return f"values of {self.device_id} at {self.time}"


class EvaluationLease(models.Model):
    """One row: which evaluation pass runs now, until when (a crashed pass's lease expires)."""

    holder = models.CharField(max_length=32)
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"evaluation pass {self.holder} until {self.expires}"


class Iperf3Server(models.Model):
    """An iperf3 server (``iperf3 -s``) that an organization's devices measure their bandwidth
    against (the ``iperf3`` check, ``fleetwatch.monitoring.checks.iperf3``). Tried in
    ``priority`` order; one device at a time each (:class:`Iperf3Lock`). ``username``,
    ``password`` and ``rsa_public_key`` are the client credentials of a server started with
    ``--rsa-private-key-path`` and ``--authorized-users-path`` (iperf3 3.7 and later); all blank:
    no authentication. The password is stored encrypted (``fleetwatch.core.crypto``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="iperf3_servers")
    host = models.CharField(max_length=255, help_text="Address or name, as the devices reach it.")
    port = models.PositiveIntegerField(
        default=5201, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    priority = models.PositiveIntegerField(default=0, help_text="Lower first.")
    is_active = models.BooleanField(default=True)
    username = models.CharField(max_length=64, blank=True)
    password = EncryptedTextField(blank=True)
    rsa_public_key = models.TextField(blank=True, help_text="PEM public key of the server's RSA key pair.")
    created = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "host", "port"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "host", "port"], name="one_iperf3_server_per_port"
            )
        ]
        verbose_name = "iperf3 server"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def take(self, holder: str, now: datetime, seconds: float) -> bool:
        """Hold the server for ``holder`` until ``now + seconds``; False if another holder has
        it (an expired lock is taken over). The lock is a row whose primary key is the server,
        so two checks racing for it on any database get one insert each and one wins."""
        Iperf3Lock.objects.filter(server=self, expires__lte=now).delete()
        try:
            with transaction.atomic():
                Iperf3Lock.objects.create(
                    server=self, holder=holder, expires=now + timedelta(seconds=seconds)
                )
        except IntegrityError:
            return False
        return True

    def release(self, holder: str) -> None:
        """Give the server back (only ``holder``'s lock: an expired one taken over stays)."""
        Iperf3Lock.objects.filter(server=self, holder=holder).delete()

    def clean(self):
        if bool(self.username) != bool(self.password) or (self.username and not self.rsa_public_key):
            raise ValidationError(
                "iperf3 authentication needs a username, a password and the server's RSA public key "
                "(or none of them)."
            )


class Iperf3Lock(models.Model):
    """Which check holds an iperf3 server (an iperf3 server serves one client at a time), until
    when: a crashed check's lock expires after ``FLEETWATCH_IPERF3_LOCK_EXPIRE`` seconds."""

    server = models.OneToOneField(
        Iperf3Server, primary_key=True, on_delete=models.CASCADE, related_name="lock"
    )
    holder = models.CharField(max_length=32)
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.server} held by {self.holder} until {self.expires}"


class SshCredentialsQuerySet(OrgScopedQuerySet):
    org_path = "device__organization"


class SshCredentials(models.Model):
    """How Fleetwatch logs into a device over SSH (for the iperf3 check): a username and a
    private key (OpenSSH or PEM text; ``passphrase`` if it is encrypted) or a password. Secrets
    are stored encrypted. ``host_key`` pins the device's host key (``ssh-ed25519 AAAA…``): blank,
    the first key seen is trusted and kept (trust on first use); then another key is refused."""

    device = models.OneToOneField(Device, primary_key=True, on_delete=models.CASCADE, related_name="ssh")
    username = models.CharField(max_length=64, default="root")
    address = models.CharField(max_length=255, blank=True, help_text="Blank: the device's management IP.")
    port = models.PositiveIntegerField(
        default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    password = EncryptedTextField(blank=True)
    private_key = EncryptedTextField(blank=True)
    passphrase = EncryptedTextField(blank=True)
    host_key = models.TextField(blank=True)
    updated = models.DateTimeField(auto_now=True)

    objects = SshCredentialsQuerySet.as_manager()

    class Meta:
        verbose_name = "SSH credentials"
        verbose_name_plural = "SSH credentials"

    def __str__(self) -> str:
        return f"{self.username}@{self.device}"

    def clean(self):
        if not self.password and not self.private_key:
            raise ValidationError("Give a private key or a password.")
