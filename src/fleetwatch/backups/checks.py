"""The backup checks run against the stored runs: each active job's freshness/size (A.4),
long-running runs (A.5) and, when it has a schedule, schedule freshness (A.6), judged by the pure
functions of :mod:`fleetwatch.backups.evaluation`, kept as one :class:`JobCheck` row per kind,
summed up in ``job.status`` and told once per change.

* **Status of the job**: the worst of its checks, OK < UNKNOWN < WARNING < CRITICAL, in the health
  vocabulary: OK → ``ok``, UNKNOWN → ``unknown``, WARNING → ``problem``, CRITICAL → ``critical``.
  Inactive jobs are not evaluated (their rows and status stay as they were).
* **Once per change**: a check that leaves OK (or is judged for the first time, not OK) is a
  problem; one that returns to OK its recovery; a change among WARNING, CRITICAL and UNKNOWN
  (Nagios's problem states) is told once per change, as a problem with the new status. A check
  judged OK for the first time is silent. ``since`` moves only when the status changes; the
  message may change at every evaluation (it names dates and sizes) without being told.
* **Maintenance**: a problem that begins while an organization-wide maintenance window is open
  (``MaintenanceWindow`` with no device) is not told, nor are its later changes of severity and
  its recovery; a recovery is told exactly when its problem was (``JobCheck.notified``), as for
  devices.

Reads are batched (:func:`read_inputs`: the two newest finished runs of every job by index
seeks, the week's runs for the long-running check, the newest failures, and only for scheduled
jobs without a good full run an aggregate), and so are writes (:func:`store`), so
:func:`evaluate_all` costs the same dozen queries for 5 or 500 jobs: 500 jobs with 100,000 runs
take about 0.35 s on SQLite once their rows exist.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db import transaction
from django.db.models import Count, Max, OuterRef, Subquery

from fleetwatch.backups import evaluation
from fleetwatch.backups.evaluation import CRITICAL, OK, UNKNOWN, WARNING, Execution, Result, RunSummary
from fleetwatch.backups.models import BackupJob, BackupRun, CheckKind, JobCheck, RunStatus
from fleetwatch.monitoring.models import HealthStatus

log = logging.getLogger(__name__)

# Worst last: an UNKNOWN (could not judge) is better news than a WARNING.
RANK = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
JOB_STATUS = {
    OK: HealthStatus.OK,
    UNKNOWN: HealthStatus.UNKNOWN,
    WARNING: HealthStatus.PROBLEM,
    CRITICAL: HealthStatus.CRITICAL,
}
LONG_RUNNING_WINDOW = evaluation.DEFAULT_WINDOW  # 7 days (A.5)
CHUNK = 500  # jobs per batch of reads and per transaction of writes
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def job_status(statuses: Iterable[int]) -> str:
    """The job's health status from its checks' Nagios statuses (``unknown`` when none)."""
    worst = max(statuses, key=RANK.__getitem__, default=UNKNOWN)
    return JOB_STATUS[worst]


@dataclass
class Inputs:
    """What the checks of a batch of jobs need, read in a few queries: per job id, its last two
    finished runs (newest first), its runs of the long-running window that took too long,
    for scheduled jobs ``(executions or None, last good end, last good full end)`` (the count
    only when there is no good full run: it is all the message needs), and its newest failed
    run when no finished run started after it."""

    latest_two: dict
    long_candidates: dict
    schedule: dict
    failed: dict  # job id: its newest failed run, when it started after every finished one


def _summary(values: dict) -> RunSummary:
    return RunSummary(
        start_date=values["start_date"],
        end_date=values["end_date"],
        total_size=values["total_size"],
        source=values["source"],
        host=values["host"],
        status=values["status"],
        type=values["type"],
        section=values["section"],
        datacenter=values["datacenter"],
    )


SUMMARY_FIELDS = (
    "job_id",
    "start_date",
    "end_date",
    "total_size",
    "source",
    "host",
    "status",
    "type",
    "section",
    "datacenter",
)


def read_inputs(jobs: Sequence[BackupJob], now: datetime) -> Inputs:
    """Read the runs the checks of ``jobs`` need, in at most seven queries whatever their number.

    The latest good run (A.6) is the finished run that started last, as A.4 reads it, rather
    than the one that ended last: they differ only for runs of one job that overlap, and the
    index ``backup_run_last`` answers it without reading every run."""
    ids = [job.pk for job in jobs]
    latest_two: dict = defaultdict(list)
    # The index backup_run_last answers each job's two newest finished runs with two seeks:
    # their ids as two subqueries per job, then the runs themselves (a window over every
    # finished run was 10 times slower on SQLite); one job (a run just closed) needs one query.
    newest = BackupRun.objects.filter(status=RunStatus.FINISHED, end_date__isnull=False).order_by(
        "-start_date", "-id"
    )
    if len(ids) == 1:
        rows = newest.filter(job_id=ids[0]).values(*SUMMARY_FIELDS)[:2]
    else:
        of_job = newest.filter(job_id=OuterRef("pk"))
        pairs = (
            BackupJob.objects.filter(pk__in=ids)
            .order_by()
            .values_list(Subquery(of_job.values("pk")[:1]), Subquery(of_job.values("pk")[1:2]))
        )
        wanted = [pk for pair in pairs for pk in pair if pk is not None]
        rows = newest.filter(pk__in=wanted).values(*SUMMARY_FIELDS) if wanted else []
    for row in rows:
        latest_two[row["job_id"]].append(_summary(row))

    # A.5: the window's runs, then those that ended (or not yet) after the job's threshold.
    since = now - LONG_RUNNING_WINDOW
    limits = {job.pk: timedelta(seconds=job.max_duration) for job in jobs}
    window = BackupRun.objects.filter(job_id__in=ids, start_date__gte=since)
    if len(ids) > 20:
        # Many jobs: one range of the index backup_run_org_time; few: their own runs by job.
        window = window.filter(organization_id__in={job.organization_id for job in jobs})
    window = window.order_by().values_list("pk", "job_id", "start_date", "end_date")
    candidates = [pk for pk, job_id, start, end in window if end is None or end - start > limits[job_id]]
    long_candidates: dict = defaultdict(list)
    if candidates:
        for row in BackupRun.objects.filter(pk__in=candidates).order_by().values(*SUMMARY_FIELDS):
            long_candidates[row["job_id"]].append(_summary(row))

    # A.6: the end of the latest good run and of the latest good full one, and, when there is
    # no good full one, how many executions there were. The newest finished run (read above)
    # usually answers both; only the others cost a query.
    schedule: dict = {}
    lacking = []
    for job in jobs:
        if not job.schedule:
            continue
        newest = latest_two.get(job.pk)
        if newest and newest[0].total_size:
            schedule[job.pk] = (None, newest[0].end_date, newest[0].end_date)
        else:
            schedule[job.pk] = (None, newest[0].end_date if newest else None, None)
            lacking.append(job.pk)
    if lacking:
        full = (
            BackupRun.objects.filter(
                job_id=OuterRef("pk"),
                status=RunStatus.FINISHED,
                end_date__isnull=False,
                total_size__gt=0,
                type__in=evaluation.FULL_TYPES,
            )
            .order_by("-start_date", "-id")
            .values("end_date")[:1]
        )
        rows = (
            BackupJob.objects.filter(pk__in=lacking)
            .annotate(n=Count("runs"), last_full=Subquery(full))
            .values_list("pk", "n", "last_full")
        )
        for pk, n, last_full in rows:
            schedule[pk] = (n, schedule[pk][1], last_full)

    # Ours: the newest failed run, if no finished run started after it (see failed_result).
    newest_failed = dict(
        BackupRun.objects.filter(job_id__in=ids, status=RunStatus.FAILED)
        .values("job_id")
        .annotate(start=Max("start_date"))
        .values_list("job_id", "start")
    )
    failing = {
        pk: start
        for pk, start in newest_failed.items()
        if not latest_two.get(pk) or latest_two[pk][0].start_date < start
    }
    failed: dict = {}
    if failing:
        rows = BackupRun.objects.filter(
            job_id__in=list(failing), status=RunStatus.FAILED, start_date__in=set(failing.values())
        ).order_by("start_date", "id")
        for run in rows:
            if failing[run.job_id] == run.start_date:
                failed[run.job_id] = run
    return Inputs(latest_two, long_candidates, schedule, failed)


def failed_result(job: BackupJob, run: BackupRun, freshness: Result) -> Result:
    """Ours, after A.4: when the newest closed run failed (no finished run started after it)
    and A.4 found nothing CRITICAL, the freshness check is CRITICAL at once:
    ``The newest dump for s1 at eqiad (db1001) failed: started on <date>, exit status 2``
    (`` (exit status …)`` only when known). wmfbackups only sees a failure once the last good
    run grows stale (8 days for a dump); a DBA wants to hear about last night's failure in the
    morning. A.4's own CRITICAL answers (none completed, stale, too small) are kept as they are,
    so its messages stay the original's."""
    if freshness.status == CRITICAL:
        return freshness
    identifier = f"{job.type} for {job.section}" + (f" at {job.datacenter}" if job.datacenter else "")
    exit_status = "" if run.exit_status is None else f", exit status {run.exit_status}"
    return Result(
        CRITICAL,
        f"The newest {identifier} ({evaluation.short_name(run.source)}) failed: started on "
        f"{evaluation.format_timestamp(run.start_date)}{exit_status}",
    )


