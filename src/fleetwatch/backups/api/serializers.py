"""Bodies of the backups API: jobs, runs (with the lifecycle's requests: open, files, close),
their files, checks and runner tokens. Sizes are bytes, durations seconds, dates ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fleetwatch.api.fields import ScopedPrimaryKeyRelatedField
from fleetwatch.backups.api.access import scope_for
from fleetwatch.backups.evaluation import STATUS_NAMES
from fleetwatch.backups.models import (
    CLOSED_STATUSES,
    RUNNER_ORIGINS,
    BackupFile,
    BackupJob,
    BackupRun,
    BackupType,
    JobCheck,
    Origin,
    RunnerToken,
)
from fleetwatch.backups.runs import MAX_FILES, FileEntry, ObjectEntry
from fleetwatch.inventory.models import Organization
from fleetwatch.notifications.links import base_url

BIG = 2**63 - 1  # a signed 64-bit integer: what every database stores
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # A.2's TIMESTAMP columns start there
CLOCK_AHEAD = timedelta(days=1)  # a runner's clock may be ahead of ours, not by more


class Text(serializers.CharField):
    """A ``CharField`` that refuses what no database stores: lone surrogates (``"\\ud800"`` in
    JSON), as well as NUL (DRF's own rule)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("invalid")
        return value


class LogText(Text):
    """A log: kept whatever it holds, but NUL characters, which no database text column keeps,
    are dropped (a command's output may contain them)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.replace("\x00", "")
        return super().to_internal_value(data)


class Moment(serializers.DateTimeField):
    """A date of a run: aware, not before 1970 and not more than a day ahead of the server."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:
            raise serializers.ValidationError("Datetime value out of range.") from None
        if utc < EARLIEST:
            raise serializers.ValidationError("Must not be before 1970-01-01T00:00:00Z.")
        if utc > timezone.now() + CLOCK_AHEAD:
            raise serializers.ValidationError("Must not be more than a day ahead of the server's clock.")
        return moment


@extend_schema_field(OpenApiTypes.UUID)
class ScopedJobField(serializers.PrimaryKeyRelatedField):
    """A job's id among the caller's jobs (a runner: its organization's): another
    organization's job is answered as an unknown id, 400."""

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return scope_for(BackupJob.objects.select_related("organization"), user)


class CheckSerializer(serializers.ModelSerializer):
    status_name = serializers.SerializerMethodField()

    class Meta:
        model = JobCheck
        fields = ["kind", "status", "status_name", "message", "since", "checked"]
        read_only_fields = fields

    def get_status_name(self, check) -> str:
        """``OK``, ``WARNING``, ``CRITICAL`` or ``UNKNOWN`` (the Nagios names of ``status``)."""
        return STATUS_NAMES.get(check.status, "UNKNOWN")


def ping_url(job: BackupJob, request=None) -> str:
    """The job's Healthchecks-style ping URL, absolute (``fleetwatch.notifications.links``)."""
    return f"{base_url(request)}/ping/{job.pk}"


class BackupJobSerializer(serializers.ModelSerializer):
    """A cell of the monitoring matrix. ``freshness`` defaults per type (dump 8 days, snapshot
    3 days); ``status`` is the worst of its ``checks`` (kept by the check runner)."""

    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all())
    section = Text(max_length=100)
    datacenter = Text(max_length=64, required=False, allow_blank=True)
    freshness = serializers.IntegerField(min_value=60, max_value=2**31 - 1, required=False)
    min_size = serializers.IntegerField(min_value=0, max_value=BIG, required=False)
    warn_size_percentage = serializers.FloatField(min_value=0, max_value=1e6, required=False)
    crit_size_percentage = serializers.FloatField(min_value=0, max_value=1e6, required=False)
    max_duration = serializers.IntegerField(min_value=60, max_value=2**31 - 1, required=False)
    ping_url = serializers.SerializerMethodField()
    checks = CheckSerializer(many=True, read_only=True)

    class Meta:
        model = BackupJob
        fields = [
            "id",
            "organization",
            "name",
            "section",
            "type",
            "datacenter",
            "freshness",
            "min_size",
            "warn_size_percentage",
            "crit_size_percentage",
            "max_duration",
            "schedule",
            "is_active",
            "status",
            "ping_url",
            "checks",
            "created",
        ]
        read_only_fields = ["id", "name", "status", "ping_url", "checks", "created"]
        # The (organization, section, type, datacenter) uniqueness is checked in validate(), with
        # a message naming the cell (DRF's generic validator would make datacenter required).
        validators: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model's validators again (the section and datacenter pattern).
        model_validators = {f.name: f.validators for f in BackupJob._meta.fields}
        for name in ("section", "datacenter"):
            self.fields[name].validators = [*self.fields[name].validators, *model_validators[name]]

    def get_ping_url(self, job) -> str:
        return ping_url(job, self.context.get("request"))

    def validate(self, attrs):
        def value(name, default=None):
            return attrs.get(name, getattr(self.instance, name, default))

        warn, crit = value("warn_size_percentage"), value("crit_size_percentage")
        if warn is not None and crit is not None and warn > crit:
            raise serializers.ValidationError(
                {"warn_size_percentage": "Must not be above crit_size_percentage."}
            )
        organization = value("organization")
        cell = {
            "section": value("section"),
            "type": value("type", BackupType.DUMP),
            "datacenter": value("datacenter", ""),
        }
        if organization is not None:
            others = BackupJob.objects.filter(organization=organization, **cell)
            if self.instance is not None:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                where = f" in {cell['datacenter']}" if cell["datacenter"] else ""
                raise serializers.ValidationError(
                    {"section": f"{cell['type']} of {cell['section']}{where} is already a job."}
                )
        return attrs


