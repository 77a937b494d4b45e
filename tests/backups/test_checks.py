"""The checks against stored runs (fleetwatch.backups.checks): each kind's exact message from real
runs, the job's status, one JobCheck row per kind whose ``since`` moves only with the status, and
the evaluation of every job in a constant number of queries. Time is explicit (``now``)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fleetwatch.backups import checks, evaluation
from fleetwatch.backups.checks import evaluate_all, evaluate_job, job_status, judge, read_inputs
from fleetwatch.backups.evaluation import CRITICAL, OK, UNKNOWN, WARNING
from fleetwatch.backups.models import BackupJob, JobCheck
from fleetwatch.backups.runs import close_run, open_run

pytestmark = pytest.mark.django_db

GIB = 1024**3
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # last night's backup
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SINCE = "2026-11-23 12:00:00"  # NOW minus the long-running window (7 days)


@pytest.fixture
def job(orgs):
    return BackupJob.objects.create(organization=orgs[0], section="s1", type="dump", datacenter="eqiad")


def run(job, start, *, hours=1.0, status="finished", size=10 * GIB, exit_status=None):
    """A run of ``job`` through the lifecycle every way in uses; ``status`` ongoing leaves it open."""
    opened, _ = open_run(
        job, start_date=start, source="db1001.eqiad.wmnet:3311", host="dbprov1001.eqiad.wmnet"
    )
    if status == "ongoing":
        return opened
    closed, _ = close_run(
        opened, status, end_date=start + timedelta(hours=hours), total_size=size, exit_status=exit_status
    )
    return closed


def results(job, now=NOW):
    """``{kind: (status, message)}`` as stored after evaluating ``job`` at ``now``."""
    return {row.kind: (row.status, row.message) for row in evaluate_job(job, now)}


def status_of(job):
    return BackupJob.objects.get(pk=job.pk).status


# ------------------------------------------------------------------ freshness and size (A.4)


def test_a_job_without_runs_is_critical(job):
    assert results(job) == {
        "freshness": (CRITICAL, "We could not find any completed dump for s1 at eqiad"),
        "long_running": (OK, f"No backup started since {SINCE} took over 12.0 hours"),
    }
    assert status_of(job) == "critical"


def test_two_good_runs_are_ok(job):
    run(job, NIGHT - DAY, size=int(9.8 * GIB))
    run(job, NIGHT)
    assert results(job)["freshness"] == (
        OK,
        "Last dump for s1 at eqiad (db1001) taken on 2026-11-29 01:00:00 (10 GiB, +2.0 %)",
    )
    assert status_of(job) == "ok"


def test_one_run_is_a_warning(job):
    run(job, NIGHT)
    assert results(job)["freshness"] == (
        WARNING,
        "There is only 1 dump for s1 at eqiad (db1001) taken on 2026-11-29 01:00:00 (10 GiB)",
    )
    assert status_of(job) == "problem"


def test_a_shrunken_backup_is_critical(job):
    run(job, NIGHT - DAY)
    run(job, NIGHT, size=8 * GIB)
    assert results(job)["freshness"] == (
        CRITICAL,
        "Last dump for s1 at eqiad (db1001) taken on 2026-11-29 01:00:00 is 8 GiB, but the previous one "
        "was 10 GiB, a change of -20.0 %",
    )


def test_a_stale_backup_is_critical(job):
    run(job, NIGHT - DAY)
    run(job, NIGHT)
    assert results(job, NOW + 8 * DAY)["freshness"] == (
        CRITICAL,
        "dump for s1 at eqiad (db1001) taken more than a week ago: Most recent backup 2026-11-29 01:00:00",
    )


def test_only_the_two_newest_finished_runs_with_an_end_count(job):
    run(job, NIGHT - 3 * DAY, size=GIB)  # older: not compared
    run(job, NIGHT - 2 * DAY, size=10 * GIB)
    run(job, NIGHT - DAY, status="ongoing")  # still running: not finished
    run(job, NIGHT, size=int(10.4 * GIB))
    assert results(job)["freshness"] == (
        OK,
        "Last dump for s1 at eqiad (db1001) taken on 2026-11-29 01:00:00 (10 GiB, +4.0 %)",
    )


def test_the_newest_run_failing_is_critical_at_once(job):
    run(job, NIGHT - 2 * DAY)
    run(job, NIGHT - DAY)
    run(job, NIGHT, status="failed", size=None, exit_status=2)
    assert results(job)["freshness"] == (
        CRITICAL,
        "The newest dump for s1 at eqiad (db1001) failed: started on 2026-11-29 01:00:00, exit status 2",
    )
    assert status_of(job) == "critical"
    run(job, NIGHT + 10 * HOUR)  # the retry worked: the failure is behind a good run
    assert results(job)["freshness"] == (
        OK,
        "Last dump for s1 at eqiad (db1001) taken on 2026-11-29 11:00:00 (10 GiB, +0.0 %)",
    )


def test_a_failure_keeps_the_a4_message_when_a4_is_critical_itself(job):
    run(job, NIGHT, status="failed", size=None)
    assert results(job)["freshness"] == (CRITICAL, "We could not find any completed dump for s1 at eqiad")


# ------------------------------------------------------------------ long-running runs (A.5)


def test_a_run_longer_than_the_jobs_maximum_is_a_warning(job):
    run(job, NIGHT - 8 * DAY, hours=30)  # started before the window: not counted
    run(job, NIGHT, hours=13)
    assert results(job)["long_running"] == (
        WARNING,
        f"1 backup started since {SINCE} took over 12.0 hours; the longest: dump of s1 in eqiad started at "
        "2026-11-29T01:00:00+00:00 and finished at 2026-11-29T14:00:00+00:00 (13:00:00)",
    )


def test_an_ongoing_run_counts_and_the_threshold_is_the_jobs(job):
    run(job, NIGHT, hours=13)
    run(job, NIGHT + 19 * HOUR, status="ongoing")  # 16 hours so far at NOW
    assert results(job)["long_running"] == (
        WARNING,
        f"2 backups started since {SINCE} took over 12.0 hours; the longest: dump of s1 in eqiad started at "
        "2026-11-29T20:00:00+00:00 and it is still ongoing (16:00:00)",
    )
    job.max_duration = 20 * 3600
    job.save()
    assert results(job)["long_running"] == (OK, f"No backup started since {SINCE} took over 20.0 hours")


# ------------------------------------------------------------------ schedule (A.6)


@pytest.fixture
def daily(job):
    job.schedule = "daily"
    job.save()
    return job


def test_a_scheduled_job_without_executions_is_a_warning(daily):
    assert results(daily)["schedule"] == (WARNING, "No executions at all")


def test_a_scheduled_job_with_only_failures_is_critical(daily):
    run(daily, NIGHT - DAY, status="failed", size=None)
    run(daily, NIGHT, status="failed", size=None)
    run(daily, NIGHT + 5 * HOUR, status="ongoing")
    assert results(daily)["schedule"] == (CRITICAL, "No good full backup among 3 executions")


def test_a_scheduled_job_fresh_then_stale(daily):
    run(daily, NIGHT)
    run(daily, NIGHT + 12 * HOUR, status="failed", size=None)
    assert results(daily)["schedule"] == (
        OK,
        "Fresh: the last good backup ended at 2026-11-29 02:00:00, the last good full one at 2026-11-29 02:00:00",
    )
    assert results(daily, NOW + DAY)["schedule"] == (
        CRITICAL,
        "Stale: the last good backup ended at 2026-11-29 02:00:00, more than 2 days ago",
    )


def test_a_job_whose_schedule_is_removed_loses_that_check(daily):
    assert set(results(daily)) == {"freshness", "long_running", "schedule"}
    daily.schedule = ""
    daily.save()
    assert set(results(daily)) == {"freshness", "long_running"}


def test_the_schedule_check_counts_like_the_pure_function(daily):
    """The aggregate stands for the runs (executions_for): same category and message."""
    runs = [
        run(daily, NIGHT - 3 * DAY, size=0),
        run(daily, NIGHT - 2 * DAY, status="failed", size=None),
        run(daily, NIGHT - DAY),
        run(daily, NIGHT, status="ongoing"),
    ]
    summaries = [
        evaluation.Execution.from_run(
            evaluation.RunSummary(r.start_date, r.end_date, r.total_size, status=r.status)
        )
        for r in runs
    ]
    for now in (NOW, NOW + DAY, NOW + 40 * DAY):
        assert results(daily, now)["schedule"] == tuple(
            vars(evaluation.schedule_result(summaries, "daily", now)).values()
        )


# ------------------------------------------------------------------ status, rows, since


def test_job_status_is_the_worst_check():
    assert job_status([OK, OK]) == "ok"
    assert job_status([OK, UNKNOWN]) == "unknown"
    assert job_status([UNKNOWN, WARNING]) == "problem"
    assert job_status([WARNING, CRITICAL, UNKNOWN]) == "critical"
    assert job_status([]) == "unknown"


def test_a_check_that_raises_is_unknown_and_the_others_still_run(job, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(evaluation, "check_freshness_size", broken)
    assert results(job) == {
        "freshness": (UNKNOWN, "The check failed: boom"),
        "long_running": (OK, f"No backup started since {SINCE} took over 12.0 hours"),
    }
    assert status_of(job) == "unknown"


def test_one_row_per_kind_and_since_moves_only_with_the_status(job):
    run(job, NIGHT - DAY)
    run(job, NIGHT)
    evaluate_job(job, NOW)
    run(job, NIGHT + DAY)  # a new good run: a new message, the same status
    later = NOW + DAY
    rows = {row.kind: row for row in evaluate_job(job, later)}
    assert JobCheck.objects.filter(job=job).count() == 2
    freshness = rows["freshness"]
    assert (freshness.status, freshness.since, freshness.checked) == (OK, NOW, later)
    assert (
        freshness.message
        == "Last dump for s1 at eqiad (db1001) taken on 2026-11-30 01:00:00 (10 GiB, +0.0 %)"
    )
    assert rows["long_running"].since == NOW
    run(job, NIGHT + 2 * DAY, size=5 * GIB)
    rows = {row.kind: row for row in evaluate_job(job, later + DAY)}
    assert (rows["freshness"].status, rows["freshness"].since) == (CRITICAL, later + DAY)
    assert rows["long_running"].since == NOW


def test_an_older_evaluation_does_not_overwrite_a_newer_one(job):
    evaluate_job(job, NOW)
    run(job, NIGHT - DAY)
    run(job, NIGHT)
    assert results(job, NOW - HOUR)["freshness"][0] == CRITICAL  # kept: judged later already
    assert results(job, NOW + HOUR)["freshness"][0] == OK


def test_inactive_jobs_are_not_evaluated(job, orgs):
    job.is_active = False
    job.save()
    assert evaluate_job(job, NOW) == []
    assert evaluate_all(NOW) == (0, 0, 0)
    assert status_of(job) == "unknown"


# ------------------------------------------------------------------ every job at once


def matrix(org, sections):
    """Jobs with various histories: OK, WARNING (one run), CRITICAL (shrunk), failing, none."""
    jobs = []
    for index, section in enumerate(sections):
        job = BackupJob.objects.create(
            organization=org,
            section=section,
            type="dump",
            datacenter="eqiad",
            schedule="daily" if index % 2 else "",
        )
        shape = index % 5
        if shape in (0, 2, 3):
            run(job, NIGHT - DAY)
        if shape in (0, 1, 2, 3):
            run(job, NIGHT, size=5 * GIB if shape == 2 else 10 * GIB, hours=13 if shape == 1 else 1)
        if shape == 3:
            run(job, NIGHT + 2 * HOUR, status="failed", size=None)
        jobs.append(job)
    return jobs


def test_evaluate_all_gives_what_each_job_alone_gives(orgs):
    jobs = matrix(orgs[0], [f"s{i}" for i in range(10)]) + matrix(orgs[1], ["x1", "x2"])
    # Every check is new (2 per job, 6 schedules); 13 of them are problems, each told once.
    assert evaluate_all(NOW) == (12, 12 * 2 + 6, 13)
    stored = {(row.job_id, row.kind): (row.status, row.message) for row in JobCheck.objects.all()}
    alone = {
        (job.pk, kind): (result.status, result.message)
        for job in jobs
        for kind, result in judge(job, read_inputs([job], NOW), NOW).items()
    }
    assert stored == alone
    statuses = [status_of(job) for job in jobs[:5]]
    assert statuses == ["ok", "problem", "critical", "critical", "critical"]


def test_evaluate_all_costs_the_same_queries_for_any_number_of_jobs(orgs):
    def queries(sections):
        BackupJob.objects.all().delete()
        matrix(orgs[0], sections)
        evaluate_all(NOW)  # the rows exist: the steady state
        with CaptureQueriesContext(connection) as captured:
            evaluate_all(NOW + HOUR)
        return len(captured)

    few = queries([f"s{i}" for i in range(10)])  # every shape of matrix() in both
    many = queries([f"s{i}" for i in range(50)])
    # Reads: the jobs, their newest two finished runs (ids, rows), the long-running window and its
    # candidates, the scheduled jobs lacking a good full run, the newest failures (start, rows);
    # writes: savepoint, lock, newer evaluations, stored rows, one UPDATE for the shared
    # long-running message, one bulk_update for the others, one for the unchanged, release.
    assert few == many == 16


def test_evaluate_all_works_in_chunks(orgs, monkeypatch):
    monkeypatch.setattr(checks, "CHUNK", 3)
    jobs = matrix(orgs[0], [f"s{i}" for i in range(7)])
    assert evaluate_all(NOW).jobs == 7
    assert JobCheck.objects.filter(job__in=jobs).count() == 7 * 2 + 3


# ------------------------------------------------------------------ the schedule


def test_the_worker_checks_every_interval(settings, job):
    from fleetwatch.backups.tasks import check_backups
    from fleetwatch.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["check-backups"]
    assert entry == {"task": "fleetwatch.backups.tasks.check_backups", "schedule": 300.0}
    assert (
        settings.CELERY_BEAT_SCHEDULE["chart-backup-runs"]["task"]
        == "fleetwatch.backups.tasks.chart_backup_runs"
    )
    assert {entry["task"], "fleetwatch.backups.tasks.chart_backup_runs"} <= set(app.tasks)
    assert check_backups.delay().get() == {"jobs": 1, "changes": 2, "told": 1}
    assert status_of(job) == "critical"