def executions_for(
    count: int | None, last_good: datetime | None, last_full: datetime | None
) -> list[Execution]:
    """Executions standing for a job's runs, where only what the schedule check reads is real:
    the latest good one and the latest good full one (by end date); up to ``count`` (None: no
    more), the others are failures that only count (``No good full backup among <n>
    executions`` is the only answer that depends on them)."""
    executions = []
    if last_good is not None:
        executions.append(Execution(last_good, last_good, RunStatus.FINISHED, 0, full=False))
    if last_full is not None:
        executions.append(Execution(last_full, last_full, RunStatus.FINISHED, 1, full=True))
    padding = Execution(EPOCH, None, RunStatus.FAILED, None, full=False)
    return executions + [padding] * max(0, (count or 0) - len(executions))


def judge(job: BackupJob, inputs: Inputs, now: datetime) -> dict[str, Result]:
    """The results of ``job``'s checks now, by kind (``schedule`` only when it has one). A
    check that raises is UNKNOWN ``The check failed: <error>`` (logged), the others still run."""
    results: dict[str, Result] = {}

    def freshness() -> Result:
        result = evaluation.check_freshness_size(
            section=job.section,
            type=job.type,
            datacenter=job.datacenter,
            latest_two=inputs.latest_two.get(job.pk, []),
            now=now,
            freshness=job.freshness,
            min_size=job.min_size,
            warn_percentage=job.warn_size_percentage,
            crit_percentage=job.crit_size_percentage,
        )
        failed = inputs.failed.get(job.pk)
        return result if failed is None else failed_result(job, failed, result)

    checks = {
        CheckKind.FRESHNESS: freshness,
        CheckKind.LONG_RUNNING: lambda: evaluation.long_running_result(
            inputs.long_candidates.get(job.pk, []),
            now,
            max_hours=job.max_duration / 3600,
            window=LONG_RUNNING_WINDOW,
        ),
    }
    if job.schedule:
        count, last_good, last_full = inputs.schedule[job.pk]
        checks[CheckKind.SCHEDULE] = lambda: evaluation.schedule_result(
            executions_for(count, last_good, last_full), job.schedule, now
        )
    for kind, run in checks.items():
        try:
            results[kind] = run()
        except Exception as exc:  # one broken check must not hide the others
            log.exception("backups: the %s check of %s failed", kind, job)
            results[kind] = evaluation.unknown(f"The check failed: {exc}"[:500])
    return results


