"""Celery tasks of the backups app."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

log = logging.getLogger(__name__)


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
