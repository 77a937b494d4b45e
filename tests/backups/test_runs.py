"""The run lifecycle every way in shares (fleetwatch.backups.runs): validation before writing,
idempotent retries, conflicts, the datacenter rule and the run_closed signal."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.backups.datacenters import datacenter_of
from fleetwatch.backups.models import LOG_LIMIT, BackupFile, BackupJob, BackupRun
from fleetwatch.backups.runs import (
    FileEntry,
    ObjectEntry,
    RunConflict,
    RunRefused,
    attach_files,
    bounded_log,
    close_run,
    find_job,
    open_run,
    run_name,
)
from fleetwatch.backups.signals import run_closed

T0 = datetime(2026, 11, 29, 1, 51, tzinfo=UTC)


@pytest.fixture
def job(orgs):
    return BackupJob.objects.create(organization=orgs[0], section="s4", type="dump", datacenter="eqiad")


@pytest.fixture
def closed(django_capture_on_commit_callbacks):
    """Runs for which run_closed was sent (callbacks executed on commit)."""
    seen = []

    def receiver(sender, run, **kwargs):
        seen.append((run.pk, run.status))

    run_closed.connect(receiver)
    yield seen
    run_closed.disconnect(receiver)


def test_defaults_per_type(orgs):
    dump = BackupJob.objects.create(organization=orgs[0], section="s1", type="dump", datacenter="eqiad")
    snapshot = BackupJob.objects.create(
        organization=orgs[0], section="s1", type="snapshot", datacenter="eqiad"
    )
    assert (dump.freshness, snapshot.freshness) == (691200, 259200)
    assert (dump.min_size, dump.warn_size_percentage, dump.crit_size_percentage) == (307200, 5.0, 15.0)
    assert dump.max_duration == 43200
    assert snapshot.name == "snapshot of s1 in eqiad"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("dbprov1002.eqiad.wmnet", "eqiad"),
        ("backup2002.codfw.wmnet", "codfw"),
        ("DB1145.EQIAD.wmnet:3315", "eqiad"),
        ("localhost", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_datacenter_from_fqdn(host, expected, settings):
    assert datacenter_of(host) == expected


def test_datacenter_rule_is_a_setting(settings):
    settings.FLEETWATCH_BACKUP_DATACENTER_PATTERN = r"-(?P<datacenter>[a-z]+)\d*$"
    assert datacenter_of("db-ams3") == "ams"


def test_run_name_as_wmfbackups():
    assert run_name("dump", "s4", T0) == "dump.s4.2026-11-29--01-51-00"


def test_find_job_by_host(job, orgs):
    assert find_job(orgs[0], "s4", "dump", host="dbprov1002.eqiad.wmnet") == job
    assert find_job(orgs[0], "s4", "dump", datacenter="eqiad") == job


def test_unknown_section_is_refused_naming_the_known_ones(job, orgs):
    with pytest.raises(RunRefused) as refused:
        find_job(orgs[0], "s9", "dump", datacenter="eqiad")
    assert refused.value.errors == {
        "section": ["'s9' is not a section of the monitoring matrix (known: s4)."]
    }


def test_unknown_cell_is_refused_naming_the_sections_cells(job, orgs):
    with pytest.raises(RunRefused) as refused:
        find_job(orgs[0], "s4", "snapshot", host="dbprov2001.codfw.wmnet")
    assert refused.value.errors == {
        "type": ["snapshot of s4 in codfw is not in the monitoring matrix (it has: dump of s4 in eqiad)."]
    }


def test_another_organizations_job_is_not_found(job, orgs):
    with pytest.raises(RunRefused):
        find_job(orgs[1], "s4", "dump", datacenter="eqiad")


def test_open_is_idempotent_by_name_and_by_run_id(job):
    run, created = open_run(
        job, start_date=T0, source="db1145.eqiad.wmnet:3306", host="dbprov1002.eqiad.wmnet"
    )
    assert created
    assert run.name == "dump.s4.2026-11-29--01-51-00"
    assert run.source == "db1145.eqiad.wmnet"
    assert (run.status, run.section, run.type, run.datacenter) == ("ongoing", "s4", "dump", "eqiad")
    again, created = open_run(job, start_date=T0)
    assert (again.pk, created) == (run.pk, False)
    rid = uuid.uuid4()
    first, _ = open_run(job, start_date=T0 + timedelta(hours=1), run_id=rid)
    retry, created = open_run(job, start_date=T0 + timedelta(hours=1, seconds=3), run_id=rid)
    assert (retry.pk, created) == (first.pk, False)
    assert BackupRun.objects.count() == 2


def test_files_are_stored_once_and_total_is_their_sum(job):
    run, _ = open_run(job, start_date=T0)
    files = [
        FileEntry("", "metadata", 120),
        FileEntry("s4", "enwiki.page.sql.gz", 4096),
        FileEntry("s4", "dir", None),
    ]
    attach_files(run, files)
    attach_files(run, files)
    assert BackupFile.objects.filter(run=run).count() == 3
    run.refresh_from_db()
    assert run.total_size == 4216


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([FileEntry("", "a", -1)], "files[1]: size must not be negative (-1)."),
        ([FileEntry("x", "a", 1), FileEntry("x", "a", 2)], "files[2]: x/a is listed twice."),
        ([FileEntry("", "", 1)], "files[1]: file_name must not be empty."),
    ],
)
def test_bad_file_lists_write_nothing(job, files, message):
    run, _ = open_run(job, start_date=T0)
    with pytest.raises(RunRefused) as refused:
        attach_files(run, [FileEntry("", "good", 1), *files])
    assert refused.value.errors == {"files": [message]}
    assert BackupFile.objects.count() == 0


def test_close_then_retry_then_conflict(job, closed, django_capture_on_commit_callbacks):
    run, _ = open_run(job, start_date=T0)
    with django_capture_on_commit_callbacks(execute=True):
        run, changed = close_run(
            run, "finished", end_date=T0 + timedelta(hours=2), total_size=5000, exit_status=0
        )
    assert changed
    assert run.duration == 7200
    assert run.total_size == 5000
    with django_capture_on_commit_callbacks(execute=True):
        again, changed = close_run(run, "finished", end_date=T0 + timedelta(hours=3))
    assert not changed
    assert again.end_date == T0 + timedelta(hours=2)
    assert closed == [(run.pk, "finished")]
    with pytest.raises(RunConflict, match="already closed as finished; it cannot become failed"):
        close_run(run, "failed")
    with pytest.raises(RunConflict, match="files are attached before it is closed"):
        attach_files(run, [FileEntry("", "late", 1)])


def test_a_finished_run_may_be_deleted_later(job):
    run, _ = open_run(job, start_date=T0)
    close_run(run, "finished", end_date=T0 + timedelta(hours=1))
    run, changed = close_run(run, "deleted", end_date=T0 + timedelta(days=20))
    assert changed
    assert run.status == "deleted"
    assert run.end_date == T0 + timedelta(hours=1)


@pytest.mark.parametrize("status", ["ongoing", "done", ""])
def test_close_needs_a_closing_status(job, status):
    run, _ = open_run(job, start_date=T0)
    with pytest.raises(RunRefused, match="status must be one of finished, failed, deleted"):
        close_run(run, status)


def test_end_before_start_is_refused(job):
    run, _ = open_run(job, start_date=T0)
    with pytest.raises(RunRefused, match="end_date is before the run's start"):
        close_run(run, "finished", end_date=T0 - timedelta(seconds=1))
    run.refresh_from_db()
    assert run.status == "ongoing"


def test_close_with_bad_files_writes_nothing(job):
    run, _ = open_run(job, start_date=T0)
    with pytest.raises(RunRefused):
        close_run(run, "finished", files=[FileEntry("", "a", 1), FileEntry("", "a", 1)])
    run.refresh_from_db()
    assert run.status == "ongoing"
    assert BackupFile.objects.count() == 0


def test_objects_are_stored_once(job):
    run, _ = open_run(job, start_date=T0)
    objects = [ObjectEntry("enwiki", "page", 10), ObjectEntry("enwiki")]
    close_run(run, "finished", objects=objects)
    assert sorted(run.db_objects.values_list("db", "name", "size")) == [
        ("enwiki", "", None),
        ("enwiki", "page", 10),
    ]


def test_log_is_bounded_keeping_the_tail():
    text = "a" * LOG_LIMIT + "the end"
    kept = bounded_log(text, keep="tail")
    assert len(kept.encode()) == LOG_LIMIT
    assert kept.endswith("the end")
    assert bounded_log(b"\xff\xfeok") == "\ufffd\ufffdok"
    assert bounded_log("é" * LOG_LIMIT, keep="head") == "é" * (LOG_LIMIT // 2)


def test_a_pattern_without_its_group_stops_start_up(monkeypatch, tmp_path):
    import runpy

    import fleetwatch.settings
    from fleetwatch.core.env import SettingsError

    monkeypatch.setenv("FLEETWATCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FLEETWATCH_BACKUP_DATACENTER_PATTERN", r"^[^.]+\.([^.]+)\.")
    with pytest.raises(
        SettingsError, match=r"must be a regular expression with a \(\?P<datacenter>…\) group"
    ):
        runpy.run_path(fleetwatch.settings.__file__)