class Summary(NamedTuple):
    """What an evaluation did: jobs evaluated, checks whose status changed, events told."""

    jobs: int
    changes: int
    told: int


def _problem(status: int) -> bool:
    return status != OK


def store(jobs: Sequence[BackupJob], results: dict, now: datetime) -> Summary:
    """Store the ``results`` ({job id: {kind: Result}}) of ``jobs`` judged at ``now`` and tell
    the changes, in one transaction (the jobs' rows locked where the database can, so that two
    evaluations of a job never both tell the same change). A job whose checks were stored by an
    evaluation later than ``now`` (a run closed meanwhile) is left as that one stored it.

    Rows are written in a few statements whatever their number: one ``UPDATE`` per (status,
    message, notified) that several rows share (the long-running check's OK message names the
    window's start, so it changes at every evaluation, the same for every job), one
    ``bulk_update`` for the rows whose values are their own."""
    from fleetwatch.backups.notify import tell
    from fleetwatch.notifications.models import MaintenanceWindow

    changes = told = 0
    ids = [job.pk for job in jobs]
    with transaction.atomic():
        # order_by(): the models' orderings would join the jobs (and sort) for nothing.
        current = dict(
            BackupJob.objects.select_for_update().filter(pk__in=ids).order_by().values_list("pk", "status")
        )
        checks = JobCheck.objects.filter(job_id__in=ids).order_by()
        newer = set(checks.filter(checked__gt=now).values_list("job_id", flat=True))
        stored: dict = defaultdict(dict)
        for pk, job_id, kind, status, message, notified in checks.values_list(
            "pk", "job_id", "kind", "status", "message", "notified"
        ):
            stored[job_id][kind] = (pk, status, message, notified)
        quiet_orgs: set | None = None
        audiences: dict = {}  # read once per organization however many events it gets
        to_create: list[JobCheck] = []
        to_delete: list[int] = []
        refreshed: list[int] = []
        updates: dict[tuple, list[int]] = defaultdict(list)  # (status, message, notified, moved): pks
        job_updates: dict[str, list] = defaultdict(list)
        for job in jobs:
            if job.pk in newer:
                continue  # a newer evaluation already stored this job
            rows = stored.get(job.pk, {})
            to_delete.extend(row[0] for kind, row in rows.items() if kind not in results[job.pk])
            for kind, result in results[job.pk].items():
                message = result.message[:500]  # the column's size
                pk, old, old_message, notified = rows.get(kind, (None, None, None, False))
                if old == result.status and old_message == message:
                    refreshed.append(pk)
                    continue
                event = None
                if old != result.status:
                    changes += 1
                    if _problem(result.status):
                        if quiet_orgs is None:
                            quiet_orgs = _quiet_organizations(MaintenanceWindow, jobs, now)
                        quiet = job.organization_id in quiet_orgs
                        if old is None or not _problem(old):
                            notified = not quiet  # a new problem
                            if notified:
                                event = {"kind": "problem", "problem_status": result.status, "since": now}
                        elif notified and not quiet:  # a told problem changed severity
                            event = {"kind": "problem", "problem_status": result.status, "since": now}
                    else:
                        if old is not None and notified:
                            began = JobCheck.objects.values_list("since", flat=True).get(pk=pk)
                            event = {"kind": "recovery", "problem_status": old, "since": began}
                        notified = False
                if pk is None:
                    to_create.append(
                        JobCheck(
                            job=job,
                            kind=kind,
                            status=result.status,
                            message=message,
                            since=now,
                            checked=now,
                            notified=notified,
                        )
                    )
                else:
                    updates[(result.status, message, notified, old != result.status)].append(pk)
                if event is not None:
                    tell(job, kind, result.status, message, time=now, audiences=audiences, **event)
                    told += 1
            status = job_status(result.status for result in results[job.pk].values())
            if status != current.get(job.pk, job.status):  # as stored now, under the lock
                job.status = status
                job_updates[status].append(job.pk)
        if to_create:
            JobCheck.objects.bulk_create(to_create)
        singles: dict[bool, list[JobCheck]] = defaultdict(list)
        for (status, message, notified, moved), pks in updates.items():
            values = {"status": status, "message": message, "notified": notified, "checked": now}
            if moved:
                values["since"] = now
            if len(pks) > 1:
                JobCheck.objects.filter(pk__in=pks).update(**values)
            else:
                singles[moved].append(JobCheck(pk=pks[0], **values))
        for moved, rows in singles.items():
            fields = ["status", "message", "notified", "checked"] + (["since"] if moved else [])
            JobCheck.objects.bulk_update(rows, fields, batch_size=CHUNK)
        if refreshed:
            JobCheck.objects.filter(pk__in=refreshed).update(checked=now)
        if to_delete:
            JobCheck.objects.filter(pk__in=to_delete).delete()
        for status, pks in job_updates.items():
            BackupJob.objects.filter(pk__in=pks).update(status=status)
    return Summary(len(jobs), changes, told)


