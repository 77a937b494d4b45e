"""Celery tasks of the backups app: the periodic evaluation of every job's checks and the
catch-up of runs whose point the time-series store did not take when they closed."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

log = logging.getLogger(__name__)


@shared_task
def check_backups() -> dict:
    """Evaluate every active job's checks now (the schedule queues it every
    ``FLEETWATCH_BACKUP_CHECK_INTERVAL`` seconds); returns ``{"jobs", "changes", "told"}``."""
    from fleetwatch.backups.checks import evaluate_all

    summary = evaluate_all(timezone.now())
    if summary.changes:
        log.info("backups: %s jobs checked, %s changes, %s told", *summary)
    return summary._asdict()


@shared_task
def chart_backup_runs() -> int:
    """Write the points of finished runs not charted yet (see
    :func:`fleetwatch.backups.series.chart_pending`); with the store still down, nothing
    changes and the next tick tries again."""
    from fleetwatch.backups.series import chart_pending
    from fleetwatch.timeseries import BackendUnavailable

    try:
        return chart_pending()
    except BackendUnavailable as exc:
        log.warning("backups: runs not charted, the time-series store is unavailable: %s", exc)
        return 0
