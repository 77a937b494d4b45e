"""The backups REST API under ``/api/v1/backups/``: jobs, runs and their lifecycle (open,
files, close), runner tokens, the endpoints of the bernard dashboard's API (reference A.7,
organization-scoped) and the Prometheus exposition.

Who may do what: :mod:`fleetwatch.backups.api.access`. Every write of a run goes through
:mod:`fleetwatch.backups.runs`: its :class:`~fleetwatch.backups.runs.RunRefused` is a 400
(``errors`` by field, nothing written), its :class:`~fleetwatch.backups.runs.RunConflict` a 409.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from rest_framework import mixins, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch.api.downloads import FixedNegotiation, attachment, wants_csv
from fleetwatch.api.exceptions import Conflict
from fleetwatch.api.parsers import BoundedJSONParser, JSONParser, check_body_size
from fleetwatch.api.querysets import scoped
from fleetwatch.api.viewsets import INTEGER_LOOKUP, OrganizationScopedViewSet
from fleetwatch.backups import prometheus
from fleetwatch.backups.api.access import AUTHENTICATION, BackupsAccess, is_runner, may_write, scope_for
from fleetwatch.backups.api.filtersets import BackupJobFilterSet, BackupRunFilterSet, RunnerTokenFilterSet
from fleetwatch.backups.api.serializers import (
    BackupFileSerializer,
    BackupJobSerializer,
    BackupRunDetailSerializer,
    BackupRunSerializer,
    CloseSerializer,
    InventorySerializer,
    IssuedTokenSerializer,
    OpenSerializer,
    RunnerTokenSerializer,
)
from fleetwatch.backups.evaluation import ago
from fleetwatch.backups.models import (
    NAME_PATTERN,
    BackupJob,
    BackupRun,
    BackupType,
    RunnerToken,
    RunStatus,
)
from fleetwatch.backups.runs import RunConflict, RunRefused, attach_files, close_run, find_job, open_run
from fleetwatch.core.errors import RETRY_AFTER_SECONDS
from fleetwatch.inventory.models import Organization

TAGS = ["backups"]
ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "errors": {"type": "object", "additionalProperties": True}},
    "required": ["detail"],
}
TOO_LARGE = OpenApiResponse(ERROR, description="A body larger than 32 MiB: nothing read.")
# Bodies of the lifecycle requests: a file list of 100,000 entries is ~15 MB of JSON.
MAX_BODY = 32 * 1024 * 1024


def refused(exc: RunRefused) -> ValidationError:
    """The lifecycle's refusal as the API's 400: its ``errors`` by field (the first repeated in
    ``detail``), or its sentence alone."""
    return ValidationError(exc.errors or {"non_field_errors": [exc.detail]})


class LargeJSONParser(BoundedJSONParser):
    """The API's strict JSON for bodies up to :data:`MAX_BODY` bytes, above Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB), which a file list of tens of thousands of files
    exceeds."""

    limit = MAX_BODY


class BackupsViewMixin:
    """Authentication (person or runner token), permissions and row scoping of the backups
    viewsets (``fleetwatch.backups.api.access``)."""

    authentication_classes = AUTHENTICATION
    permission_classes = [BackupsAccess]
    # JSON only: a file list nests, which a form cannot say (another type: 415).
    parser_classes = [JSONParser]
    runner_actions: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A clear 413 rather than Django's 400 for a body above its limit (after the
        # authentication: an anonymous caller learns nothing of the limits).
        limit = MAX_BODY if LargeJSONParser in self.parser_classes else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        check_body_size(request, limit)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's request
            return self.queryset.none()
        return scope_for(self.queryset, self.request.user, self.scope).order_by(*self.ordering)


# --------------------------------------------------------------------------------- jobs
@extend_schema(tags=TAGS)
class BackupJobViewSet(BackupsViewMixin, OrganizationScopedViewSet):
    """The monitoring matrix: members (and runners) read, administrators write. ``ping_url`` is
    the job's Healthchecks-style URL."""

    queryset = BackupJob.objects.select_related("organization").prefetch_related("checks")
    serializer_class = BackupJobSerializer
    filterset_class = BackupJobFilterSet
    ordering = ("section", "type", "datacenter", "pk")
    runner_actions = ("list", "retrieve")


