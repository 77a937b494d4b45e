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
    is_healthy = models.BooleanField(null=True, default=None)
    created = models.DateTimeField(auto_now_add=True)

    objects = MetricQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "configuration", "main_tags"], name="one_metric_per_series"
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

    def __str__(self) -> str:
        return f"state of {self.device_id}"
