"""Import runs from an existing wmfbackups metadata database (MariaDB; reference A.2: tables
``backups``, ``backup_files``, ``backup_objects``), so a site that already runs wmfbackups sees
its history and keeps its runners while it moves to Fleetwatch.

* **Incremental.** Each import reads the rows after the highest id imported so far, plus the rows
  still ``ongoing`` here (re-read until they are closed there).
* **Idempotent.** An imported run keeps where it came from (``imported_from``: the database's
  URL without credentials) and its id there (``imported_id``), unique together: importing twice
  stores every row once, and a row is imported whole or not at all.
* **Faithful.** Statuses as they are there (``deleted`` included), names, sources, hosts, dates,
  sizes, files and objects as stored. Jobs (section × type × datacenter, the datacenter derived
  from ``host`` by :func:`fleetwatch.backups.datacenters.datacenter_of`) are created when a row
  needs one. Every run goes through :mod:`fleetwatch.backups.runs`, so a row imported already
  closed ends as a run closed by a runner would, and ``run_closed`` is sent once for it.

Timestamps are read in UTC (the session's ``time_zone`` is set to ``+00:00``; wmfbackups'
columns are ``TIMESTAMP``, stored in UTC whatever the server's zone).
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from django.db import transaction
from django.db.models import Max

from fleetwatch.backups.models import NAME_PATTERN, BackupJob, BackupRun, BackupType, Origin, RunStatus
from fleetwatch.backups.pending import judged_at_end
from fleetwatch.backups.runs import (
    FileEntry,
    ObjectEntry,
    RunConflict,
    RunRefused,
    attach_files,
    close_run,
    open_run,
)

BATCH = 500  # rows of ``backups`` read (with their files) per query
SCHEMES = ("mysql", "mariadb")
RUN_COLUMNS = "id, name, status, source, host, type, section, start_date, end_date, total_size"


class ImportFailed(Exception):
    """The source cannot be read (a bad URL, a refused connection, a missing table)."""


@dataclass
class ImportReport:
    """What one import did: runs ``created``, ``closed`` (imported ongoing before, closed
    there since), ``still_ongoing`` (re-read, still ongoing there), the jobs created (their
    names) and the rows ``skipped`` (one line each, with the reason)."""

    source: str
    created: int = 0
    closed: int = 0
    still_ongoing: int = 0
    jobs_created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line, e.g. ``mysql://db1:3306/dbbackups: 4 runs imported, 1 closed, 0 still
        ongoing, 2 jobs created, 0 rows skipped``."""
        return (
            f"{self.source}: {self.created} runs imported, {self.closed} closed, "
            f"{self.still_ongoing} still ongoing, {len(self.jobs_created)} jobs created, "
            f"{len(self.skipped)} rows skipped"
        )


def source_name(url: str) -> str:
    """The URL without its credentials, ``mysql://host:port/database``: what ``imported_from``
    keeps (never the password). Raises :class:`ImportFailed` for a URL that names no host or
    database."""
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if parts.scheme not in SCHEMES or not parts.hostname or not database:
        raise ImportFailed(
            f"the source must be a URL mysql://user:password@host:port/database, not {_safe(url)!r}"
        )
    return f"mysql://{parts.hostname}:{parts.port or 3306}/{database}"


def _safe(url: str) -> str:
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def connect(url: str):
    """A PyMySQL connection (dict rows, UTC timestamps) to the database of ``url``.
    Raises :class:`ImportFailed`."""
    import pymysql

    source_name(url)  # validates
    parts = urlsplit(url)
    try:
        return pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/")),
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=10,
            read_timeout=300,
            init_command="SET time_zone = '+00:00'",
            cursorclass=pymysql.cursors.DictCursor,
        )
    except pymysql.Error as exc:
        raise ImportFailed(f"cannot connect to {source_name(url)}: {exc}") from None


def import_runs(url: str, organization, *, batch: int = BATCH) -> ImportReport:
    """Import the runs of the wmfbackups database at ``url`` into ``organization``; returns
    what was done. Raises :class:`ImportFailed` when the source cannot be read, or when its
    rows were imported into another organization; rows read before stay imported."""
    import pymysql

    key = source_name(url)
    elsewhere = BackupRun.objects.filter(imported_from=key).exclude(organization=organization).first()
    if elsewhere is not None:
        raise ImportFailed(f"{key} is imported into organization {elsewhere.organization} already")
    report = ImportReport(source=key)
    jobs: dict[tuple[str, str, str], BackupJob] = {}
    connection = connect(url)
    try:
        with judged_at_end(), connection.cursor() as cursor:
            ongoing = sorted(
                BackupRun.objects.filter(imported_from=key, status=RunStatus.ONGOING).values_list(
                    "imported_id", flat=True
                )
            )
            for start in range(0, len(ongoing), batch):
                ids = ongoing[start : start + batch]
                rows = _select(cursor, f"SELECT {RUN_COLUMNS} FROM backups WHERE id IN %s ORDER BY id", [ids])
                _import_batch(cursor, rows, organization, key, jobs, report)
            last = BackupRun.objects.filter(imported_from=key).aggregate(Max("imported_id"))[
                "imported_id__max"
            ]
            last = last or 0
            while True:
                rows = _select(
                    cursor,
                    f"SELECT {RUN_COLUMNS} FROM backups WHERE id > %s ORDER BY id LIMIT %s",
                    [last, batch],
                )
                if not rows:
                    break
                _import_batch(cursor, rows, organization, key, jobs, report)
                last = rows[-1]["id"]
    except pymysql.Error as exc:
        raise ImportFailed(f"cannot read {key}: {exc}") from None
    finally:
        connection.close()
    return report


