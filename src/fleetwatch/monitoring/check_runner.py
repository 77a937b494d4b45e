"""Run one check: measure, store the point, keep the metric row, evaluate the threshold.

It orchestrates (the check types of ``checks/``, the store, the metric rows and ``alerts``), so
it lives beside the other orchestrators of the app, not among the check types: ``checks/``
imports nothing of ``monitoring`` and ``monitoring`` imports ``checks/``, never both ways.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db import transaction

from fleetwatch.core.timeseries import get_backend
from fleetwatch.metrics import get_metric
from fleetwatch.monitoring.alerts import ensure_alert_settings, evaluate
from fleetwatch.monitoring.checks import CHECKS
from fleetwatch.monitoring.checks.base import CheckError
from fleetwatch.monitoring.health import waiting_for_first_report
from fleetwatch.monitoring.models import Chart, Check, Metric
from fleetwatch.monitoring.series import device_tags
from fleetwatch.timeseries import Point

log = logging.getLogger(__name__)


def metric_for(device, configuration: str, main_tags: dict | None = None) -> Metric:
    """The device's metric row of a registry configuration, with its charts and alert settings."""
    metric_type = get_metric(configuration)
    main_tags = main_tags or {}
    metric, created = Metric.objects.get_or_create(
        device=device,
        configuration=configuration,
        main_tags=main_tags,
        defaults={
            "name": metric_type.display_name(),
            "key": metric_type.measurement(),
            "field_name": metric_type.field_name,
        },
    )
    if created:
        Chart.objects.bulk_create(
            [Chart(metric=metric, configuration=name) for name in metric_type.charts], ignore_conflicts=True
        )
    ensure_alert_settings(metric)
    return metric


def run_check(check: Check, now: datetime | None = None) -> list[Metric]:
    """Returns the metrics the check measured (none when skipped: the check, its device or
    organization inactive, or the device still waiting for its first report)."""
    now = now or datetime.now(UTC)
    device = check.device
    if not check.is_active or not device.is_active or not device.organization.is_active:
        return []
    if waiting_for_first_report(device, now):
        # Not installed yet (docs/alerts.md): a ping or "no data" now would page for nothing.
        return []
    cls = CHECKS.get(check.check_type)
    if cls is None:
        log.warning("check %s has an unknown type %r", check.pk, check.check_type)
        return []
    try:
        measurements = cls(check, now).measure()
    except CheckError as exc:
        log.warning("check %s of %s failed to run: %s", check.check_type, device, exc)
        Check.objects.filter(pk=check.pk).update(last_run=now, last_error=str(exc)[:300])
        return []
    measured = []
    tags = device_tags(device)
    for m in measurements:
        metric_type = get_metric(m.configuration)
        get_backend().write(
            [Point(metric_type.measurement(), m.fields, now, {**tags, **m.main_tags})],
            retention=metric_type.retention,
        )
        with transaction.atomic():
            metric = metric_for(device, m.configuration, m.main_tags)
            field = metric_type.alert_field or metric_type.field_name
            if field in m.fields:
                evaluate(metric, m.fields[field], now, send_alert=m.send_alert)
        measured.append(metric)
    Check.objects.filter(pk=check.pk).update(last_run=now, last_error="")
    return measured
