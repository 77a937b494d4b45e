"""Backup runs as time series, so that sizes and durations chart on any backend.

A closed ``finished`` run is one point of measurement :data:`MEASUREMENT` (``backup_run``) at its
``start_date``, tagged with its job as every Fleetwatch series is tagged with its object
(``{"content_type": "backups.backupjob", "object_id": "<job uuid>"}``), with the fields

* ``size``: bytes (int; left out when the run has no recorded size),
* ``duration``: seconds from start to end (float),
* ``files``: entries of its file inventory (int).

Writing is idempotent: a point is identified by measurement, tags and time, so the same run
written twice (a retry, the catch-up after a close that did chart it) is one point. A run whose
point could not be written (the store was down) keeps ``charted=False`` and is written by
:func:`chart_pending`, which the worker runs periodically (``chart-backup-runs``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import NamedTuple

from django.db.models import Count

from fleetwatch.backups.models import BackupJob, BackupRun, RunStatus
from fleetwatch.core.timeseries import get_backend
from fleetwatch.timeseries import Point, ReadQuery

log = logging.getLogger(__name__)

MEASUREMENT = "backup_run"
CONTENT_TYPE = "backups.backupjob"
CATCH_UP_BATCH = 2000  # runs per write in chart_pending (one backend write each)


def job_tags(job_id) -> dict[str, str]:
    """The tags of a job's series: ``{"content_type": "backups.backupjob", "object_id": <uuid>}``
    (``job_id`` a job, its UUID or its UUID as text)."""
    pk = job_id.pk if isinstance(job_id, BackupJob) else job_id
    return {"content_type": CONTENT_TYPE, "object_id": str(pk)}


def run_point(run: BackupRun, files: int) -> Point:
    """The point of a closed run with an end date: fields ``size`` (bytes, if known),
    ``duration`` (seconds) and ``files`` (``files`` entries), at ``run.start_date``.
    Raises ValueError for a run without an end date (an ongoing run has no duration yet)."""
    if run.end_date is None:
        raise ValueError(f"run {run.name} has no end date: nothing to chart yet")
    fields: dict[str, int | float] = {
        "duration": float((run.end_date - run.start_date).total_seconds()),
        "files": int(files),
    }
    if run.total_size is not None:
        fields["size"] = int(run.total_size)
    return Point(MEASUREMENT, fields, run.start_date, job_tags(run.job_id))


def write_run(run: BackupRun) -> bool:
    """Write the point of ``run`` if it is ``finished`` (failed, deleted and ongoing runs are not
    charted) and mark it ``charted``; returns whether a point was written.

    Raises :class:`fleetwatch.timeseries.BackendUnavailable` when the store cannot be reached;
    the run then stays ``charted=False`` for :func:`chart_pending`."""
    if run.status != RunStatus.FINISHED or run.end_date is None:
        return False
    point = run_point(run, run.files.count())
    get_backend().write([point])
    BackupRun.objects.filter(pk=run.pk).update(charted=True)
    run.charted = True
    return True


def chart_pending(limit: int | None = None) -> int:
    """Write the points of finished runs not charted yet (the store was down when they closed,
    or they were imported before the store was set up), oldest first, :data:`CATCH_UP_BATCH`
    runs per backend write; returns how many runs were charted. ``limit`` bounds the runs of one
    call. A :class:`~fleetwatch.timeseries.BackendUnavailable` from the store propagates, the
    batch it interrupted staying uncharted."""
    done = 0
    pending = BackupRun.objects.filter(status=RunStatus.FINISHED, charted=False, end_date__isnull=False)
    while limit is None or done < limit:
        size = CATCH_UP_BATCH if limit is None else min(CATCH_UP_BATCH, limit - done)
        runs = list(pending.order_by("start_date", "id")[:size])
        if not runs:
            break
        counts = dict(
            BackupRun.objects.filter(pk__in=[run.pk for run in runs])
            .annotate(n=Count("files"))
            .values_list("pk", "n")
        )
        get_backend().write([run_point(run, counts.get(run.pk, 0)) for run in runs])
        BackupRun.objects.filter(pk__in=[run.pk for run in runs]).update(charted=True)
        done += len(runs)
    if done:
        log.info("backups: charted %s runs", done)
    return done


class SeriesPoint(NamedTuple):
    """One run on a job's charts: ``time`` (its start, aware), ``size`` (bytes, or None when
    unknown), ``duration`` (seconds)."""

    time: datetime
    size: int | None
    duration: float | None


def job_series(
    job: BackupJob, since: datetime | None = None, until: datetime | None = None
) -> list[SeriesPoint]:
    """The size and duration of ``job``'s finished runs that started from ``since`` to ``until``
    (both inclusive, aware; None: unbounded), oldest first, as the job page's charts draw them.
    Raises :class:`~fleetwatch.timeseries.BackendUnavailable` when the store cannot be reached."""
    rows = get_backend().read(
        ReadQuery(
            MEASUREMENT,
            fields=["size", "duration"],
            tags=job_tags(job),
            since=since,
            until=until,
            order="asc",
        )
    )
    series = []
    for row in rows:
        size = row.fields.get("size")
        duration = row.fields.get("duration")
        series.append(
            SeriesPoint(
                row.time,
                None if size is None else round(size),
                None if duration is None else float(duration),
            )
        )
    return series
