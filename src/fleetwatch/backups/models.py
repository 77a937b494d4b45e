"""Backup jobs (the monitoring matrix), their runs, files and objects, runner tokens, and the
state of each job's checks.

The shapes follow wmfbackups' metadata database (reference A.2: ``backups``, ``backup_files``,
``backup_objects``), with what it lacks: the ``deleted`` status in the enum, the datacenter as
a column (wmfbackups derives it from the host's FQDN each time), the run's log and exit status,
where a run came from, and the job it belongs to. A job is one cell of the matrix
(section × type × datacenter) with its thresholds, as Puppet's hiera holds them for the checks
(A.4, A.7); a run always belongs to one, so a section the matrix does not know is refused.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from fleetwatch.inventory.models import Organization, OrgScopedQuerySet
from fleetwatch.monitoring.models import HealthStatus

# Section and datacenter names: what wmfbackups' sections and the FQDN labels use.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
name_validator = RegexValidator(
    NAME_PATTERN, "Use letters, digits, '_', '-' and '.', starting with a letter or digit."
)

DAY = 86400
# Per-type freshness (seconds): the dashboard's (bernard) and the check's code defaults (A.4, A.7).
DEFAULT_FRESHNESS = {"dump": 8 * DAY, "snapshot": 3 * DAY, "cold": 8 * DAY}
DEFAULT_MIN_SIZE = 300 * 1024  # 300 KiB, A.4 (the code's intent; its argparse default is a bug)
DEFAULT_WARN_PERCENTAGE = 5.0
DEFAULT_CRIT_PERCENTAGE = 15.0
DEFAULT_MAX_DURATION = 12 * 3600  # A.5 MAX_HOURS 12.0
LOG_LIMIT = 100_000  # bytes of a run's log kept, as Healthchecks keeps of a ping body


class BackupType(models.TextChoices):
    DUMP = "dump", "dump"  # logical: mydumper, mariadb-dump, pg_dump
    SNAPSHOT = "snapshot", "snapshot"  # physical: mariabackup, xtrabackup, pg_basebackup
    COLD = "cold", "cold"  # a copy of a stopped server's files


class RunStatus(models.TextChoices):
    ONGOING = "ongoing", "ongoing"
    FINISHED = "finished", "finished"
    FAILED = "failed", "failed"
    DELETED = "deleted", "deleted"


CLOSED_STATUSES = (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.DELETED)


class Schedule(models.TextChoices):
    """How often a job is expected to run (A.6's JobDefs prefixes): it sets the schedule check's
    expected freshness and the dashboard's next expected run. Blank: no schedule check."""

    NONE = "", "none"
    HOURLY = "hourly", "hourly"
    DAILY = "daily", "daily"
    WEEKLY = "weekly", "weekly"
    MONTHLY = "monthly", "monthly"


class Origin(models.TextChoices):
    API = "api", "REST API"
    PING = "ping", "ping URL"
    CLI = "cli", "fleetwatch backup run"
    IMPORT = "import", "wmfbackups import"


# The origins a runner may name when it opens a run (pings and the import set their own).
RUNNER_ORIGINS = (Origin.API, Origin.CLI)


class BackupJobQuerySet(OrgScopedQuerySet):
    pass


class BackupJob(models.Model):
    """One cell of the monitoring matrix: a ``type`` of backup of a ``section`` in a
    ``datacenter`` (``""`` for a job that is not tied to one, e.g. a cron job that only pings),
    with the thresholds of its checks. ``id`` is also its ping URL's UUID."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="backup_jobs")
    section = models.CharField(max_length=100, validators=[name_validator])
    type = models.CharField(max_length=10, choices=BackupType.choices, default=BackupType.DUMP)
    datacenter = models.CharField(max_length=64, blank=True, validators=[name_validator])
    # A.4 thresholds; freshness defaults per type (DEFAULT_FRESHNESS) when created.
    freshness = models.PositiveIntegerField(
        help_text="Seconds: the latest finished run must have started within this.",
        validators=[MinValueValidator(60)],
    )
    min_size = models.PositiveBigIntegerField(default=DEFAULT_MIN_SIZE, help_text="Bytes.")
    warn_size_percentage = models.FloatField(
        default=DEFAULT_WARN_PERCENTAGE, validators=[MinValueValidator(0)]
    )
    crit_size_percentage = models.FloatField(
        default=DEFAULT_CRIT_PERCENTAGE, validators=[MinValueValidator(0)]
    )
    # A.5: a run longer than this (seconds) is reported as long-running.
    max_duration = models.PositiveIntegerField(
        default=DEFAULT_MAX_DURATION, validators=[MinValueValidator(60)]
    )
    schedule = models.CharField(max_length=10, choices=Schedule.choices, blank=True, default="")
    is_active = models.BooleanField(default=True, help_text="Inactive jobs are not checked.")
    # The worst of its checks' statuses (fleetwatch.monitoring's health vocabulary), kept by
    # the check runner so lists and the dashboard need no evaluation.
    status = models.CharField(max_length=12, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN)
    # A run of the job closed since its checks were last judged: the worker's next pass judges
    # it (fleetwatch.backups.pending), so a ping or a runner's close stays a few writes.
    needs_check = models.BooleanField(default=False, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    objects = BackupJobQuerySet.as_manager()

    class Meta:
        ordering = ["section", "type", "datacenter"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "section", "type", "datacenter"], name="one_job_per_matrix_cell"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.freshness is None:
            self.freshness = DEFAULT_FRESHNESS.get(self.type, DEFAULT_FRESHNESS["dump"])
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        """``"dump of s1 in eqiad"``: the Icinga service description of A.4."""
        where = f" in {self.datacenter}" if self.datacenter else ""
        return f"{self.type} of {self.section}{where}"


class BackupRunQuerySet(OrgScopedQuerySet):
    pass


class BackupRun(models.Model):
    """One backup run (A.2 ``backups``), from ``ongoing`` to ``finished``, ``failed`` or
    ``deleted``. ``section``, ``type`` and ``datacenter`` are the job's (kept on the row so
    filters and the A.7 answers need no join). Sizes are bytes; dates are aware datetimes."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(BackupJob, on_delete=models.CASCADE, related_name="runs")
    # ``<type>.<section>.<YYYY-MM-DD--HH-MM-SS>`` (A.3) unless the runner names it otherwise.
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.ONGOING)
    source = models.CharField(max_length=100, blank=True)  # fqdn[:port] of the server backed up
    host = models.CharField(max_length=300, blank=True)  # fqdn of the machine taking the backup
    type = models.CharField(max_length=10, choices=BackupType.choices)
    section = models.CharField(max_length=100)
    datacenter = models.CharField(max_length=64, blank=True)
    start_date = models.DateTimeField()
    end_date = models.DateTimeField(null=True, blank=True)
    total_size = models.PositiveBigIntegerField(null=True, blank=True)
    exit_status = models.SmallIntegerField(null=True, blank=True)
    log = models.TextField(blank=True)  # at most LOG_LIMIT bytes (its tail for a command's output)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.API)
    # Healthchecks' ``rid`` (pairs a start with its end) or the runner's retry key.
    run_id = models.UUIDField(null=True, blank=True)
    # An imported row: the metadata database it came from and its id there.
    imported_from = models.CharField(max_length=200, blank=True)
    imported_id = models.PositiveBigIntegerField(null=True, blank=True)
    # Whether a closed run's size and duration are in the time-series store: a store that was
    # down when the run closed is caught up later (fleetwatch.backups.series).
    charted = models.BooleanField(default=False)

    objects = BackupRunQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "name"], name="one_run_per_job_and_name"),
            models.UniqueConstraint(
                fields=["job", "run_id"], condition=Q(run_id__isnull=False), name="one_run_per_run_id"
            ),
            models.UniqueConstraint(
                fields=["imported_from", "imported_id"],
                condition=Q(imported_id__isnull=False),
                name="one_run_per_imported_row",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="run_ends_after_start",
            ),
        ]
        indexes = [
            # The checks' query (A.4: the last finished runs of a job, newest first).
            models.Index(fields=["job", "status", "-start_date"], name="backup_run_last"),
            models.Index(fields=["organization", "-start_date"], name="backup_run_org_time"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while ongoing."""
        if self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()


class BackupFileQuerySet(OrgScopedQuerySet):
    org_path = "run__organization"


class BackupFile(models.Model):
    """One file or directory of a run's output (A.2 ``backup_files``): ``file_path`` is the
    directory relative to the backup's root (``""`` at the top), ``size`` bytes, ``file_date``
    its modification time."""

    run = models.ForeignKey(BackupRun, on_delete=models.CASCADE, related_name="files")
    file_path = models.CharField(max_length=300, blank=True)
    file_name = models.CharField(max_length=300)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    file_date = models.DateTimeField(null=True, blank=True)

    objects = BackupFileQuerySet.as_manager()

    class Meta:
        ordering = ["file_path", "file_name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "file_path", "file_name"], name="one_row_per_file")
        ]

    def __str__(self) -> str:
        return f"{self.file_path}/{self.file_name}" if self.file_path else self.file_name


class BackupObject(models.Model):
    """A database object in a run (A.2 ``backup_objects``: a database ``db`` and optionally a
    table ``name``), with its size in bytes."""

    run = models.ForeignKey(BackupRun, on_delete=models.CASCADE, related_name="db_objects")
    db = models.CharField(max_length=100)
    name = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["db", "name"]
        constraints = [models.UniqueConstraint(fields=["run", "db", "name"], name="one_row_per_object")]

    def __str__(self) -> str:
        return f"{self.db}.{self.name}" if self.name else self.db


class CheckKind(models.TextChoices):
    FRESHNESS = "freshness", "freshness and size"  # A.4
    LONG_RUNNING = "long_running", "long-running runs"  # A.5
    SCHEDULE = "schedule", "schedule"  # A.6


class JobCheck(models.Model):
    """The latest result of one check of a job, and since when it holds: a notification goes
    out when ``status`` changes (once per change), ``notified`` says whether the problem was
    told (a recovery is told exactly when its problem was, as for devices). ``status`` is a
    Nagios code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""

    job = models.ForeignKey(BackupJob, on_delete=models.CASCADE, related_name="checks")
    kind = models.CharField(max_length=16, choices=CheckKind.choices)
    status = models.PositiveSmallIntegerField()
    message = models.CharField(max_length=500)
    since = models.DateTimeField()
    checked = models.DateTimeField()
    notified = models.BooleanField(default=False)

    class Meta:
        ordering = ["job", "kind"]
        constraints = [models.UniqueConstraint(fields=["job", "kind"], name="one_result_per_check")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.job}: {self.status}"


TOKEN_PREFIX = "fwb_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RunnerTokenQuerySet(OrgScopedQuerySet):
    def authenticate(self, token: str):
        """The active token row matching ``token`` (its organization selected), or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        return self.select_related("organization").filter(key_hash=hash_token(token), is_active=True).first()


class RunnerToken(models.Model):
    """A per-organization credential of backup runners (``Authorization: Bearer fwb_…``): it may
    open, update and close runs of its organization's jobs, nothing else. Only its SHA-256 is
    stored; the token itself is shown once, when created (:meth:`issue`)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="runner_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)  # shown in lists to tell tokens apart
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    objects = RunnerTokenQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, organization: Organization, name: str) -> tuple[RunnerToken, str]:
        """Create a token; returns the row and the token text (never stored in clear)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(30)
        row = cls.objects.create(
            organization=organization, name=name, key_hash=hash_token(token), prefix=token[:10]
        )
        return row, token