# --------------------------------------------------------------------------------- runs
class CSVRenderer(renderers.BaseRenderer):
    """``text/csv`` for the runs list (``?format=csv`` or ``Accept: text/csv``); errors are
    rendered as JSON whatever was asked."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)


CSV_COLUMNS = [
    "id",
    "organization",
    "job",
    "name",
    "status",
    "section",
    "type",
    "datacenter",
    "source",
    "host",
    "start_date",
    "end_date",
    "duration",
    "total_size",
    "exit_status",
    "origin",
    "run_id",
]


class _Echo:
    def write(self, value):
        return value


def runs_csv(queryset) -> Iterator[str]:
    """The runs as CSV lines (header first): dates ISO 8601 UTC, duration seconds, sizes bytes."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    fields = [c for c in CSV_COLUMNS if c != "duration"]
    for row in queryset.values_list(*fields).iterator(chunk_size=2000):
        values = dict(zip(fields, row, strict=True))
        start, end = values["start_date"], values["end_date"]
        values["duration"] = (end - start).total_seconds() if end is not None else ""
        for key in ("start_date", "end_date"):
            values[key] = values[key].isoformat() if values[key] is not None else ""
        yield writer.writerow(["" if values[c] is None else values[c] for c in CSV_COLUMNS])


RUN_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The run's id.")
FORMAT = OpenApiParameter(
    "format",
    str,
    enum=["json", "csv"],
    description="`csv`: every run matching the filters (not paginated) as CSV, offered as "
    "`backup-runs.csv`; also with `Accept: text/csv`. Another value: 400.",
)