def _select(cursor, query: str, args) -> list[dict]:
    cursor.execute(query, args)
    return list(cursor.fetchall())


def _import_batch(cursor, rows, organization, key, jobs, report) -> None:
    ids = [row["id"] for row in rows]
    files: dict[int, list[FileEntry]] = defaultdict(list)
    for row in _select(
        cursor,
        "SELECT backup_id, file_path, file_name, size, file_date FROM backup_files WHERE backup_id IN %s",
        [ids],
    ):
        files[row["backup_id"]].append(
            FileEntry(row["file_path"] or "", row["file_name"] or "", row["size"], _utc(row["file_date"]))
        )
    objects: dict[int, list[ObjectEntry]] = defaultdict(list)
    for row in _select(
        cursor, "SELECT backup_id, db, name, size FROM backup_objects WHERE backup_id IN %s", [ids]
    ):
        objects[row["backup_id"]].append(ObjectEntry(row["db"] or "", row["name"] or "", row["size"]))
    for row in rows:
        problem = _problem(row)
        if problem:
            report.skipped.append(f"backups.id {row['id']}: {problem}")
            continue
        # The job first, outside the row's transaction: a row refused later leaves no job in a
        # cache whose row was rolled back.
        job = _job(row, organization, jobs, report)
        try:
            with transaction.atomic():
                outcome = _import_row(row, job, files[row["id"]], objects[row["id"]], key)
            setattr(report, outcome, getattr(report, outcome) + 1)
        except (RunRefused, RunConflict) as exc:
            detail = getattr(exc, "errors", None) or {}
            more = "; ".join(message for messages in detail.values() for message in messages)
            report.skipped.append(f"backups.id {row['id']}: {exc}" + (f" ({more})" if more else ""))


def _problem(row: dict) -> str:
    """Why a row cannot be a run, or ``""``."""
    if row["status"] not in RunStatus.values:
        return f"status {row['status']!r} is not one of {', '.join(RunStatus.values)}"
    if row["type"] not in BackupType.values:
        return f"type {row['type']!r} is not one of {', '.join(BackupType.values)}"
    if not row["section"] or not re.match(NAME_PATTERN, row["section"]) or len(row["section"]) > 100:
        return f"section {row['section']!r} is not a section name"
    if _utc(row["start_date"]) is None:
        return f"start_date {row['start_date']!r} is not a date"
    return ""


def _job(row: dict, organization, jobs: dict, report: ImportReport) -> BackupJob:
    from fleetwatch.backups.datacenters import datacenter_of

    cell = (row["section"], row["type"], datacenter_of(row["host"]))
    if cell not in jobs:
        section, type, datacenter = cell
        job, created = BackupJob.objects.get_or_create(
            organization=organization, section=section, type=type, datacenter=datacenter
        )
        if created:
            report.jobs_created.append(job.name)
        jobs[cell] = job
    return jobs[cell]


def _import_row(row, job, files, objects, key) -> str:
    """Import one row; which count of the report it adds to."""
    run = BackupRun.objects.filter(imported_from=key, imported_id=row["id"]).first()
    start = _utc(row["start_date"])
    if run is None:
        run, created = open_run(
            job,
            start_date=start,
            name=row["name"] or None,
            source=row["source"] or "",
            host=row["host"] or "",
            run_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{key}#{row['id']}"),
            origin=Origin.IMPORT,
        )
        if not created:
            raise RunConflict(f"{job} has a run named {run.name} already (not imported from here)")
        BackupRun.objects.filter(pk=run.pk).update(imported_from=key, imported_id=row["id"])
        run.imported_from, run.imported_id = key, row["id"]
        outcome = "created"
    else:
        outcome = "still_ongoing" if row["status"] == RunStatus.ONGOING else "closed"
    if row["status"] == RunStatus.ONGOING:
        if files or objects or row["total_size"] is not None:
            attach_files(run, files, objects, total_size=row["total_size"])
        return outcome
    close_run(
        run,
        row["status"],
        # A closed row without an end (never written by wmfbackups) ends when it started.
        end_date=_utc(row["end_date"]) or start,
        total_size=row["total_size"],
        files=files,
        objects=objects,
    )
    return outcome


def _utc(value) -> datetime | None:
    """A naive UTC ``datetime`` from the source as an aware one; anything else (a zero date
    PyMySQL cannot convert, NULL) as None."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else None
