"""Celery tasks of monitoring: periodic checks, alert evaluation of reported values, retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import shared_task
from django.conf import settings

from fleetwatch.monitoring.checks import CHECKS

log = logging.getLogger(__name__)


@shared_task
def run_checks(check_types: list[str] | None = None) -> int:
    """Queue every active check of active devices (one task each, so one slow ping delays no other)."""
    from fleetwatch.monitoring.models import Check

    now = datetime.now(UTC)
    runnable = [name for name, cls in CHECKS.items() if cls.may_run_now(now)]
    if check_types:
        runnable = [name for name in runnable if name in check_types]
    ids = list(
        Check.objects.filter(
            is_active=True,
            check_type__in=runnable,
            device__is_active=True,
            device__organization__is_active=True,
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        perform_check.delay(pk)
    return len(ids)


@shared_task
def perform_check(check_id: int) -> None:
    from fleetwatch.monitoring.check_runner import run_check
    from fleetwatch.monitoring.models import Check

    check = Check.objects.select_related("device__organization").filter(pk=check_id).first()
    if check is not None:
        run_check(check)


@shared_task
def evaluate_pending() -> int:
    """One alert evaluation pass over the values agents reported since the last one (the
    schedule queues it every ``FLEETWATCH_ALERT_EVALUATION_INTERVAL`` seconds)."""
    from fleetwatch.monitoring.evaluation import evaluate_pending as run_pass

    return run_pass()


@shared_task
def evaluate_reported(device_id: str, values: list[tuple[str, dict, float]], moment: str) -> None:
    """Thresholds of the values an agent reported (``[(configuration, main_tags, value)]``).
    No longer queued (see :func:`evaluate_pending`): kept for tasks an older version queued."""
    from fleetwatch.monitoring.alerts import evaluate
    from fleetwatch.monitoring.models import Metric

    time = datetime.fromisoformat(moment)
    metrics = {
        (m.configuration, tuple(sorted(m.main_tags.items()))): m
        for m in Metric.objects.select_related("alert_settings", "device").filter(device_id=device_id)
    }
    for configuration, main_tags, value in values:
        metric = metrics.get((configuration, tuple(sorted(main_tags.items()))))
        if metric is not None:
            evaluate(metric, value, time)


@shared_task
def enforce_retention() -> int:
    from fleetwatch.core.timeseries import get_backend

    removed = get_backend().enforce_retention()
    log.info("retention: removed %s expired points", removed)
    return removed


@shared_task
def seal_rollups() -> dict[str, str]:
    """Roll up the live points of backends that seal rollups (InfluxDB 1.x and 2.x; see
    ``fleetwatch.timeseries.rollups``); nothing on the others. Returns ``{tier: horizon}``."""
    from fleetwatch.core.timeseries import get_backend

    horizons = get_backend().seal_rollups()
    if horizons:
        log.info("rollups: sealed up to %s", ", ".join(f"{t} {h.isoformat()}" for t, h in horizons.items()))
    return {tier: horizon.isoformat() for tier, horizon in horizons.items()}


def auto_create_checks(device) -> None:
    """The checks FLEETWATCH_AUTO_CHECKS (default: each type's ``auto``) asks for, once."""
    from fleetwatch.monitoring.models import Check

    wanted = settings.FLEETWATCH_AUTO_CHECKS
    for name, cls in CHECKS.items():
        if (name in wanted) if wanted is not None else cls.auto:
            Check.objects.get_or_create(device=device, check_type=name)
