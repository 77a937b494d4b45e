"""The life of a backup run (reference A.3): open it (``ongoing``), attach its files, close it
(``finished``, ``failed`` or ``deleted``). Every way in (the REST API, the ping URLs, ``fleetwatch
backup run``, the wmfbackups import) goes through these functions, so the rules hold for all:

* **Validation first.** Everything is checked before anything is written; :class:`RunRefused`
  (a 400) means nothing was stored, :class:`RunConflict` (a 409) that the run's stored state
  contradicts the request (closing a finished run as failed).
* **Idempotent.** Runners retry: opening the same run again (same name, or same ``run_id``)
  answers the stored run; attaching the same files again stores them once; closing a run again
  with the same outcome answers the stored run unchanged.
* After a run is closed, :data:`fleetwatch.backups.signals.run_closed` is sent once (on commit):
  the time series and the checks listen to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from fleetwatch.backups import pending
from fleetwatch.backups.datacenters import datacenter_of
from fleetwatch.backups.models import (
    CLOSED_STATUSES,
    LOG_LIMIT,
    BackupFile,
    BackupJob,
    BackupObject,
    BackupRun,
    Origin,
    RunStatus,
)
from fleetwatch.backups.signals import run_closed

MAX_FILES = 100_000  # files in one request (a mydumper run of a big section has ~tens of thousands)
PATH_LIMIT = 300  # characters of file_path and file_name (A.2's varchar(300))


class RunRefused(ValueError):
    """A request that can never be accepted; nothing was written. ``errors`` maps a field name
    to its messages, as the REST layer's ``{"detail", "errors"}`` shape does."""

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class RunConflict(Exception):
    """The stored run contradicts the request (e.g. it was already closed otherwise)."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a run's output: ``file_path`` relative to the backup's root (``""`` at the
    top), ``size`` in bytes (None if unknown), ``file_date`` its modification time."""

    file_path: str
    file_name: str
    size: int | None = None
    file_date: datetime | None = None


@dataclass(frozen=True)
class ObjectEntry:
    """A database (``db``) or one of its tables (``name``) in a run, ``size`` in bytes."""

    db: str
    name: str = ""
    size: int | None = None


def run_name(type: str, section: str, start: datetime) -> str:
    """``dump.s4.2021-05-25--01-51-00``: wmfbackups' directory and run name (A.3), in UTC."""
    moment = start.astimezone(UTC) if timezone.is_aware(start) else start
    return f"{type}.{section}.{moment:%Y-%m-%d--%H-%M-%S}"


def find_job(
    organization, section: str, type: str, datacenter: str | None = None, host: str = ""
) -> BackupJob:
    """The organization's job for ``(section, type, datacenter)``; the datacenter, when not
    given, is derived from ``host`` (:func:`fleetwatch.backups.datacenters.datacenter_of`).

    Raises :class:`RunRefused` naming what the matrix does not know (the section, or the
    combination, listing what it has), so a typo never creates a job nobody checks."""
    if datacenter is None:
        datacenter = datacenter_of(host)
    jobs = list(BackupJob.objects.filter(organization=organization, section=section))
    if not jobs:
        known = sorted(
            set(BackupJob.objects.filter(organization=organization).values_list("section", flat=True))
        )
        listed = ", ".join(known[:20]) + (" …" if len(known) > 20 else "") if known else "none yet"
        raise RunRefused(
            f"'{section}' is not a section of the monitoring matrix of {organization}.",
            {"section": [f"'{section}' is not a section of the monitoring matrix (known: {listed})."]},
        )
    for job in jobs:
        if job.type == type and job.datacenter == datacenter:
            return job
    cells = ", ".join(job.name for job in jobs)
    where = f" in {datacenter}" if datacenter else " without a datacenter"
    raise RunRefused(
        f"{type} of {section}{where} is not in the monitoring matrix.",
        {"type": [f"{type} of {section}{where} is not in the monitoring matrix (it has: {cells})."]},
    )


def bounded_log(text: str | bytes | None, keep: str = "head") -> str:
    """At most :data:`LOG_LIMIT` bytes of ``text`` as UTF-8 (its ``head``, as Healthchecks keeps
    a ping body's first 100,000 bytes, or its ``tail``, for a command's output), never cutting a
    character in two; undecodable bytes are replaced."""
    data = text.encode() if isinstance(text, str) else (text or b"")
    if len(data) > LOG_LIMIT:
        data = data[:LOG_LIMIT] if keep == "head" else data[-LOG_LIMIT:]
    return data.decode("utf-8", errors="ignore" if len(data) == LOG_LIMIT else "replace").replace("\x00", "")


