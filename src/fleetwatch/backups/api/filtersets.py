"""Query parameters of the backups lists (django-filter; a malformed value is a 400 naming the
parameter, see ``fleetwatch.api.exceptions``)."""

from __future__ import annotations

from datetime import UTC

from django import forms
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from fleetwatch.backups.models import BackupJob, BackupRun, BackupType, Origin, RunnerToken, RunStatus
from fleetwatch.monitoring.models import HealthStatus


class MomentField(IsoDateTimeField):
    """An ISO 8601 date and time (naive: the server's time zone, UTC) that every database can
    compare with: out of range is a 400, not an overflow in the database adapter."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            moment.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("Datetime value out of range.", code="invalid") from None
        if moment.year < 1900:
            raise forms.ValidationError("Must not be before 1900-01-01.", code="invalid")
        return moment


class MomentFilter(filters.IsoDateTimeFilter):
    field_class = MomentField


class BackupJobFilterSet(filters.FilterSet):
    """``organization=<uuid>``, ``section``, ``type``, ``datacenter``, ``status`` (unknown, ok,
    problem, critical), ``schedule``, ``is_active=true|false``."""

    organization = filters.UUIDFilter(field_name="organization_id")
    status = filters.ChoiceFilter(choices=HealthStatus.choices)

    class Meta:
        model = BackupJob
        fields = ["organization", "section", "type", "datacenter", "status", "schedule", "is_active"]


class BackupRunFilterSet(filters.FilterSet):
    """``organization=<uuid>``, ``job=<uuid>``, ``section``, ``type`` (dump, snapshot, cold),
    ``datacenter``, ``status`` (ongoing, finished, failed, deleted), ``origin``, and the start
    date's range: ``since`` (inclusive) and ``until`` (exclusive), ISO 8601."""

    organization = filters.UUIDFilter(field_name="organization_id")
    job = filters.UUIDFilter(field_name="job_id")
    type = filters.ChoiceFilter(choices=BackupType.choices)
    status = filters.ChoiceFilter(choices=RunStatus.choices)
    origin = filters.ChoiceFilter(choices=Origin.choices)
    since = MomentFilter(field_name="start_date", lookup_expr="gte")
    until = MomentFilter(field_name="start_date", lookup_expr="lt")

    class Meta:
        model = BackupRun
        fields = [
            "organization",
            "job",
            "section",
            "type",
            "datacenter",
            "status",
            "origin",
            "since",
            "until",
        ]


class RunnerTokenFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = RunnerToken
        fields = ["organization", "is_active"]
