"""Which series exist (Metric), what is charted (Chart), and each device's latest state.

Points never live here: they are in the time-series backend. A Metric row says that a device
reports a configuration (``traffic`` of ``wlan0``…) into a measurement with some tags.
"""

from __future__ import annotations

from django.db import models

from fleetwatch.inventory.models import Device, OrgScopedQuerySet


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
