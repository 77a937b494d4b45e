"""The backups' Prometheus text exposition (``GET /api/v1/backups/metrics``), written with
``prometheus-client``'s own exposition writer.

Per job (labels ``organization`` (its slug), ``section``, ``type``, ``datacenter``), in the spirit
of ``check_bacula.py``'s exporter (reference A.6):

==========================================================  =====================================
``fleetwatch_backup_job_last_good_backup_timestamp_seconds``  end of the latest finished run (unix
                                                               seconds; A.6's last good backup is
                                                               its end time)
``fleetwatch_backup_job_last_size_bytes``                      its total size (absent if unknown)
``fleetwatch_backup_job_last_duration_seconds``                its duration
``fleetwatch_backup_job_expected_freshness_seconds``           the job's freshness threshold
``fleetwatch_backup_job_status``                               the job's status: 0 ok, 1 problem,
                                                               2 critical, 3 unknown (the Nagios
                                                               codes of the worst check)
``fleetwatch_backup_job_check_status``                         one per check (label ``check``:
                                                               freshness, long_running, schedule),
                                                               0 OK … 3 UNKNOWN
``fleetwatch_backup_job_runs_last_{day,week,month}``            closed runs started in the last 1, 7,
``…_successful``                                               30 days, and how many succeeded
                                                               (``evaluation.success_rates``)
==========================================================  =====================================

and per organization (label ``organization``) A.6's global gauges,
``fleetwatch_backups_last_{day,week,month}`` and ``…_successful``. A job without a finished run
has no ``last_*`` samples (Prometheus: absent, not zero).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from fleetwatch.backups.evaluation import FULL_TYPES, SUCCESS_WINDOWS, Execution, success_rates
from fleetwatch.backups.models import BackupJob, BackupRun, JobCheck, RunStatus

JOB_LABELS = ["organization", "section", "type", "datacenter"]
# The job's status (the health vocabulary) as the Nagios code of its worst check.
STATUS_CODES = {"ok": 0, "problem": 1, "critical": 2, "unknown": 3}
WINDOW_WORDS = {"day": "1 day", "week": "7 days", "month": "30 days"}


def _latest_finished(job_ids: list) -> dict:
    """``{job id: (start, end, total_size)}`` of each job's latest finished run (by start)."""
    latest = {}
    rows = (
        BackupRun.objects.filter(job_id__in=job_ids, status=RunStatus.FINISHED)
        .order_by("job_id", "-start_date", "-pk")
        .values_list("job_id", "start_date", "end_date", "total_size")
    )
    for job_id, start, end, size in rows.iterator(chunk_size=5000):
        latest.setdefault(job_id, (start, end, size))
    return latest


def _executions(job_ids: list, now: datetime) -> dict:
    """``{job id: [Execution, …]}`` of the runs started in the last 30 days."""
    since = now - max(SUCCESS_WINDOWS.values())
    found = defaultdict(list)
    rows = BackupRun.objects.filter(
        job_id__in=job_ids, start_date__gt=since, start_date__lte=now
    ).values_list("job_id", "start_date", "end_date", "status", "total_size", "type")
    for job_id, start, end, status, size, type_ in rows.iterator(chunk_size=5000):
        found[job_id].append(Execution(start, end, status, size, type_ in FULL_TYPES))
    return found


class JobsCollector:
    """A ``prometheus_client`` collector of ``jobs`` (evaluated once, at ``now``)."""

    def __init__(self, jobs: Iterable[BackupJob], now: datetime):
        self.jobs = list(jobs)
        self.now = now

    def collect(self):
        jobs, now = self.jobs, self.now
        ids = [job.pk for job in jobs]
        latest = _latest_finished(ids)
        executions = _executions(ids, now)
        checks = defaultdict(list)
        for job_id, kind, status in JobCheck.objects.filter(job_id__in=ids).values_list(
            "job_id", "kind", "status"
        ):
            checks[job_id].append((kind, status))

        def gauge(name, documentation, labels=JOB_LABELS):
            return GaugeMetricFamily(name, documentation, labels=labels)

        good = gauge(
            "fleetwatch_backup_job_last_good_backup_timestamp_seconds",
            "End of the job's latest finished run (unix seconds).",
        )
        size = gauge("fleetwatch_backup_job_last_size_bytes", "Total size of the job's latest finished run.")
        duration = gauge(
            "fleetwatch_backup_job_last_duration_seconds", "Duration of the job's latest finished run."
        )
        freshness = gauge(
            "fleetwatch_backup_job_expected_freshness_seconds",
            "The job's freshness threshold: its latest finished run must have started within it.",
        )
        status = gauge(
            "fleetwatch_backup_job_status", "The job's status: 0 ok, 1 problem, 2 critical, 3 unknown."
        )
        check_status = gauge(
            "fleetwatch_backup_job_check_status",
            "One check of the job: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            [*JOB_LABELS, "check"],
        )
        rates = {
            window: (
                gauge(
                    f"fleetwatch_backup_job_runs_last_{window}",
                    f"Closed runs of the job started in the last {WINDOW_WORDS[window]}.",
                ),
                gauge(
                    f"fleetwatch_backup_job_runs_last_{window}_successful",
                    f"Successful runs of the job started in the last {WINDOW_WORDS[window]}.",
                ),
            )
            for window in SUCCESS_WINDOWS
        }
        totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: {w: [0, 0] for w in SUCCESS_WINDOWS})
        for job in jobs:
            labels = [job.organization.slug, job.section, job.type, job.datacenter]
            if job.pk in latest:
                start, end, total = latest[job.pk]
                if end is not None:
                    good.add_metric(labels, end.timestamp())
                    duration.add_metric(labels, (end - start).total_seconds())
                if total is not None:
                    size.add_metric(labels, total)
            freshness.add_metric(labels, job.freshness)
            status.add_metric(labels, STATUS_CODES.get(job.status, 3))
            for kind, value in sorted(checks[job.pk]):
                check_status.add_metric([*labels, kind], value)
            for window, (counted, successful) in success_rates(executions[job.pk], now).items():
                rates[window][0].add_metric(labels, counted)
                rates[window][1].add_metric(labels, successful)
                totals[job.organization.slug][window][0] += counted
                totals[job.organization.slug][window][1] += successful
        yield from (good, size, duration, freshness, status, check_status)
        for pair in rates.values():
            yield from pair
        for window in SUCCESS_WINDOWS:
            counted = gauge(
                f"fleetwatch_backups_last_{window}",
                f"Closed runs of the organization started in the last {WINDOW_WORDS[window]}.",
                ["organization"],
            )
            successful = gauge(
                f"fleetwatch_backups_last_{window}_successful",
                f"Successful runs of the organization started in the last {WINDOW_WORDS[window]}.",
                ["organization"],
            )
            for slug in sorted(totals):
                counted.add_metric([slug], totals[slug][window][0])
                successful.add_metric([slug], totals[slug][window][1])
            yield counted
            yield successful


def exposition(jobs: Iterable[BackupJob], now: datetime) -> bytes:
    """The text exposition (format 0.0.4, ``CONTENT_TYPE_PLAIN_0_0_4``) of ``jobs`` at ``now``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobsCollector(jobs, now))
    return generate_latest(registry)