def _quiet_organizations(windows, jobs: Sequence[BackupJob], now: datetime) -> set:
    """The organizations of ``jobs`` in an organization-wide maintenance window at ``now``."""
    return set(
        windows.objects.filter(
            device__isnull=True,
            organization_id__in={job.organization_id for job in jobs},
            start__lte=now,
            end__gt=now,
        ).values_list("organization_id", flat=True)
    )


def evaluate_job(job: BackupJob, now: datetime) -> list[JobCheck]:
    """Judge ``job``'s checks at ``now`` (aware), store them, set ``job.status`` and tell the
    changes; returns its :class:`JobCheck` rows (ordered by kind). An inactive job is not
    evaluated: its stored rows are returned unchanged."""
    job = BackupJob.objects.select_related("organization").get(pk=job.pk)  # its current settings
    if job.is_active:
        store([job], {job.pk: judge(job, read_inputs([job], now), now)}, now)
    return list(JobCheck.objects.filter(job_id=job.pk).order_by("kind"))


def evaluate_all(now: datetime) -> Summary:
    """Evaluate every active job at ``now`` (:func:`evaluate_job`'s rules), :data:`CHUNK` jobs
    at a time: reads first, then one short transaction per chunk for the writes and
    notifications. Returns the :class:`Summary`."""
    jobs = list(BackupJob.objects.filter(is_active=True).select_related("organization").order_by("pk"))
    total = Summary(0, 0, 0)
    for start in range(0, len(jobs), CHUNK):
        chunk = jobs[start : start + CHUNK]
        inputs = read_inputs(chunk, now)
        results = {job.pk: judge(job, inputs, now) for job in chunk}
        done = store(chunk, results, now)
        total = Summary(*(a + b for a, b in zip(total, done, strict=True)))
    return total