@extend_schema(tags=TAGS)
class BackupRunViewSet(
    BackupsViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Backup runs, newest first, and their lifecycle (reference A.3): ``POST`` opens one,
    ``files/`` attaches its inventory, ``close/`` closes it. Runners and administrators write,
    members read."""

    queryset = BackupRun.objects.select_related("organization")
    serializer_class = BackupRunSerializer
    filterset_class = BackupRunFilterSet
    lookup_value_regex = INTEGER_LOOKUP
    scope = "visible"
    ordering = ("-start_date", "-pk")
    runner_actions = ("list", "retrieve", "create", "files", "close")
    content_negotiation_class = FixedNegotiation
    parser_classes = [LargeJSONParser]

    def get_renderers(self):
        renderers_ = [renderers.JSONRenderer()]
        if getattr(self, "action", None) == "list" and wants_csv(self.request):
            renderers_.insert(0, CSVRenderer())
        return renderers_

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except ValidationError:
            if force:
                return renderers.JSONRenderer(), "application/json"
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(response, "status_code", 200) >= 400 and isinstance(
            getattr(response, "accepted_renderer", None), CSVRenderer
        ):
            response.accepted_renderer = renderers.JSONRenderer()
            response.accepted_media_type = "application/json"
        return response

    def get_serializer_class(self):
        if self.action in ("retrieve", "create", "close"):
            return BackupRunDetailSerializer
        return super().get_serializer_class()

    def _detail(self, run: BackupRun, code: int = 200) -> Response:
        run = BackupRun.objects.select_related("organization").prefetch_related("db_objects").get(pk=run.pk)
        return Response(
            BackupRunDetailSerializer(run, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(
        parameters=[FORMAT],
        responses={
            (200, "application/json"): BackupRunSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="With `format=csv`."),
        },
    )
    def list(self, request, *args, **kwargs):
        if isinstance(request.accepted_renderer, CSVRenderer):
            runs = self.filter_queryset(self.get_queryset())
            response = StreamingHttpResponse(runs_csv(runs), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = attachment("backup-runs.csv")
            return response
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[RUN_ID], responses=BackupRunDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        return self._detail(self.get_object())

    def _organization(self, data) -> Organization:
        user = self.request.user
        if is_runner(user):
            return user.organization
        if data.get("organization") is not None:
            return data["organization"]
        mine = list(scoped(Organization.objects.all(), user)[:2])
        if len(mine) != 1:
            raise ValidationError(
                {"organization": ["Required when you belong to several organizations (or to none)."]}
            )
        return mine[0]

    @extend_schema(
        request=OpenSerializer,
        responses={
            201: OpenApiResponse(BackupRunDetailSerializer, description="Opened (ongoing)."),
            200: OpenApiResponse(
                BackupRunDetailSerializer, description="A retry: the run with that name or run_id, as stored."
            ),
            413: TOO_LARGE,
        },
    )
    def create(self, request, *args, **kwargs):
        """Open a run (A.3 step 2): ``job``, or ``section`` + ``type`` (+ ``datacenter``, else
        derived from ``host``); 201 new, 200 for a retry (same ``name`` or ``run_id``)."""
        body = OpenSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job = data.get("job")
        try:
            if job is None:
                organization = self._organization(data)
                job = find_job(
                    organization, data["section"], data["type"], data.get("datacenter"), data["host"]
                )
            if not may_write(request.user, job.organization_id):
                raise PermissionDenied(BackupsAccess.message)
            run, created = open_run(
                job,
                start_date=data.get("start_date"),
                name=data.get("name"),
                source=data["source"],
                host=data["host"],
                run_id=data.get("run_id"),
                origin=data["origin"],
            )
        except RunRefused as exc:
            raise refused(exc) from None
        return self._detail(run, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        methods=["GET"],
        parameters=[RUN_ID],
        responses=BackupFileSerializer(many=True),
        description="The run's file inventory, by path and name (paginated).",
    )
    @extend_schema(
        methods=["POST"],
        parameters=[RUN_ID],
        request=InventorySerializer,
        responses={200: BackupRunDetailSerializer, 413: TOO_LARGE},
        description="Attach files, objects and the total size to an ongoing run (A.3 step 4); "
        "the same files again are stored once. A closed run: 409.",
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def files(self, request, pk=None):
        run = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(run.files.order_by("file_path", "file_name", "pk"))
            return self.get_paginated_response(BackupFileSerializer(page, many=True).data)
        body = InventorySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            attach_files(run, **body.entries())
        except RunRefused as exc:
            raise refused(exc) from None
        except RunConflict as exc:
            raise Conflict(str(exc)) from None
        return self._detail(run)

    @extend_schema(
        parameters=[RUN_ID],
        request=CloseSerializer,
        responses={200: BackupRunDetailSerializer, 413: TOO_LARGE},
        description="Close the run as finished, failed or deleted (A.3 step 6), with its inventory, "
        "exit status and log (its last 100,000 bytes). The same close again: 200, unchanged; "
        "another status: 409.",
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def close(self, request, pk=None):
        run = self.get_object()
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run, _ = close_run(run, body.validated_data["status"], **body.entries())
        except RunRefused as exc:
            raise refused(exc) from None
        except RunConflict as exc:
            raise Conflict(str(exc)) from None
        return self._detail(run)


# --------------------------------------------------------------------------------- tokens
@extend_schema(tags=TAGS)
class RunnerTokenViewSet(BackupsViewMixin, OrganizationScopedViewSet):
    """Runner tokens, for administrators only (members see none, runners none: 403). Creating
    one answers the token itself, the only time it is shown; lists show its ``prefix``."""

    queryset = RunnerToken.objects.select_related("organization")
    serializer_class = RunnerTokenSerializer
    filterset_class = RunnerTokenFilterSet
    scope = "manageable"
    ordering = ("name", "pk")
    lookup_value_regex = INTEGER_LOOKUP

    @extend_schema(responses={201: IssuedTokenSerializer})
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        organization = body.validated_data["organization"]
        self._check_organization(organization)
        row, token = RunnerToken.issue(organization, body.validated_data["name"])
        if body.validated_data.get("is_active") is False:
            row.is_active = False
            row.save(update_fields=["is_active"])
        row.token = token
        return Response(IssuedTokenSerializer(row, context=self.get_serializer_context()).data, status=201)


# --------------------------------------------------------------------------------- A.7
class Narrowing(serializers.Serializer):
    organization = serializers.UUIDField(required=False)


ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.UUID, description="Only this organization's jobs (default: all of yours)."
)


class BackupsAPIView(APIView):
    """A read-only view of the caller's matrix (persons and runners)."""

    authentication_classes = AUTHENTICATION
    permission_classes = [BackupsAccess]
    content_negotiation_class = FixedNegotiation  # JSON whatever the Accept (no 406)
    runner_methods = ("GET",)

    def jobs(self, request):
        """The caller's active jobs (the monitored matrix), in matrix order."""
        narrowing = Narrowing(data=request.query_params)
        narrowing.is_valid(raise_exception=True)
        jobs = scope_for(BackupJob.objects.all(), request.user).filter(is_active=True)
        if "organization" in narrowing.validated_data:
            jobs = jobs.filter(organization_id=narrowing.validated_data["organization"])
        return jobs.order_by("section", "type", "datacenter", "pk")


def latest_finished(jobs) -> dict:
    """``{job id: its latest finished run}`` (by start date, as the A.4 check orders them)."""
    newest = (
        BackupRun.objects.filter(job=OuterRef("pk"), status=RunStatus.FINISHED)
        .order_by("-start_date", "-pk")
        .values("pk")[:1]
    )
    ids = [pk for pk in jobs.annotate(last=Subquery(newest)).values_list("last", flat=True) if pk]
    return {run.job_id: run for run in BackupRun.objects.filter(pk__in=ids)}


SECTION = re.compile(NAME_PATTERN)


@extend_schema(tags=TAGS)
class RecentView(BackupsAPIView):
    """``recent/all``: the latest finished run of every job of the matrix (section × type ×
    datacenter); ``recent/<section>``: the same for one section."""

    @extend_schema(
        operation_id="backups_recent",
        parameters=[ORGANIZATION],
        responses=BackupRunSerializer(many=True),
    )
    def get(self, request, section=None):
        jobs = self.jobs(request)
        if section is not None:
            if len(section) > 100:
                raise ValidationError({"section": ["A section name has at most 100 characters."]})
            if not SECTION.match(section):
                raise ValidationError(
                    {"section": [f"'{section}' is not a section name (letters, digits, '_', '-' and '.')."]}
                )
            jobs = jobs.filter(section=section)
            if not jobs.exists():
                return Response(
                    {"detail": f"'{section}' is not a section of your monitoring matrix."}, status=404
                )
        latest = latest_finished(jobs)
        runs = [latest[job.pk] for job in jobs if job.pk in latest]
        return Response(BackupRunSerializer(runs, many=True).data)


@extend_schema(tags=TAGS)
class RecentSectionView(RecentView):
    @extend_schema(
        operation_id="backups_recent_section",
        parameters=[
            ORGANIZATION,
            OpenApiParameter("section", str, OpenApiParameter.PATH, description="A section of the matrix."),
        ],
        responses=BackupRunSerializer(many=True),
    )
    def get(self, request, section=None):
        return super().get(request, section)


def _names(operation_id: str, description: str):
    return extend_schema(
        operation_id=operation_id,
        description=description,
        parameters=[ORGANIZATION],
        responses=serializers.ListSerializer(child=serializers.CharField()),
        tags=TAGS,
    )


class DatacentersView(BackupsAPIView):
    @_names("backups_datacenters", "The datacenters of the matrix, sorted (jobs without one: none).")
    def get(self, request):
        names = self.jobs(request).exclude(datacenter="").values_list("datacenter", flat=True)
        return Response(sorted(set(names)))


class TypesView(BackupsAPIView):
    @_names("backups_types", "The backup types of the matrix: dump, snapshot, cold, in that order.")
    def get(self, request):
        used = set(self.jobs(request).values_list("type", flat=True))
        return Response([t for t in BackupType.values if t in used])


class SectionsView(BackupsAPIView):
    @_names("backups_sections", "The sections of the matrix, sorted.")
    def get(self, request):
        return Response(sorted(set(self.jobs(request).values_list("section", flat=True))))


FRESHNESS_ROWS = inline_serializer(
    "BackupFreshness",
    many=True,
    fields={
        "section": serializers.CharField(),
        "freshness": serializers.ChoiceField(choices=["ok", "fail"]),
        "type": serializers.CharField(),
        "datacenter": serializers.CharField(),
        "last_backed_up": serializers.DateTimeField(allow_null=True),
        "ago": serializers.CharField(allow_null=True),
        "taken_by": serializers.CharField(allow_null=True),
        "job": serializers.UUIDField(),
        "organization": serializers.UUIDField(),
    },
)


@extend_schema(tags=TAGS)
class FreshnessView(BackupsAPIView):
    """Per job: ``fail`` when it has no finished run or its latest started longer ago than the
    job's freshness; ``last_backed_up`` is that run's start (as the A.4 check judges it),
    ``ago`` bernard's ``D days, H hours, M minutes ago``, ``taken_by`` the host that took it."""

    @extend_schema(operation_id="backups_freshness", parameters=[ORGANIZATION], responses=FRESHNESS_ROWS)
    def get(self, request):
        jobs = self.jobs(request)
        latest = latest_finished(jobs)
        now = timezone.now()
        rows = []
        for job in jobs:
            run = latest.get(job.pk)
            fresh = run is not None and (now - run.start_date).total_seconds() <= job.freshness
            rows.append(
                {
                    "section": job.section,
                    "freshness": "ok" if fresh else "fail",
                    "type": job.type,
                    "datacenter": job.datacenter,
                    "last_backed_up": run.start_date.isoformat().replace("+00:00", "Z") if run else None,
                    "ago": ago(now - run.start_date) if run else None,
                    "taken_by": (run.host or None) if run else None,
                    "job": str(job.pk),
                    "organization": str(job.organization_id),
                }
            )
        return Response(rows)


PROBE = inline_serializer(
    "BackupsProbe",
    {"probe": serializers.ChoiceField(choices=["liveness", "readiness"]), "status": serializers.CharField()},
)


class ProbeView(APIView):
    """Public, like ``/api/v1/health/`` (orchestrators call it without credentials); it says
    nothing of anyone's backups."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


@extend_schema(tags=TAGS)
class LivenessView(ProbeView):
    @extend_schema(operation_id="backups_liveness", auth=[], responses=PROBE)
    def get(self, request):
        return Response({"probe": "liveness", "status": "ok"})


@extend_schema(tags=TAGS)
class ReadinessView(ProbeView):
    """Ready when the database answers the latest-run query the dashboard depends on (bernard
    also asks for at least one row; we do not: a new installation is ready for its first run)."""

    @extend_schema(
        operation_id="backups_readiness",
        auth=[],
        responses={
            200: PROBE,
            503: OpenApiResponse(
                ERROR, description="Not ready: the database does not answer (with Retry-After)."
            ),
        },
    )
    def get(self, request):
        try:
            BackupRun.objects.filter(status=RunStatus.FINISHED).order_by("-start_date").values("pk").first()
        except DatabaseError as exc:
            detail = f"Readiness probe failed: the database does not answer ({type(exc).__name__})."
            return Response({"detail": detail}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return Response({"probe": "readiness", "status": "ok"})


@extend_schema(tags=TAGS)
class MetricsView(BackupsAPIView):
    """Prometheus text exposition (format 0.0.4) of the caller's jobs: see
    :mod:`fleetwatch.backups.prometheus`."""

    @extend_schema(
        operation_id="backups_metrics",
        parameters=[ORGANIZATION],
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Prometheus text format.")
        },
    )
    def get(self, request):
        jobs = scope_for(BackupJob.objects.select_related("organization"), request.user)
        narrowing = Narrowing(data=request.query_params)
        narrowing.is_valid(raise_exception=True)
        if "organization" in narrowing.validated_data:
            jobs = jobs.filter(organization_id=narrowing.validated_data["organization"])
        body = prometheus.exposition(jobs, timezone.now())
        return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
