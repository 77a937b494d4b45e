"""The import from a real wmfbackups metadata database (MariaDB, the A.2 schema of
tests/backups/dbbackups.sql), written as wmfbackups writes it (A.3: a run starts ``ongoing``, its
files are gathered, it ends ``finished``, ``failed`` or ``deleted``): the jobs, runs, files and
objects it gives exactly; importing again changes nothing; new and closed rows are picked up
incrementally; and ``fleetwatch backup check`` of a job answers what evaluating the source's
own rows answers (the acceptance test of issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from fleetwatch import cli
from fleetwatch.backups.evaluation import RunSummary, check_freshness_size
from fleetwatch.backups.importer import ImportFailed, import_runs, source_name
from fleetwatch.backups.models import BackupFile, BackupJob, BackupObject, BackupRun
from fleetwatch.backups.signals import run_closed
from fleetwatch.backups.tasks import import_wmfbackups
from tests.backups import databases

pytestmark = pytest.mark.django_db

SCHEMA = Path(__file__).with_name("dbbackups.sql")
NOW = datetime(2026, 11, 30, 9, 0)  # naive UTC, as the source's TIMESTAMPs are read
MIB = 1024 * 1024
FIELDS = ("imported_id", "name", "status", "section", "type", "datacenter", "source", "host",
          "start_date", "end_date", "total_size", "origin", "log", "exit_status")  # fmt: skip


class Statistics:
    """Writes the metadata as wmfbackups' BackupStatistics does (reference A.3), with explicit
    times: ``start`` inserts an ongoing row, ``gather`` its files and total size, ``finish`` /
    ``fail`` / ``delete`` set the status (and the end)."""

    def __init__(self, connection):
        self.cursor = connection.cursor()
        self.cursor.execute("SET time_zone = '+00:00'")

    def start(self, type, section, source, host, when) -> int:
        name = f"{type}.{section}.{when:%Y-%m-%d--%H-%M-%S}" if type else None
        self.cursor.execute(
            "INSERT INTO backups (name, status, source, host, type, section, start_date, end_date)"
            " VALUES (%s, 'ongoing', %s, %s, %s, %s, %s, NULL)",
            (name, source, host, type, section, when),
        )
        return self.cursor.lastrowid

    def gather(self, backup_id, files, objects=()):
        self.cursor.executemany(
            "INSERT INTO backup_files (backup_id, file_path, file_name, size, file_date) VALUES (%s, %s, %s, %s, %s)",
            [(backup_id, *entry) for entry in files],
        )
        self.cursor.executemany(
            "INSERT INTO backup_objects (backup_id, db, name, size) VALUES (%s, %s, %s, %s)",
            [(backup_id, *entry) for entry in objects],
        )
        self.cursor.execute(
            "UPDATE backups SET total_size = %s WHERE id = %s", (sum(f[2] for f in files), backup_id)
        )

    def close(self, backup_id, status, when=None):
        if status == "deleted":  # BackupStatistics.delete: the status only
            self.cursor.execute("UPDATE backups SET status = 'deleted' WHERE id = %s", (backup_id,))
        else:
            self.cursor.execute(
                "UPDATE backups SET status = %s, end_date = %s WHERE id = %s", (status, when, backup_id)
            )


@pytest.fixture
def dbbackups(mariadb_url):
    """A throwaway ``dbbackups`` database with the A.2 schema: ``(url, Statistics, connection)``."""
    server = databases.Server.from_url(mariadb_url)
    name = databases.new_name()
    with databases.mariadb_connect(server) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        connection = databases.mariadb_connect(server, name)
        with connection.cursor() as cursor:
            for statement in SCHEMA.read_text().split(";\n"):
                body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
                if body.strip():
                    cursor.execute(body)
        yield server.url(name), Statistics(connection), connection
        connection.close()
    finally:
        with databases.mariadb_connect(server) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def files_of(day: datetime, *sizes: int) -> list[tuple]:
    """(file_path, file_name, size, file_date) rows as a mydumper directory has them."""
    rows = [("", "metadata", 120, day)]
    rows += [("enwiki", f"enwiki.t{n}.sql.gz", size, day) for n, size in enumerate(sizes)]
    return rows


def utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment else None


def write_history(stats: Statistics) -> dict[str, int]:
    """The source's first rows, each written through its life as A.3 describes."""
    ids = {}
    eqiad, codfw = "dbprov1001.eqiad.wmnet", "dbprov2001.codfw.wmnet"
    day2, day1 = NOW - timedelta(days=2), NOW - timedelta(days=1)
    # Two finished dumps of s1 in eqiad, with their files (and objects for the second).
    ids["s1-old"] = stats.start("dump", "s1", "db1139.eqiad.wmnet:3311", eqiad, day2)
    stats.gather(ids["s1-old"], files_of(day2 + timedelta(hours=2), 60 * MIB, 40 * MIB - 120))
    stats.close(ids["s1-old"], "finished", day2 + timedelta(hours=2))
    ids["s1-new"] = stats.start("dump", "s1", "db1139.eqiad.wmnet:3311", eqiad, day1)
    stats.gather(
        ids["s1-new"],
        files_of(day1 + timedelta(hours=2), 62 * MIB, 41 * MIB - 120),
        objects=[("enwiki", None, 103 * MIB), ("enwiki", "page", 62 * MIB)],
    )
    stats.close(ids["s1-new"], "finished", day1 + timedelta(hours=2))
    # A snapshot that failed (no files), in the other datacenter.
    ids["s1-snap"] = stats.start("snapshot", "s1", "db2100.codfw.wmnet:3311", codfw, day1)
    stats.close(ids["s1-snap"], "failed", day1 + timedelta(minutes=10))
    # A finished dump of s2, purged since: deleted.
    ids["s2"] = stats.start("dump", "s2", "db1150.eqiad.wmnet", eqiad, day2)
    stats.gather(ids["s2"], files_of(day2 + timedelta(hours=1), 5 * MIB))
    stats.close(ids["s2"], "finished", day2 + timedelta(hours=1))
    stats.close(ids["s2"], "deleted")
    # wmfbackups' `null` test type is not in the enum: NULL, which no job can take.
    ids["null"] = stats.start(None, "s1", "db1139.eqiad.wmnet:3311", eqiad, day1)
    # The night's dump of s1, still running.
    ids["s1-running"] = stats.start("dump", "s1", "db1139.eqiad.wmnet:3311", eqiad, NOW - timedelta(hours=1))
    return ids