def open_run(
    job: BackupJob,
    *,
    start_date: datetime | None = None,
    name: str | None = None,
    source: str = "",
    host: str = "",
    run_id: uuid.UUID | None = None,
    origin: str = Origin.API,
) -> tuple[BackupRun, bool]:
    """Open an ``ongoing`` run of ``job`` (A.3 step 2); returns ``(run, created)``.

    The same ``name`` (default :func:`run_name` of the start) or the same ``run_id`` again is
    the same run, whatever its status now: a retry answers what is stored. ``source`` loses a
    default ``:3306`` as wmfbackups writes it."""
    start_date = start_date or timezone.now()
    name = name or run_name(job.type, job.section, start_date)
    _check_lengths(name=(name, 100), source=(source, 100), host=(host, 300))
    existing = _existing(job, name, run_id)
    if existing is not None:
        return existing, False
    if source.endswith(":3306"):
        source = source[: -len(":3306")]
    try:
        with transaction.atomic():
            run = BackupRun.objects.create(
                organization_id=job.organization_id,
                job=job,
                name=name,
                status=RunStatus.ONGOING,
                source=source,
                host=host,
                type=job.type,
                section=job.section,
                datacenter=job.datacenter,
                start_date=start_date,
                run_id=run_id,
                origin=origin,
            )
    except IntegrityError:
        # A concurrent retry of the same open won the race: answer its row.
        existing = _existing(job, name, run_id)
        if existing is None:
            raise
        return existing, False
    return run, True


def _existing(job: BackupJob, name: str, run_id) -> BackupRun | None:
    if run_id is not None:
        found = BackupRun.objects.filter(job=job, run_id=run_id).first()
        if found is not None:
            return found
    return BackupRun.objects.filter(job=job, name=name).first()


def _check_lengths(**values: tuple[str, int]) -> None:
    errors = {
        field: [f"At most {limit} characters."]
        for field, (value, limit) in values.items()
        if len(value) > limit
    }
    if errors:
        raise RunRefused("A value is too long.", errors)


def validate_files(files: Iterable[FileEntry]) -> list[FileEntry]:
    """The entries as a list, or :class:`RunRefused` for a negative size, an empty or too long
    name, or a path given twice (the inventory is keyed by ``(file_path, file_name)``, A.2)."""
    files = list(files)
    if len(files) > MAX_FILES:
        raise RunRefused(
            f"At most {MAX_FILES} files in one request.", {"files": [f"At most {MAX_FILES} files."]}
        )
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(files):
        key = (entry.file_path, entry.file_name)
        if not entry.file_name:
            problems.append(f"files[{index}]: file_name must not be empty.")
        if len(entry.file_path) > PATH_LIMIT or len(entry.file_name) > PATH_LIMIT:
            problems.append(f"files[{index}]: file_path and file_name have at most {PATH_LIMIT} characters.")
        if entry.size is not None and entry.size < 0:
            problems.append(f"files[{index}]: size must not be negative ({entry.size}).")
        if key in seen:
            shown = "/".join(part for part in key if part)
            problems.append(f"files[{index}]: {shown} is listed twice.")
        seen.add(key)
        if len(problems) >= 20:
            break
    if problems:
        raise RunRefused("The file list cannot be stored.", {"files": problems})
    return files


def validate_objects(objects: Iterable[ObjectEntry]) -> list[ObjectEntry]:
    """Like :func:`validate_files` for database objects, keyed by ``(db, name)``."""
    objects = list(objects)
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(objects):
        if not entry.db or len(entry.db) > 100 or len(entry.name) > 100:
            problems.append(f"objects[{index}]: db is required; db and name have at most 100 characters.")
        if entry.size is not None and entry.size < 0:
            problems.append(f"objects[{index}]: size must not be negative ({entry.size}).")
        if (entry.db, entry.name) in seen:
            problems.append(f"objects[{index}]: {entry.db}.{entry.name} is listed twice.")
        seen.add((entry.db, entry.name))
    if problems:
        raise RunRefused("The object list cannot be stored.", {"objects": problems[:20]})
    return objects


def attach_files(
    run: BackupRun,
    files: Iterable[FileEntry] = (),
    objects: Iterable[ObjectEntry] = (),
    total_size: int | None = None,
) -> BackupRun:
    """Store a run's file inventory (A.3 step 4: ``gather_metrics``): each ``(file_path,
    file_name)`` once, a retry or a later call updating size and date. ``total_size`` (bytes)
    defaults to the sum of the known file sizes when files are given.

    Only while the run is ``ongoing``: a closed run's inventory is what it was closed with
    (:class:`RunConflict` otherwise). Raises :class:`RunRefused` before writing anything."""
    files = validate_files(files)
    objects = validate_objects(objects)
    if total_size is not None and total_size < 0:
        raise RunRefused("total_size must not be negative.", {"total_size": ["Must not be negative."]})
    if run.status != RunStatus.ONGOING:
        raise RunConflict(
            f"Run {run.name} is {run.status}: files are attached before it is closed (or with the close)."
        )
    with transaction.atomic():
        _store_inventory(run, files, objects, total_size)
    return run


