"""Backup runs as time series (fleetwatch.backups.series), on every backend the run covers (real
servers, as in the conformance suite; FLEETWATCH_TEST_BACKENDS narrows them): one point per
finished run, idempotent, what a chart needs back, and a store that is down never failing a close
(the run is charted later by the catch-up task)."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.backups import series
from fleetwatch.backups.models import BackupJob, BackupRun, JobCheck
from fleetwatch.backups.runs import FileEntry, close_run, open_run
from fleetwatch.backups.series import SeriesPoint, chart_pending, job_series, write_run
from fleetwatch.backups.tasks import chart_backup_runs, judge_closed_backups
from fleetwatch.core.timeseries import get_backend
from fleetwatch.timeseries import BackendUnavailable, ReadQuery

pytestmark = pytest.mark.django_db

GIB = 1024**3
# Yesterday, so that every backend's default retention keeps it whatever the day of the run.
NIGHT = (datetime.now(UTC) - timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
HOUR = timedelta(hours=1)


@pytest.fixture
def job(orgs):
    return BackupJob.objects.create(organization=orgs[0], section="s1", type="dump", datacenter="eqiad")


def run(job, start, *, status="finished", size=10 * GIB, minutes=90, files=()):
    opened, _ = open_run(job, start_date=start, source="db1001.eqiad.wmnet")
    closed, _ = close_run(
        opened, status, end_date=start + timedelta(minutes=minutes), total_size=size, files=files
    )
    return closed


def points(job):
    rows = get_backend().read(ReadQuery("backup_run", tags=series.job_tags(job), consistent=True))
    return [(row.time, row.tags, row.fields) for row in rows]


def test_a_finished_run_is_one_point_and_writing_it_again_changes_nothing(store, job):
    files = [FileEntry("", "s1.sql.gz", 3 * GIB), FileEntry("", "metadata", 100), FileEntry("db", "t.sql", 7)]
    finished = run(job, NIGHT, size=10 * GIB, files=files)
    assert write_run(finished) is True
    assert write_run(finished) is True  # a retry
    assert points(job) == [
        (
            NIGHT,
            {"content_type": "backups.backupjob", "object_id": str(job.pk)},
            {"size": 10 * GIB, "duration": 5400.0, "files": 3},
        )
    ]
    assert BackupRun.objects.get(pk=finished.pk).charted is True


def test_failed_deleted_and_ongoing_runs_are_not_charted(store, job):
    failed = run(job, NIGHT, status="failed", size=None)
    deleted = run(job, NIGHT + HOUR, status="deleted")
    ongoing, _ = open_run(job, start_date=NIGHT + 2 * HOUR)
    assert [write_run(r) for r in (failed, deleted, ongoing)] == [False, False, False]
    assert points(job) == []
    assert BackupRun.objects.filter(charted=True).count() == 0


def test_job_series_is_what_the_charts_draw(store, job, orgs):
    other = BackupJob.objects.create(organization=orgs[0], section="s2", type="dump", datacenter="eqiad")
    for day in range(3):
        write_run(run(job, NIGHT - timedelta(days=2 - day), size=(10 + day) * GIB, minutes=60 + day))
    write_run(run(job, NIGHT + HOUR, size=None, minutes=30))  # no recorded size
    write_run(run(other, NIGHT))
    get_backend().read(ReadQuery("backup_run", limit=1, consistent=True))  # visible everywhere
    assert job_series(job) == [
        SeriesPoint(NIGHT - timedelta(days=2), 10 * GIB, 3600.0),
        SeriesPoint(NIGHT - timedelta(days=1), 11 * GIB, 3660.0),
        SeriesPoint(NIGHT, 12 * GIB, 3720.0),
        SeriesPoint(NIGHT + HOUR, None, 1800.0),
    ]
    assert job_series(job, since=NIGHT - timedelta(days=1), until=NIGHT) == [
        SeriesPoint(NIGHT - timedelta(days=1), 11 * GIB, 3660.0),
        SeriesPoint(NIGHT, 12 * GIB, 3720.0),
    ]
    assert job_series(other) == [SeriesPoint(NIGHT, 10 * GIB, 5400.0)]


def test_the_pass_after_a_close_charts_the_run_and_judges_its_job(store, job):
    opened, _ = open_run(job, start_date=NIGHT)
    close_run(opened, "finished", end_date=NIGHT + HOUR, total_size=GIB)
    assert BackupRun.objects.get(pk=opened.pk).charted is False  # the close itself stays cheap
    assert JobCheck.objects.filter(job=job).count() == 0
    # One run: WARNING "There is only 1 dump …" (A.4 rule 5), told once.
    assert judge_closed_backups() == {"charted": 1, "jobs": 1, "changes": 2, "told": 1}
    assert BackupRun.objects.get(pk=opened.pk).charted is True
    assert [p[2] for p in points(job)] == [{"size": GIB, "duration": 3600.0, "files": 0}]
    assert JobCheck.objects.filter(job=job).count() == 2
    assert BackupJob.objects.get(pk=job.pk).needs_check is False
    assert judge_closed_backups() == {"charted": 0, "jobs": 0, "changes": 0, "told": 0}


class DownStore:
    def write(self, points, retention="default"):
        raise BackendUnavailable("connection refused")


def test_a_store_that_is_down_never_fails_the_close_nor_the_judgement(store, job, monkeypatch):
    monkeypatch.setattr(series, "get_backend", DownStore)
    opened, _ = open_run(job, start_date=NIGHT)
    closed, changed = close_run(opened, "finished", end_date=NIGHT + HOUR, total_size=GIB)
    assert (closed.status, changed) == ("finished", True)
    assert judge_closed_backups()["charted"] == 0
    assert BackupRun.objects.get(pk=opened.pk).charted is False
    assert BackupJob.objects.get(pk=job.pk).status == "problem"  # judged all the same (one run)
    assert chart_backup_runs() == 0  # still down: the task waits for the next tick
    monkeypatch.undo()
    assert chart_backup_runs() == 1
    assert BackupRun.objects.get(pk=opened.pk).charted is True
    assert [p[2] for p in points(job)] == [{"size": GIB, "duration": 3600.0, "files": 0}]


def test_the_catch_up_charts_every_uncharted_finished_run_in_batches(store, job, monkeypatch):
    monkeypatch.setattr(series, "CATCH_UP_BATCH", 2)
    files = [FileEntry("", f"f{i}", 1) for i in range(4)]
    for day in range(5):
        run(job, NIGHT - timedelta(days=day), files=files if day == 0 else ())
    run(job, NIGHT + HOUR, status="failed", size=None)
    assert chart_pending(limit=3) == 3
    assert chart_pending() == 2
    assert chart_pending() == 0
    charted = points(job)
    assert len(charted) == 5
    assert charted[-1][0] == NIGHT
    assert charted[-1][2] == {"size": 10 * GIB, "duration": 5400.0, "files": 4}
    assert BackupRun.objects.filter(charted=False).count() == 1  # the failed one
