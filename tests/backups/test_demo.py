"""The demo's backup matrix (fleetwatch.backups.demo): 30 days of history in which exactly three
jobs are in trouble (stale, failed last night, shrunk), idempotent and written in bulk."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.backups import demo
from fleetwatch.backups.evaluation import CRITICAL, OK
from fleetwatch.backups.models import BackupFile, BackupJob, BackupRun, JobCheck
from fleetwatch.backups.series import job_series

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def matrix(orgs, timeseries):
    return demo.build(orgs[0], now=NOW)


def test_the_demo_has_exactly_three_problems_with_the_checks_messages(matrix):
    assert sorted(matrix.problems) == [
        "dump of s2 in eqiad",
        "dump of x1 in codfw",
        "snapshot of s3 in codfw",
    ]
    failing = {
        (check.job.name, check.kind): (check.status, check.message)
        for check in JobCheck.objects.exclude(status=OK).select_related("job")
    }
    assert failing == {
        # failed last night: its newest run failed
        ("dump of s2 in eqiad", "freshness"): (
            CRITICAL,
            "The newest dump for s2 at eqiad (db1104) failed: started on 2026-11-30 03:32:00, exit status 3",
        ),
        # stale: no run at all for four nights
        ("snapshot of s3 in codfw", "freshness"): (
            CRITICAL,
            "snapshot for s3 at codfw (db2111) taken more than 3 days ago: Most recent backup 2026-11-26 02:43:00",
        ),
        ("snapshot of s3 in codfw", "schedule"): (
            CRITICAL,
            "Stale: the last good backup ended at 2026-11-26 03:56:08, more than 2 days ago",
        ),
        # shrunk by more than the critical 15 %
        ("dump of x1 in codfw", "freshness"): (
            CRITICAL,
            "Last dump for x1 at codfw (db2113) taken on 2026-11-30 02:29:00 is 48 GiB, "
            "but the previous one was 60 GiB, a change of -21.1 %",
        ),
    }
    statuses = list(BackupJob.objects.values_list("status", flat=True))
    assert (statuses.count("critical"), statuses.count("ok")) == (3, 15)


def test_the_failed_run_of_last_night_is_stored_with_its_exit_status_and_log(matrix):
    failed = BackupRun.objects.get(section="s2", type="dump", datacenter="eqiad", status="failed")
    assert failed.start_date == datetime(2026, 11, 30, 3, 32, tzinfo=UTC)  # five hours before NOW
    assert failed.exit_status == 3
    assert failed.total_size is None
    assert failed.log.splitlines()[1] == (
        "** (mydumper:4102): CRITICAL **: Could not read data from itwiki.revision: "
        "Lost connection to MySQL server during query"
    )
    assert not failed.files.exists()
    # The one other failure of the week (three nights ago) was followed by good runs: no problem.
    recovered = BackupRun.objects.filter(status="failed").exclude(pk=failed.pk).get()
    assert (recovered.section, recovered.type, recovered.datacenter) == ("s1", "snapshot", "eqiad")
    assert recovered.start_date.date() == (NOW - timedelta(days=3)).date()
    assert recovered.job.status == "ok"


def test_the_matrix_has_thirty_days_of_runs_with_inventories(matrix):
    assert len(matrix.jobs) == 18  # s1, s2, s3, x1: dump and snapshot; m1: dump; × eqiad, codfw
    assert sorted({(j.section, j.type) for j in matrix.jobs}) == [
        ("m1", "dump"),
        ("s1", "dump"),
        ("s1", "snapshot"),
        ("s2", "dump"),
        ("s2", "snapshot"),
        ("s3", "dump"),
        ("s3", "snapshot"),
        ("x1", "dump"),
        ("x1", "snapshot"),
    ]
    assert {(j.type, j.freshness) for j in matrix.jobs} == {("dump", 8 * 86400), ("snapshot", 3 * 86400)}
    assert {j.schedule for j in matrix.jobs} == {"daily"}
    # 18 jobs × 30 nights, minus the stale job's last 4, plus 2 ongoing runs
    assert matrix.runs == BackupRun.objects.count() == 18 * 30 - 4 + 2
    assert BackupRun.objects.filter(status="ongoing").count() == 2
    oldest = BackupRun.objects.order_by("start_date").first().start_date
    assert NOW - oldest > timedelta(days=29)
    # A finished run's files add up to its total size.
    run = BackupRun.objects.filter(section="s1", type="dump", status="finished").first()
    sizes = list(run.files.values_list("size", flat=True))
    assert len(sizes) == 1 + 2 * 12 + 1  # schema-create, 12 tables × (schema, data), metadata
    assert sum(sizes) == run.total_size
    assert matrix.files == BackupFile.objects.count()


def test_the_runs_are_charted_in_the_time_series_store(matrix):
    healthy = BackupJob.objects.get(section="s1", type="dump", datacenter="eqiad")
    points = job_series(healthy, NOW - timedelta(days=31), NOW)
    runs = list(BackupRun.objects.filter(job=healthy).order_by("start_date"))
    assert [(t, s, d) for t, s, d in points] == [(r.start_date, r.total_size, r.duration) for r in runs]
    assert len(points) == 30
    stale = BackupJob.objects.get(section="s3", type="snapshot", datacenter="codfw")
    assert len(job_series(stale, NOW - timedelta(days=31), NOW)) == 26
    failed = BackupJob.objects.get(section="s2", type="dump", datacenter="eqiad")
    assert len(job_series(failed, NOW - timedelta(days=31), NOW)) == 29  # a failed run has no point
    assert matrix.points == 18 * 30 - 4 - 2  # the finished runs: not the 2 failed ones


def test_building_twice_duplicates_nothing_and_keeps_the_jobs_and_check_history(orgs, timeseries, matrix):
    job_ids = sorted(str(j.pk) for j in matrix.jobs)
    since = dict(JobCheck.objects.values_list("id", "since"))
    later = NOW + timedelta(hours=2)
    again = demo.build(orgs[0], now=later)
    assert sorted(str(j.pk) for j in again.jobs) == job_ids  # the same jobs: ping URLs stay
    assert (again.runs, again.files, again.points) == (matrix.runs, matrix.files, matrix.points)
    assert BackupRun.objects.count() == matrix.runs
    assert BackupFile.objects.count() == matrix.files
    assert JobCheck.objects.count() == len(since)
    assert dict(JobCheck.objects.values_list("id", "since")) == since  # no status changed
    assert sorted(again.problems) == sorted(matrix.problems)
    # The runs moved with the clock, and so did their points (the old ones are gone).
    healthy = BackupJob.objects.get(section="s1", type="dump", datacenter="eqiad")
    points = job_series(healthy, NOW - timedelta(days=40), later)
    assert len(points) == 30
    assert points[-1][0] == BackupRun.objects.filter(job=healthy, status="finished").first().start_date


def test_the_demo_is_written_in_bulk(orgs, timeseries, django_assert_max_num_queries):
    # 538 runs and 8,078 files: a per-row write would be thousands of queries.
    with django_assert_max_num_queries(100):
        matrix = demo.build(orgs[0], now=NOW)
    # 30 nights × 2 datacenters × (dumps 26 + 23 + 21 + 8 + 13, snapshots 15 + 13 + 11 + 6 files),
    # less the stale job's 4 nights (11 files each) and the two failed runs (23 and 15)
    assert matrix.files == 30 * 2 * (91 + 45) - 4 * 11 - 23 - 15 == 8078


def test_other_organizations_are_left_alone(orgs, timeseries, matrix):
    other = BackupJob.objects.create(organization=orgs[1], section="s1", type="dump", datacenter="eqiad")
    demo.build(orgs[0], now=NOW)
    assert BackupJob.objects.filter(organization=orgs[1]).get() == other
    assert BackupJob.objects.filter(organization=orgs[0]).count() == 18


def test_the_three_problems_are_told_once_even_when_the_demo_starts_again(orgs, timeseries, alice):
    from fleetwatch.notifications.models import Notification

    demo.build(orgs[0], now=NOW)
    told = sorted(Notification.objects.filter(user=alice).values_list("title", flat=True))
    assert told == [  # one per failing check: the stale job fails two
        "dump of s2 in eqiad: CRITICAL",
        "dump of x1 in codfw: CRITICAL",
        "snapshot of s3 in codfw (schedule): CRITICAL",
        "snapshot of s3 in codfw: CRITICAL",
    ]
    demo.build(orgs[0], now=NOW + timedelta(hours=1))
    assert Notification.objects.filter(user=alice).count() == 4


def test_the_docs_quote_the_demos_messages(matrix):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "backups.md").read_text(encoding="utf-8")
    section = text.split("### The demo's matrix", 1)[1]
    messages = JobCheck.objects.exclude(status=OK).values_list("message", flat=True)
    assert len(messages) == 4
    for message in messages:
        assert f"`{message}`" in section
    assert f"{matrix.runs} runs" in section
    assert f"({matrix.files:,} files" in section
