"""Threshold evaluation with tolerance, after the reference's semantics.

* Raw health (``Metric.is_healthy``) follows the latest value: it drives the device status.
* Tolerant health (``is_healthy_tolerant``) changes only when the crossing has lasted the
  tolerance: at least two points on the crossed side in the window, the oldest of them at
  least ``tolerance`` old, and no point on the other side in between (that is flapping, and
  changes nothing). Recovery is judged the same way in the other direction.
* Tolerant transitions send ``alert_transition``: healthy/unknown → unhealthy is a problem,
  unhealthy → healthy a recovery; unknown → healthy (a new device's first sample) is silent.

Every read is bounded (``limit`` 2 and 1, with ``where``): evaluation never loads the points
of a whole window, however long the tolerance.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from fleetwatch.core.timeseries import get_backend
from fleetwatch.metrics import get_metric
from fleetwatch.monitoring.models import AlertSettings, Metric
from fleetwatch.monitoring.reasons import status_reason
from fleetwatch.monitoring.signals import alert_transition
from fleetwatch.timeseries import ReadQuery, Where

OPPOSITE = {"<": ">=", ">": "<="}


def ensure_alert_settings(metric: Metric) -> AlertSettings | None:
    defaults = alert_defaults(metric)
    if defaults is None:
        return None
    operator, threshold, tolerance = defaults
    settings_row, _ = AlertSettings.objects.get_or_create(
        metric=metric, defaults={"operator": operator, "threshold": threshold, "tolerance": tolerance}
    )
    return settings_row


def _tolerance_interval() -> int:
    return int(settings.FLEETWATCH_TOLERANCE_INTERVAL)


def _sustained(metric: Metric, alert: AlertSettings, op: str, flapping_op: str, now: datetime) -> bool:
    """Has ``field op threshold`` held for the tolerance, without a point on the other side?"""
    metric_type = get_metric(metric.configuration)
    field = metric_type.alert_field or metric_type.field_name
    tolerance = alert.tolerance * 60
    interval = _tolerance_interval()
    window = tolerance * 1.25 if interval <= tolerance <= 2 * interval else tolerance
    since = now - timedelta(seconds=window)
    tags = {"content_type": "inventory.device", "object_id": str(metric.device_id), **metric.main_tags}
    backend = get_backend()
    base = dict(tags=tags, since=since, until=now, retention=metric_type.retention, fields=[field])
    crossing = backend.read(ReadQuery(metric.key, where=[Where(field, op, alert.threshold)], limit=2, **base))
    if len(crossing) < 2 or crossing[0].time > now - timedelta(seconds=tolerance):
        return False
    other_side = backend.read(
        ReadQuery(
            metric.key, where=[Where(field, flapping_op, alert.threshold)], order="desc", limit=1, **base
        )
    )
    return not other_side


def evaluate(metric: Metric, value, now: datetime, send_alert: bool = True) -> str | None:
    """Update the metric's health for a new value; returns "problem", "recovery" or None."""
    alert = getattr(metric, "alert_settings", None) or ensure_alert_settings(metric)
    if alert is None or value is None:
        return None
    crossed = alert.crossed_by(value)
    raw = not crossed
    tolerant = metric.is_healthy_tolerant
    if alert.tolerance * 60 < _tolerance_interval():
        new_tolerant = raw
    elif crossed and tolerant is not False:
        new_tolerant = (
            False if _sustained(metric, alert, alert.operator, OPPOSITE[alert.operator], now) else tolerant
        )
    elif not crossed and tolerant is False:
        new_tolerant = (
            True if _sustained(metric, alert, OPPOSITE[alert.operator], alert.operator, now) else False
        )
    elif not crossed and tolerant is None:
        new_tolerant = True
    else:
        new_tolerant = tolerant
    raw_changed = metric.is_healthy != raw
    transition = None
    if new_tolerant is False and tolerant is not False:
        transition = "problem"
    elif new_tolerant is True and tolerant is False:
        transition = "recovery"
    if raw_changed or new_tolerant != tolerant:
        Metric.objects.filter(pk=metric.pk).update(is_healthy=raw, is_healthy_tolerant=new_tolerant)
        metric.is_healthy, metric.is_healthy_tolerant = raw, new_tolerant
    if raw_changed and metric.device_id is not None:
        from fleetwatch.monitoring.health import refresh_status

        reason = status_reason(metric.configuration, metric.name, value, alert.operator, alert.threshold)
        refresh_status(metric.device, now, reason=reason)
    if transition is not None and alert.is_active:
        alert_transition.send(
            sender=Metric,
            metric=metric,
            alert_settings=alert,
            kind=transition,
            value=value,
            time=now,
            send_alert=send_alert,
        )
    return transition


def alert_defaults(metric: Metric) -> tuple[str, float, int] | None:
    """``(operator, threshold, tolerance in minutes)`` a new row of ``metric`` gets: the metric
    type's ``AlertDefaults``, the tolerance replaced by ``FLEETWATCH_ALERT_TOLERANCE`` when set
    (as :func:`ensure_alert_settings` does). None for a metric type without alert defaults."""
    defaults = get_metric(metric.configuration).alert
    if defaults is None:
        return None
    override = settings.FLEETWATCH_ALERT_TOLERANCE
    tolerance = int(override) if override is not None else defaults.tolerance
    return defaults.operator, defaults.threshold, tolerance


def latest_value(metric: Metric, until: datetime | None = None):
    """``(time, value)`` of the metric's latest stored point of its alert field, or None.
    One read, ``limit`` 1; raises ``BackendUnavailable`` when the store is down."""
    metric_type = get_metric(metric.configuration)
    field = metric_type.alert_field or metric_type.field_name
    tags = {"content_type": "inventory.device", "object_id": str(metric.device_id), **metric.main_tags}
    rows = get_backend().read(
        ReadQuery(
            metric.key,
            fields=[field],
            tags=tags,
            until=until,
            order="desc",
            limit=1,
            retention=metric_type.retention,
            consistent=True,
        )
    )
    if not rows or rows[0].fields.get(field) is None:
        return None
    return rows[0].time, rows[0].fields[field]


def recheck(metric: Metric, now: datetime) -> str | None:
    """Judge the metric's latest stored value again, with its (just changed) alert settings, as
    of ``now``: raw health and the device status follow at once, and a tolerant transition
    notifies as any evaluation does. Returns "problem", "recovery" or None (also when nothing
    is stored). Used after an administrator edits the settings, so the change shows without
    waiting for the next report or check."""
    latest = latest_value(metric, until=now)
    if latest is None:
        return None
    metric.alert_settings = AlertSettings.objects.get(metric=metric)
    return evaluate(metric, latest[1], now)
