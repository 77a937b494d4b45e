"""The demo's backup matrix (``fleetwatch serve --demo``, ``make run``): 30 days of nightly runs
of five sections × dump/snapshot × two datacenters, with file inventories, in which exactly
three jobs are in trouble at once:

* **stale**: ``snapshot of s3 in codfw`` has not run for four days (its backup host is down),
  so its latest finished run is older than a snapshot's freshness (3 days, A.4) and than its
  daily schedule allows (2 days, A.6);
* **failed**: ``dump of s2 in eqiad`` failed last night (mydumper lost its connection, exit
  status 3 as wmfbackups' runner answers a backup output error, A.3): its newest run failed,
  which the checks make CRITICAL at once (``fleetwatch.backups.checks.failed_result``);
* **shrunk**: ``dump of x1 in codfw`` finished last night about 21 % smaller than the night
  before (A.4: more than the critical 15 %).

Everything else is healthy: sizes change by less than 3 % a night, one run failed three nights
ago and was followed by good ones (it shows under "recent failures" but is no problem), and two
runs are in progress. Times are relative to ``now``: the nightly runs start about five hours
before it, so the demo looks the same whenever it is started.

Every job runs daily (schedule ``daily``) with the default thresholds of its type (freshness:
8 days for a dump, 3 for a snapshot; sizes: 300 KiB at least, warning at 5 %, critical at 15 %),
and the checks are those of the worker (``evaluate_all``), so a demo left running keeps its three
problems and its healthy jobs for two days (the schedule check's limit), and its notifications
(the three problems, told once) are the real ones.

**Idempotent**: the jobs are found by their matrix cell (their UUIDs, the ping URLs, stay), and
their runs, files and time-series points are replaced on every start, so starting the demo
twice never duplicates anything, and the three problems are always last night's. Runs reported
to the demo's jobs by hand are replaced too (it is a demo organization).

**Fast**: rows are bulk-inserted (a few thousand files in a handful of statements) and the
time-series points written in one batch; the runs are written directly rather than through
``fleetwatch.backups.runs`` (whose per-run validation, transactions and ``run_closed`` signal are
for runners' traffic), which is why the demo writes their points (``series.run_point``) and
marks them ``charted`` itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from fleetwatch.backups import series
from fleetwatch.backups.checks import evaluate_all
from fleetwatch.backups.models import (
    DEFAULT_FRESHNESS,
    BackupFile,
    BackupJob,
    BackupRun,
    BackupType,
    Origin,
    RunStatus,
    Schedule,
)
from fleetwatch.backups.runs import run_name
from fleetwatch.core.timeseries import get_backend

GIB = 1024**3
HOUR = 3600
DAYS = 30
DATACENTERS = ("eqiad", "codfw")
# section → (types, dump size in GiB on day 0, {database: its tables})
SECTIONS: dict[str, tuple[tuple[str, ...], float, dict[str, tuple[str, ...]]]] = {
    "s1": (
        ("dump", "snapshot"),
        210.0,
        {
            "enwiki": tuple(
                "actor categorylinks comment content logging page pagelinks revision slots templatelinks text user".split()
            )
        },
    ),
    "s2": (
        ("dump", "snapshot"),
        140.0,
        {db: ("comment", "logging", "page", "revision", "text") for db in ("itwiki", "nlwiki")},
    ),
    "s3": (
        ("dump", "snapshot"),
        95.0,
        {db: ("page", "revision") for db in ("aawiki", "abwiki", "acewiki", "afwiki")},
    ),
    "x1": (("dump", "snapshot"), 60.0, {"flowdb": ("flow_revision", "flow_tree_node", "flow_workflow")}),
    "m1": (("dump",), 4.0, {"bacula9": ("File", "Job", "Media", "Path"), "etherpadlite": ("store",)}),
}
SNAPSHOT_FACTOR = 3.2  # a snapshot holds indexes and InnoDB's files: bigger than a dump
GROWTH = 0.002  # +0.2 % a night
NOISE = 0.01  # ±1 %: never near the 5 % warning

STALE = ("s3", "snapshot", "codfw")
FAILED = ("s2", "dump", "eqiad")
SHRUNK = ("x1", "dump", "codfw")
SHRINK = 0.78  # -22 %
STALE_NIGHTS = 4  # nights without any run
RECOVERED = ("s1", "snapshot", "eqiad")  # failed three nights ago, fine since
ONGOING = (("s2", "snapshot", "codfw", 35), ("x1", "snapshot", "eqiad", 10))  # (…, minutes ago)
LEAD = timedelta(hours=5)  # the last nightly runs started this long before now
FAILED_LOG = (
    "[INFO] - Running mydumper for section {section}\n"
    "** (mydumper:4102): CRITICAL **: Could not read data from {db}.revision: "
    "Lost connection to MySQL server during query\n"
    "[ERROR] - mydumper exited with an error, see above; backup of {section} marked as failed\n"
)


@dataclass
class DemoMatrix:
    """What :func:`build` made: the jobs (18), the runs and files written, the time-series points
    written, and the names of the jobs that are in trouble (the dashboard's problem box)."""

    jobs: list[BackupJob] = field(default_factory=list)
    runs: int = 0
    files: int = 0
    points: int = 0
    problems: list[str] = field(default_factory=list)


def cells() -> list[tuple[str, str, str]]:
    """The demo's matrix, ``(section, type, datacenter)`` in section order."""
    return [
        (section, type, dc)
        for section, (types, _, _) in SECTIONS.items()
        for type in types
        for dc in DATACENTERS
    ]


def _host(kind: str, dc: str, index: int) -> str:
    number = (1 if dc == "eqiad" else 2) * 1000 + index
    return f"{kind}{number}.{dc}.wmnet"


def _inventory(section: str, type: str, size: int, moment: datetime) -> list[tuple[str, str, int, datetime]]:
    """``(file_path, file_name, size, file_date)`` of one run, summing to ``size``: mydumper's
    files for a dump (per table a schema and a data file), InnoDB's for a snapshot."""
    _, _, databases = SECTIONS[section]
    names: list[tuple[str, str]] = []
    for db, tables in databases.items():
        if type == BackupType.DUMP:
            names.append(("", f"{db}-schema-create.sql.gz"))
            for table in tables:
                names += [("", f"{db}.{table}-schema.sql.gz"), ("", f"{db}.{table}.00000.sql.gz")]
        else:
            names += [(db, f"{table}.ibd") for table in tables]
    if type == BackupType.DUMP:
        names.append(("", "metadata"))
    else:
        names += [("", "ibdata1"), ("", "xtrabackup_checkpoints"), ("", "xtrabackup_info")]
    # Data files share the size (revisions, the biggest table of a wiki, a third); small files are small.
    big = [i for i, (_, name) in enumerate(names) if name.endswith((".00000.sql.gz", ".ibd", "ibdata1"))]
    big.sort(key=lambda i: "revision" not in names[i][1])
    sizes = [4096] * len(names)
    rest = size - 4096 * (len(names) - len(big))
    for rank, i in enumerate(big):
        share = rest // 3 if rank == 0 else (rest - rest // 3) // max(1, len(big) - 1)
        sizes[i] = share
    sizes[big[-1]] += size - sum(sizes)  # whatever rounding left
    return [(path, name, sizes[i], moment) for i, (path, name) in enumerate(names)]


def _nights(cell: tuple[str, str, str]) -> range:
    """Which nights (0 = last night) a job ran."""
    return range(STALE_NIGHTS, DAYS) if cell == STALE else range(DAYS)


def build(organization, now: datetime | None = None, write_series: bool = True) -> DemoMatrix:
    """Create or refresh the demo matrix of ``organization`` as of ``now`` (default: the current
    time): its jobs, 30 nights of runs with their files, the runs' points in the time-series
    store (measurement ``backup_run``, as the backups app charts a closed run), and the checks'
    results. Idempotent (see the module's docstring). Returns a :class:`DemoMatrix`."""
    now = now or timezone.now()
    rng = random.Random(20261130)  # the same demo every time, for the same now
    matrix = DemoMatrix()
    base = (now - LEAD).replace(second=0, microsecond=0)
    with transaction.atomic():
        jobs = _jobs(organization)
        matrix.jobs = list(jobs.values())
        BackupRun.objects.filter(job__in=matrix.jobs).delete()  # files and objects go with them

        runs: list[BackupRun] = []
        inventories: list[list[tuple]] = []
        for index, (cell, job) in enumerate(jobs.items()):
            section, type, dc = cell
            _, dump_gib, _ = SECTIONS[section]
            size = dump_gib * GIB * (SNAPSHOT_FACTOR if type == BackupType.SNAPSHOT else 1.0)
            offset = timedelta(minutes=7 * index)  # jobs start one after the other
            host = _host("dbprov", dc, 1 + index % 4)
            source = _host("db", dc, 100 + index) + f":33{11 + list(SECTIONS).index(section)}"
            nights = _nights(cell)
            sizes = {}
            for night in reversed(range(DAYS)):  # oldest first: sizes grow night by night
                size *= 1 + GROWTH + rng.uniform(-NOISE, NOISE)
                sizes[night] = size
            for night in nights:
                start = base - timedelta(days=night) - offset
                run_size = int(sizes[night] * (SHRINK if cell == SHRUNK and night == 0 else 1.0))
                failed = (cell == FAILED and night == 0) or (cell == RECOVERED and night == 3)
                duration = timedelta(seconds=run_size / GIB * 12 * (1 + rng.uniform(-0.1, 0.1)) + 120)
                if failed:
                    duration = duration / 3  # it stopped part of the way
                run = BackupRun(
                    organization=organization,
                    job=job,
                    name=run_name(type, section, start),
                    status=RunStatus.FAILED if failed else RunStatus.FINISHED,
                    source=source,
                    host=host,
                    type=type,
                    section=section,
                    datacenter=dc,
                    start_date=start,
                    end_date=start + duration,
                    total_size=None if failed else run_size,
                    exit_status=(3 if cell == FAILED else 6) if failed else 0,
                    log=_log(cell, failed, start),
                    origin=Origin.CLI,
                    charted=not failed,
                )
                runs.append(run)
                inventories.append([] if failed else _inventory(section, type, run_size, start + duration))
        for section, type, dc, minutes in ONGOING:
            job = jobs[(section, type, dc)]
            start = (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
            runs.append(
                BackupRun(
                    organization=organization,
                    job=job,
                    name=run_name(type, section, start),
                    status=RunStatus.ONGOING,
                    source=_host("db", dc, 100),
                    host=_host("dbprov", dc, 1),
                    type=type,
                    section=section,
                    datacenter=dc,
                    start_date=start,
                    origin=Origin.CLI,
                )
            )
            inventories.append([])
        BackupRun.objects.bulk_create(runs, batch_size=500)
        files = [
            BackupFile(run=run, file_path=path, file_name=name, size=size, file_date=date)
            for run, inventory in zip(runs, inventories, strict=True)
            for path, name, size, date in inventory
        ]
        BackupFile.objects.bulk_create(files, batch_size=2000)
        matrix.runs, matrix.files = len(runs), len(files)
    if write_series:
        counts = [len(inventory) for inventory in inventories]
        finished = [(run, n) for run, n in zip(runs, counts, strict=True) if run.status == RunStatus.FINISHED]
        matrix.points = _write_series(matrix.jobs, finished)
    # The checks, as the worker runs them (and tells the problems, once per change).
    evaluate_all(now)
    matrix.problems = [
        job.name
        for job in BackupJob.objects.filter(
            pk__in=[j.pk for j in matrix.jobs], status__in=("problem", "critical")
        )
    ]
    return matrix


def _jobs(organization) -> dict[tuple[str, str, str], BackupJob]:
    """The demo's jobs by matrix cell: the existing ones (their thresholds reset to the demo's)
    and the missing ones created, in three statements."""
    settings = {"schedule": Schedule.DAILY, "is_active": True}
    existing = {
        (job.section, job.type, job.datacenter): job
        for job in BackupJob.objects.filter(organization=organization, section__in=SECTIONS)
    }
    jobs = {}
    for cell in cells():
        job = existing.get(cell)
        if job is None:
            section, type, dc = cell
            job = BackupJob(organization=organization, section=section, type=type, datacenter=dc)
        for name, value in settings.items():
            setattr(job, name, value)
        job.freshness = DEFAULT_FRESHNESS[job.type]
        jobs[cell] = job
    BackupJob.objects.bulk_create([job for cell, job in jobs.items() if cell not in existing])
    BackupJob.objects.bulk_update(
        [job for cell, job in jobs.items() if cell in existing], [*settings, "freshness"]
    )
    return jobs


def _log(cell, failed: bool, start: datetime) -> str:
    section, type, _ = cell
    db = next(iter(SECTIONS[section][2]))
    if failed and type == BackupType.DUMP:
        return FAILED_LOG.format(section=section, db=db)
    if failed:
        return (
            f"[INFO] - Running XtraBackup for section {section}\n"
            "[ERROR] - xtrabackup --prepare failed: InnoDB: Log block checksum mismatch\n"
        )
    tool = "mydumper" if type == BackupType.DUMP else "XtraBackup"
    return f"[INFO] - Running {tool} for section {section}\n[INFO] - Backup finished correctly\n"


def _write_series(jobs: list[BackupJob], finished: list[tuple[BackupRun, int]]) -> int:
    """The finished runs' points (``(run, its file count)``) in one write, as
    :func:`fleetwatch.backups.series.run_point` makes them, after removing the jobs' earlier
    points (a previous start's runs had other times)."""
    backend = get_backend()
    backend.delete(
        measurement=series.MEASUREMENT,
        tags={"content_type": series.CONTENT_TYPE, "object_id": [str(job.pk) for job in jobs]},
    )
    return backend.write([series.run_point(run, files) for run, files in finished])