class BackupRunSerializer(serializers.ModelSerializer):
    """A run as lists show it (without its log and files)."""

    duration = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Seconds, null while ongoing."
    )

    class Meta:
        model = BackupRun
        fields = [
            "id",
            "organization",
            "job",
            "name",
            "status",
            "source",
            "host",
            "type",
            "section",
            "datacenter",
            "start_date",
            "end_date",
            "duration",
            "total_size",
            "exit_status",
            "origin",
            "run_id",
        ]
        read_only_fields = fields

    def to_representation(self, run) -> dict:
        """The declared fields, written out by hand: DRF's generic loop over them took 55 ms for
        the 500 runs of ``recent/all`` (the benchmark's matrix), this a tenth of it.
        ``tests/backups/test_api.py`` holds both to the same output."""
        date = DATES.to_representation
        return {
            "id": run.pk,
            "organization": str(run.organization_id),
            "job": str(run.job_id),
            "name": run.name,
            "status": run.status,
            "source": run.source,
            "host": run.host,
            "type": run.type,
            "section": run.section,
            "datacenter": run.datacenter,
            "start_date": date(run.start_date),
            "end_date": None if run.end_date is None else date(run.end_date),
            "duration": run.duration,
            "total_size": run.total_size,
            "exit_status": run.exit_status,
            "origin": run.origin,
            "run_id": None if run.run_id is None else str(run.run_id),
        }


DATES = serializers.DateTimeField()  # ISO 8601 in the request's time zone, as the declared fields


class ObjectSerializer(serializers.Serializer):
    db = Text(max_length=100)
    name = Text(max_length=100, required=False, allow_blank=True, default="")
    size = serializers.IntegerField(min_value=-BIG, max_value=BIG, required=False, allow_null=True)


class BackupRunDetailSerializer(BackupRunSerializer):
    """A run with its log, its database objects and the number of its files (the files
    themselves: ``runs/<id>/files/``, paginated)."""

    log = serializers.CharField(read_only=True)
    files_count = serializers.SerializerMethodField()
    objects = serializers.SerializerMethodField()

    class Meta(BackupRunSerializer.Meta):
        fields = [*BackupRunSerializer.Meta.fields, "files_count", "objects", "log"]
        read_only_fields = fields

    def to_representation(self, run) -> dict:
        return {
            **super().to_representation(run),
            "files_count": self.get_files_count(run),
            "objects": self.get_objects(run),
            "log": run.log,
        }

    def get_objects(self, run) -> list[dict]:
        return [{"db": o.db, "name": o.name, "size": o.size} for o in run.db_objects.all()]

    def get_files_count(self, run) -> int:
        return run.files.count()


class BackupFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = BackupFile
        fields = ["file_path", "file_name", "size", "file_date"]
        read_only_fields = fields