def _store_inventory(run, files, objects, total_size) -> None:
    if files:
        BackupFile.objects.bulk_create(
            [
                BackupFile(
                    run=run, file_path=f.file_path, file_name=f.file_name, size=f.size, file_date=f.file_date
                )
                for f in files
            ],
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["run", "file_path", "file_name"],
            update_fields=["size", "file_date"],
        )
        if total_size is None:
            total_size = sum(f.size for f in files if f.size is not None)
    if objects:
        BackupObject.objects.bulk_create(
            [BackupObject(run=run, db=o.db, name=o.name, size=o.size) for o in objects],
            update_conflicts=True,
            unique_fields=["run", "db", "name"],
            update_fields=["size"],
        )
    if total_size is not None and total_size != run.total_size:
        run.total_size = total_size
        BackupRun.objects.filter(pk=run.pk).update(total_size=total_size)


def close_run(
    run: BackupRun,
    status: str,
    *,
    end_date: datetime | None = None,
    total_size: int | None = None,
    files: Iterable[FileEntry] = (),
    objects: Iterable[ObjectEntry] = (),
    exit_status: int | None = None,
    log: str | bytes | None = None,
) -> tuple[BackupRun, bool]:
    """Close ``run`` as ``finished``, ``failed`` or ``deleted`` (A.3 step 6), with its files,
    total size (bytes), exit status and log (bounded to :data:`LOG_LIMIT` bytes); returns
    ``(run, changed)``.

    Closing again with the same status is a retry: the stored run is answered unchanged
    (``changed`` False). A different status, or a ``deleted`` run being finished, raises
    :class:`RunConflict`; a status that is not a closing one, an end before the start or a bad
    file list raise :class:`RunRefused`, before anything is written."""
    if status not in CLOSED_STATUSES:
        choices = ", ".join(CLOSED_STATUSES)
        raise RunRefused(f"status must be one of {choices}.", {"status": [f"Must be one of {choices}."]})
    files = validate_files(files)
    objects = validate_objects(objects)
    if total_size is not None and total_size < 0:
        raise RunRefused("total_size must not be negative.", {"total_size": ["Must not be negative."]})
    end_date = end_date or timezone.now()
    with transaction.atomic():
        run = BackupRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RunStatus.ONGOING:
            if run.status == status:
                return run, False
            if run.status == RunStatus.FINISHED and status == RunStatus.DELETED:
                pass  # a finished backup purged later (A.3: rotation) ends its life as deleted
            else:
                raise RunConflict(
                    f"Run {run.name} was already closed as {run.status}; it cannot become {status}."
                )
        if end_date < run.start_date:
            raise RunRefused(
                "end_date is before the run's start.",
                {"end_date": [f"Must not be before the start ({run.start_date.isoformat()})."]},
            )
        if run.status == RunStatus.ONGOING:
            _store_inventory(run, files, objects, total_size)
            run.end_date = end_date
            if exit_status is not None:
                run.exit_status = exit_status
            if log:
                run.log = bounded_log(log, keep="tail")
        run.status = status
        run.save(update_fields=["status", "end_date", "exit_status", "log", "total_size"])
        pending.mark(run.job_id)  # judged again by the worker's next pass
        transaction.on_commit(lambda: run_closed.send(sender=BackupRun, run=run))
    return run, True


def append_log(run: BackupRun, text: str | bytes | None) -> tuple[BackupRun, bool]:
    """Add ``text`` to ``run``'s log without changing anything else (a Healthchecks ``/log``
    ping: an event that changes no state); returns ``(run, changed)``.

    The log keeps its first :data:`LOG_LIMIT` bytes (what came first stays). The same text
    again, when the log already ends with it, is a retry: nothing changes."""
    addition = bounded_log(text, keep="head")
    if not addition:
        return run, False
    with transaction.atomic():
        run = BackupRun.objects.select_for_update().get(pk=run.pk)
        if run.log.endswith(addition):
            return run, False
        combined = f"{run.log}\n{addition}" if run.log else addition
        log = bounded_log(combined, keep="head")
        if log == run.log:
            return run, False
        run.log = log
        run.save(update_fields=["log"])
    return run, True
