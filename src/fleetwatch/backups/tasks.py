"""Celery tasks of the backups app: the periodic evaluation of every job's checks, the pass
after runs close (their points charted, their jobs judged), and the scheduled import from a
wmfbackups database."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
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


@shared_task
def judge_closed_backups() -> dict:
    """The pass after runs close (``judge-closed-backups``, every
    ``FLEETWATCH_ALERT_EVALUATION_INTERVAL`` seconds): chart the runs not charted yet, then
    judge the jobs their closes marked (:mod:`fleetwatch.backups.pending`). Returns
    ``{"charted", "jobs", "changes", "told"}``."""
    from fleetwatch.backups.pending import judge_marked

    charted = chart_backup_runs()
    summary = judge_marked(timezone.now())
    if summary.changes:
        log.info("backups: %s jobs judged after closes, %s changes, %s told", *summary)
    return {"charted": charted, **summary._asdict()}


@shared_task(ignore_result=True)
def import_wmfbackups() -> str | None:
    """Import new runs from the wmfbackups database of ``FLEETWATCH_BACKUP_IMPORT_URL`` into the
    organization ``FLEETWATCH_BACKUP_IMPORT_ORGANIZATION`` (scheduled every
    ``FLEETWATCH_BACKUP_IMPORT_INTERVAL`` while the URL is set); returns the report's summary
    line, or None when nothing could be imported (the reason is logged)."""
    from fleetwatch.backups.importer import ImportFailed, import_runs
    from fleetwatch.inventory.models import Organization

    url, slug = settings.FLEETWATCH_BACKUP_IMPORT_URL, settings.FLEETWATCH_BACKUP_IMPORT_ORGANIZATION
    if not url:
        return None
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        log.error("backup import: no organization %r (FLEETWATCH_BACKUP_IMPORT_ORGANIZATION)", slug)
        return None
    try:
        report = import_runs(url, organization)
    except ImportFailed as exc:
        log.error("backup import: %s", exc)
        return None
    for line in report.skipped:
        log.warning("backup import: skipped %s", line)
    log.info("backup import: %s", report.summary())
    return report.summary()