def stored() -> dict[int, dict]:
    """Every imported run's fields, files and objects, by source id."""
    runs = {}
    for run in BackupRun.objects.order_by("imported_id"):
        values = {name: getattr(run, name) for name in FIELDS}
        values["job"] = run.job.name
        values["files"] = list(
            BackupFile.objects.filter(run=run).values_list("file_path", "file_name", "size", "file_date")
        )
        values["objects"] = list(BackupObject.objects.filter(run=run).values_list("db", "name", "size"))
        runs[run.imported_id] = values
    return runs


@pytest.fixture
def closed_runs(django_capture_on_commit_callbacks):
    """``(source id, status)`` of every run_closed sent (on commit)."""
    seen = []

    def receiver(sender, run, **kwargs):
        seen.append((run.imported_id, run.status))

    run_closed.connect(receiver)
    yield seen
    run_closed.disconnect(receiver)


def run_import(url, org, capture):
    with capture(execute=True):
        return import_runs(url, org)


def test_import_is_exact_idempotent_incremental_and_checks_as_the_source(
    dbbackups, orgs, closed_runs, django_capture_on_commit_callbacks, capsys
):
    url, stats, connection = dbbackups
    ids = write_history(stats)
    key = source_name(url)
    assert key == f"mysql://127.0.0.1:13306/{url.rsplit('/', 1)[1]}"

    report = run_import(url, orgs[0], django_capture_on_commit_callbacks)
    assert (
        report.summary()
        == f"{key}: 5 runs imported, 0 closed, 0 still ongoing, 3 jobs created, 1 rows skipped"
    )
    assert report.jobs_created == ["dump of s1 in eqiad", "snapshot of s1 in codfw", "dump of s2 in eqiad"]
    assert report.skipped == [f"backups.id {ids['null']}: type None is not one of dump, snapshot, cold"]
    jobs = BackupJob.objects.filter(organization=orgs[0])
    assert sorted(job.name for job in jobs) == [
        "dump of s1 in eqiad",
        "dump of s2 in eqiad",
        "snapshot of s1 in codfw",
    ]
    assert [job.freshness for job in jobs.order_by("type", "section")] == [691200, 691200, 259200]

    day2, day1 = NOW - timedelta(days=2), NOW - timedelta(days=1)
    common = {"origin": "import", "log": "", "exit_status": None}
    expected = {
        ids["s1-old"]: {
            "imported_id": ids["s1-old"], "name": "dump.s1.2026-11-28--09-00-00", "status": "finished",
            "section": "s1", "type": "dump", "datacenter": "eqiad", "source": "db1139.eqiad.wmnet:3311",
            "host": "dbprov1001.eqiad.wmnet", "start_date": utc(day2), "end_date": utc(day2 + timedelta(hours=2)),
            "total_size": 100 * MIB, "job": "dump of s1 in eqiad", **common,
            "files": [(p, n, s, utc(d)) for p, n, s, d in files_of(day2 + timedelta(hours=2), 60 * MIB, 40 * MIB - 120)],
            "objects": [],
        },
        ids["s1-new"]: {
            "imported_id": ids["s1-new"], "name": "dump.s1.2026-11-29--09-00-00", "status": "finished",
            "section": "s1", "type": "dump", "datacenter": "eqiad", "source": "db1139.eqiad.wmnet:3311",
            "host": "dbprov1001.eqiad.wmnet", "start_date": utc(day1), "end_date": utc(day1 + timedelta(hours=2)),
            "total_size": 103 * MIB, "job": "dump of s1 in eqiad", **common,
            "files": [(p, n, s, utc(d)) for p, n, s, d in files_of(day1 + timedelta(hours=2), 62 * MIB, 41 * MIB - 120)],
            "objects": [("enwiki", "", 103 * MIB), ("enwiki", "page", 62 * MIB)],
        },
        ids["s1-snap"]: {
            "imported_id": ids["s1-snap"], "name": "snapshot.s1.2026-11-29--09-00-00", "status": "failed",
            "section": "s1", "type": "snapshot", "datacenter": "codfw", "source": "db2100.codfw.wmnet:3311",
            "host": "dbprov2001.codfw.wmnet", "start_date": utc(day1), "end_date": utc(day1 + timedelta(minutes=10)),
            "total_size": None, "job": "snapshot of s1 in codfw", **common, "files": [], "objects": [],
        },
        ids["s2"]: {
            "imported_id": ids["s2"], "name": "dump.s2.2026-11-28--09-00-00", "status": "deleted",
            "section": "s2", "type": "dump", "datacenter": "eqiad", "source": "db1150.eqiad.wmnet",
            "host": "dbprov1001.eqiad.wmnet", "start_date": utc(day2), "end_date": utc(day2 + timedelta(hours=1)),
            "total_size": 5 * MIB + 120, "job": "dump of s2 in eqiad", **common,
            "files": [(p, n, s, utc(d)) for p, n, s, d in files_of(day2 + timedelta(hours=1), 5 * MIB)],
            "objects": [],
        },
        ids["s1-running"]: {
            "imported_id": ids["s1-running"], "name": "dump.s1.2026-11-30--08-00-00", "status": "ongoing",
            "section": "s1", "type": "dump", "datacenter": "eqiad", "source": "db1139.eqiad.wmnet:3311",
            "host": "dbprov1001.eqiad.wmnet", "start_date": utc(NOW - timedelta(hours=1)), "end_date": None,
            "total_size": None, "job": "dump of s1 in eqiad", **common, "files": [], "objects": [],
        },
    }  # fmt: skip
    assert stored() == expected
    assert set(BackupRun.objects.values_list("imported_from", flat=True)) == {key}
    # Each run imported closed was closed once, as a runner's would be.
    assert sorted(closed_runs) == sorted(
        [
            (ids["s1-old"], "finished"),
            (ids["s1-new"], "finished"),
            (ids["s1-snap"], "failed"),
            (ids["s2"], "deleted"),
        ]
    )

    # Again: nothing new, nothing changed, nothing sent.
    closed_runs.clear()
    report = run_import(url, orgs[0], django_capture_on_commit_callbacks)
    assert (
        report.summary()
        == f"{key}: 0 runs imported, 0 closed, 1 still ongoing, 0 jobs created, 0 rows skipped"
    )
    assert (stored(), closed_runs, BackupJob.objects.count()) == (expected, [], 3)

    # The night's dump ends (its files gathered first), and a new section's dump is written.
    end = NOW - timedelta(minutes=10)
    stats.gather(ids["s1-running"], files_of(end, 70 * MIB, 40 * MIB - 120))
    stats.close(ids["s1-running"], "finished", end)
    ids["s3"] = stats.start(
        "dump", "s3", "db1157.eqiad.wmnet", "dbprov1002.eqiad.wmnet", NOW - timedelta(hours=3)
    )
    stats.gather(ids["s3"], files_of(NOW - timedelta(hours=2), 2 * MIB))
    stats.close(ids["s3"], "finished", NOW - timedelta(hours=2))

    report = run_import(url, orgs[0], django_capture_on_commit_callbacks)
    assert (
        report.summary()
        == f"{key}: 1 runs imported, 1 closed, 0 still ongoing, 1 jobs created, 0 rows skipped"
    )
    assert sorted(closed_runs) == sorted([(ids["s1-running"], "finished"), (ids["s3"], "finished")])
    now_stored = stored()
    assert {k: v for k, v in now_stored.items() if k not in (ids["s1-running"], ids["s3"])} == {
        k: v for k, v in expected.items() if k != ids["s1-running"]
    }
    running = now_stored[ids["s1-running"]]
    assert (running["status"], running["end_date"], running["total_size"]) == (
        "finished",
        utc(end),
        110 * MIB,
    )
    assert running["files"] == [(p, n, s, utc(d)) for p, n, s, d in files_of(end, 70 * MIB, 40 * MIB - 120)]
    assert (now_stored[ids["s3"]]["job"], now_stored[ids["s3"]]["total_size"]) == (
        "dump of s3 in eqiad",
        2 * MIB + 120,
    )

    # The check of each job answers what the source's rows answer (A.4's own query on them).
    for section, type, dc, status in (
        ("s1", "dump", "eqiad", 1),
        ("s1", "snapshot", "codfw", 2),
        ("s2", "dump", "eqiad", 2),
    ):
        job = BackupJob.objects.get(section=section, type=type, datacenter=dc)
        expected_result = evaluate_source(connection, job)
        with freeze_time(NOW.replace(tzinfo=UTC)):
            try:
                code = cli.main(["backup", "check", "--section", section, "--type", type, "--datacenter", dc])
            except SystemExit as exc:
                code = exc.code
        assert (code, capsys.readouterr().out) == (expected_result.status, expected_result.message + "\n")
        assert code == status  # s1: +6.8 % is a warning; no finished snapshot; s2's only dump is deleted