class FileInputSerializer(serializers.Serializer):
    """One file: ``file_path`` relative to the backup's root (``""`` at the top), ``size`` bytes
    (a negative one is refused with the whole list), ``file_date`` its modification time."""

    file_path = Text(allow_blank=True, required=False, default="", max_length=300)
    file_name = Text(max_length=300)
    size = serializers.IntegerField(min_value=-BIG, max_value=BIG, required=False, allow_null=True)
    file_date = Moment(required=False, allow_null=True)


class InventorySerializer(serializers.Serializer):
    """``files`` (at most 100,000), ``objects``, ``total_size`` (bytes; default: the sum of the
    files' sizes)."""

    files = serializers.ListField(child=FileInputSerializer(), required=False, max_length=MAX_FILES)
    objects = serializers.ListField(child=ObjectSerializer(), required=False, max_length=10_000)
    total_size = serializers.IntegerField(min_value=-BIG, max_value=BIG, required=False, allow_null=True)

    def entries(self) -> dict:
        """The lifecycle's arguments (``fleetwatch.backups.runs``) from the validated body."""
        data = self.validated_data
        return {
            "files": [FileEntry(**f) for f in data.get("files", [])],
            "objects": [ObjectEntry(**o) for o in data.get("objects", [])],
            "total_size": data.get("total_size"),
        }


class CloseSerializer(InventorySerializer):
    """``status`` (finished, failed or deleted), ``end_date`` (default now), ``exit_status``,
    ``log`` (its last 100,000 bytes kept), plus an inventory as for ``files/``."""

    status = serializers.ChoiceField(choices=[str(s) for s in CLOSED_STATUSES])
    end_date = Moment(required=False)
    exit_status = serializers.IntegerField(min_value=-32768, max_value=32767, required=False, allow_null=True)
    log = LogText(required=False, allow_blank=True, trim_whitespace=False)

    def entries(self) -> dict:
        data = self.validated_data
        return {
            **super().entries(),
            "end_date": data.get("end_date"),
            "exit_status": data.get("exit_status"),
            "log": data.get("log"),
        }


class OpenSerializer(serializers.Serializer):
    """Open a run: the ``job`` by id, or by ``section`` + ``type`` (+ ``datacenter``, else
    derived from ``host``) in the caller's organization (a person in several organizations
    names it: ``organization``)."""

    job = ScopedJobField(required=False, help_text="The job's id (its ping UUID).")
    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all(), required=False)
    section = Text(max_length=100, required=False)
    type = serializers.ChoiceField(choices=BackupType.choices, required=False)
    datacenter = Text(max_length=64, required=False, allow_blank=True)
    host = Text(max_length=300, required=False, allow_blank=True, default="")
    source = Text(max_length=100, required=False, allow_blank=True, default="")
    name = Text(max_length=100, required=False)
    start_date = Moment(required=False)
    run_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A retry key (Healthchecks' rid)."
    )
    # Ping URLs and the import set their own origins; a runner says which one it is.
    origin = serializers.ChoiceField(
        choices=RUNNER_ORIGINS,
        default=Origin.API,
        help_text="`cli` for `fleetwatch backup run`, `api` (default) for any other runner.",
    )

    def validate(self, attrs):
        if "job" not in attrs:
            missing = [name for name in ("section", "type") if not attrs.get(name)]
            if missing:
                raise serializers.ValidationError(
                    {missing[0]: "Required when no job is given (give job, or section and type)."}
                )
        return attrs


class RunnerTokenSerializer(serializers.ModelSerializer):
    """A runner token as lists show it: its ``prefix`` (the first 10 characters), never the token."""

    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all())
    name = Text(max_length=100)

    class Meta:
        model = RunnerToken
        fields = ["id", "organization", "name", "prefix", "is_active", "created", "last_used"]
        read_only_fields = ["id", "prefix", "created", "last_used"]


class IssuedTokenSerializer(RunnerTokenSerializer):
    """The answer to creating a token: the only time ``token`` is shown."""

    token = serializers.CharField(read_only=True)

    class Meta(RunnerTokenSerializer.Meta):
        fields = [*RunnerTokenSerializer.Meta.fields, "token"]
        read_only_fields = [*RunnerTokenSerializer.Meta.read_only_fields, "token"]