def evaluate_source(connection, job: BackupJob):
    """A.4 on the source database itself: its last two finished rows of the job (``host LIKE
    '%.<dc>.wmnet'``, newest start first), with the job's thresholds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT start_date, end_date, total_size, source, host FROM backups WHERE type = %s AND section = %s"
            " AND host LIKE %s AND status = 'finished' AND end_date IS NOT NULL ORDER BY start_date DESC LIMIT 2",
            (job.type, job.section, f"%.{job.datacenter}.wmnet"),
        )
        rows = cursor.fetchall()
    latest_two = [
        RunSummary(start_date=utc(start), end_date=utc(end), total_size=size, source=source, host=host)
        for start, end, size, source, host in rows
    ]
    return check_freshness_size(
        section=job.section,
        type=job.type,
        datacenter=job.datacenter,
        latest_two=latest_two,
        now=NOW.replace(tzinfo=UTC),
        freshness=job.freshness,
        min_size=job.min_size,
        warn_percentage=job.warn_size_percentage,
        crit_percentage=job.crit_size_percentage,
    )


def test_a_row_refused_by_the_lifecycle_is_skipped_whole_and_named(dbbackups, orgs):
    url, stats, _ = dbbackups
    backup_id = stats.start("dump", "s1", "db1139.eqiad.wmnet", "dbprov1001.eqiad.wmnet", NOW)
    stats.gather(backup_id, files_of(NOW, 1000))
    stats.close(backup_id, "finished", NOW - timedelta(hours=1))  # a clock that went back
    report = import_runs(url, orgs[0])
    assert report.skipped == [
        f"backups.id {backup_id}: end_date is before the run's start. "
        "(Must not be before the start (2026-11-30T09:00:00+00:00).)"
    ]
    assert (report.created, BackupRun.objects.count(), BackupFile.objects.count()) == (0, 0, 0)
    assert list(BackupJob.objects.values_list("section", flat=True)) == ["s1"]  # the job it found stays


def test_the_command_prints_the_summary(dbbackups, orgs, capsys):
    url, stats, _ = dbbackups
    write_history(stats)
    try:
        code = cli.main(["backup", "import", "--from", url, "--organization", "org-a"])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    key = source_name(url)
    assert (code, out) == (
        0,
        f"{key}: 5 runs imported, 0 closed, 0 still ongoing, 3 jobs created, 1 rows skipped\n",
    )
    assert err.startswith("skipped: backups.id 5: type None")


def test_the_scheduled_task_imports_with_the_settings(dbbackups, orgs, settings):
    url, stats, _ = dbbackups
    write_history(stats)
    settings.FLEETWATCH_BACKUP_IMPORT_URL = url
    settings.FLEETWATCH_BACKUP_IMPORT_ORGANIZATION = "org-b"
    key = source_name(url)
    first = import_wmfbackups.delay().get()  # through Celery (eager in tests)
    assert first == f"{key}: 5 runs imported, 0 closed, 0 still ongoing, 3 jobs created, 1 rows skipped"
    assert (
        import_wmfbackups()
        == f"{key}: 0 runs imported, 0 closed, 1 still ongoing, 0 jobs created, 0 rows skipped"
    )
    assert BackupRun.objects.filter(organization=orgs[1]).count() == 5
    # Another organization cannot import the same rows.
    with pytest.raises(ImportFailed, match=f"^{key} is imported into organization Org B already$"):
        import_runs(url, orgs[0])


def test_an_unreachable_source_fails_clearly(orgs):
    with pytest.raises(ImportFailed, match=r"^cannot connect to mysql://127.0.0.1:9/dbbackups: \(2003, "):
        import_runs("mysql://reader:secret@127.0.0.1:9/dbbackups", orgs[0])
    with pytest.raises(
        ImportFailed,
        match=r"^the source must be a URL mysql://user:password@host:port/database, not 'mysql://reader:\*\*\*@db1/'$",
    ):
        import_runs("mysql://reader:secret@db1/", orgs[0])  # fmt: skip


def load_settings(monkeypatch, tmp_path, **env):
    import runpy

    import fleetwatch.settings

    for name in (
        "FLEETWATCH_BACKUP_IMPORT_URL",
        "FLEETWATCH_BACKUP_IMPORT_ORGANIZATION",
        "FLEETWATCH_BACKUP_IMPORT_INTERVAL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLEETWATCH_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(fleetwatch.settings.__file__)


def test_the_import_is_scheduled_only_when_its_url_is_set(monkeypatch, tmp_path):
    from fleetwatch.core.env import SettingsError

    assert "import-wmfbackups" not in load_settings(monkeypatch, tmp_path)["CELERY_BEAT_SCHEDULE"]
    loaded = load_settings(
        monkeypatch,
        tmp_path,
        FLEETWATCH_BACKUP_IMPORT_URL="mysql://reader:pw@db1.example.org:3306/dbbackups",
        FLEETWATCH_BACKUP_IMPORT_ORGANIZATION="org-a",
        FLEETWATCH_BACKUP_IMPORT_INTERVAL="900",
    )
    assert loaded["CELERY_BEAT_SCHEDULE"]["import-wmfbackups"] == {
        "task": "fleetwatch.backups.tasks.import_wmfbackups",
        "schedule": 900.0,
    }
    with pytest.raises(
        SettingsError, match=r"^FLEETWATCH_BACKUP_IMPORT_URL needs FLEETWATCH_BACKUP_IMPORT_ORGANIZATION"
    ):
        load_settings(monkeypatch, tmp_path, FLEETWATCH_BACKUP_IMPORT_URL="mysql://reader:pw@db1/dbbackups")
    with pytest.raises(
        SettingsError, match=r"^FLEETWATCH_BACKUP_IMPORT_URL must be a URL starting with mysql://, mariadb://"
    ):
        load_settings(monkeypatch, tmp_path, FLEETWATCH_BACKUP_IMPORT_URL="postgresql://db1/dbbackups")


@pytest.mark.django_db(transaction=True)  # each row's commit runs its callbacks, as in production
def test_importing_history_tells_only_where_it_ends(dbbackups, orgs, alice):
    """A first import replays years of runs: judged at each close, an old run would be "stale"
    (a problem told) until the newer ones arrive (its recovery told). Judged once at the end,
    a healthy history tells nothing and its job is OK."""
    from fleetwatch.notifications.models import Notification

    url, stats, _ = dbbackups
    host = "dbprov1001.eqiad.wmnet"
    for age, size in ((30, 100 * MIB), (2, 101 * MIB), (1, 102 * MIB)):
        day = NOW - timedelta(days=age)
        backup = stats.start("dump", "s1", "db1139.eqiad.wmnet:3311", host, day)
        stats.gather(backup, files_of(day + timedelta(hours=1), size - 120))
        stats.close(backup, "finished", day + timedelta(hours=1))
    with freeze_time(utc(NOW)):
        import_runs(url, orgs[0])
    job = BackupJob.objects.get(organization=orgs[0])
    assert job.status == "ok"
    assert Notification.objects.count() == 0
