"""``/api/v1/monitoring/device/<uuid>/``: agents POST reports with their key; people (session or
token) and agents (key) GET the device's charts, its latest snapshot (``status=true``) or CSV.
``/api/v1/monitoring/iperf3-servers/`` and ``…/ssh-credentials/``: what the iperf3 check uses."""

from __future__ import annotations

import hmac
import logging
import re
import time

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch.api.querysets import visible_or_404
from fleetwatch.api.viewsets import INTEGER_LOOKUP, UUID_LOOKUP, OrganizationScopedViewSet
from fleetwatch.core import instrumentation
from fleetwatch.inventory.models import Device, administers
from fleetwatch.monitoring.api import schema
from fleetwatch.monitoring.api.filtersets import Iperf3ServerFilterSet, SshCredentialsFilterSet
from fleetwatch.monitoring.api.serializers import (
    Iperf3ServerSerializer,
    SshCredentialsSerializer,
    StatusChangeSerializer,
)
from fleetwatch.monitoring.charts import charts_csv, device_charts, window_from
from fleetwatch.monitoring.ingestion import DeviceBusy, ReportRejected, ingest, reporting_device
from fleetwatch.monitoring.models import Iperf3Server, SshCredentials
from fleetwatch.timeseries import BackendUnavailable, InvalidQuery

log = logging.getLogger(__name__)


def active_device(pk) -> Device:
    """The device if it may report: active, in an active organization (else 404)."""
    device = (
        Device.objects.select_related("organization", "state")
        .filter(pk=pk, is_active=True, organization__is_active=True)
        .first()
    )
    if device is None:
        raise Http404("No such active device.")
    return device


def key_matches(device, key: str | None) -> bool:
    return bool(key) and hmac.compare_digest(device.key.encode(), str(key).encode())


@csrf_exempt
def device_monitoring(request, pk):
    """Agents POST reports (a plain Django view: the hot path of ingestion needs none of DRF's
    negotiation); everything else is the chart API below."""
    if request.method == "POST":
        return agent_report(request, pk)
    return DeviceMonitoringView.as_view()(request, pk=pk)


# An agent's feature letters (``c``: it runs remote commands), as the hub agent sends them.
FEATURES = re.compile(r"[A-Za-z]{0,16}")


def agent_report(request, pk):
    """200 ``null`` once stored (with ``features``: ``{"cmd": {...}}`` or ``{}``, see
    docs/commands.md); 400 never acceptable (nothing written); 403 wrong key; 404
    unknown device; 503 + Retry-After when a store is unavailable or locked (keep and retry)."""
    try:
        device = reporting_device(pk)
        if device is None:
            raise Http404("No such active device.")
        if not key_matches(device, request.GET.get("key")):
            return JsonResponse({"detail": "Wrong or missing device key."}, status=403)
        features = request.GET.get("features")
        if features is not None and not FEATURES.fullmatch(features):
            return JsonResponse({"detail": "features: at most 16 letters, e.g. 'c'."}, status=400)
        started = time.perf_counter()
        ingest(device, request.body, request.GET.get("time"))
        instrumentation.observe_ingest("agent", time.perf_counter() - started)
        if features is not None:
            # A hub-style agent (docs/commands.md): the answer carries its next command.
            from fleetwatch.messaging.commands import http_answer

            return JsonResponse(http_answer(device, features))
    except ReportRejected as exc:
        # The agent drops a refused report for good: the reason is kept here, once per report.
        log.warning("report of %s refused (400): %s", pk, exc)
        return JsonResponse({"detail": str(exc)}, status=400)
    except BackendUnavailable as exc:
        log.warning("report of %s not stored, time-series store unavailable: %s", pk, exc)
        instrumentation.store_error("timeseries")
        return retry_later("The time-series store is unavailable; keep the sample and retry.")
    except DeviceBusy as exc:
        log.warning("report of %s not stored: %s", pk, exc)
        return retry_later("Another report of this device is being stored; keep the sample and retry.")
    except (OperationalError, InterfaceError) as exc:  # locked or unreachable; rolled back
        log.warning("report of %s not stored, database unavailable: %s", pk, exc)
        instrumentation.store_error("database")
        return retry_later("The database is unavailable; keep the sample and retry.")
    # The peer answers `200 null`; agents only look at the status.
    return HttpResponse(b"null", content_type="application/json")


def retry_later(detail: str) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=503)
    response["Retry-After"] = "30"
    return response


class DeviceMonitoringView(APIView):
    """Charts of a device for people (session or token) and its agent (``?key=``).

    Its ``post`` documents the agent endpoint in the OpenAPI schema (``fleetwatch.api.schema``):
    the URL's view, :func:`device_monitoring`, answers POSTs itself, outside DRF."""

    # As REST_FRAMEWORK's default (Token first, for 401 + WWW-Authenticate: Token); AllowAny
    # because an agent's ?key= is checked below, and a person without credentials gets the 401.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="device_report",
        summary="An agent's report (NetJSON DeviceMonitoring)",
        description="The OpenWrt monitoring agent's protocol. Not a DRF view: no session or token, "
        "the device key only; the body is parsed by the agent decoder.",
        request={"application/json": schema.REPORT},
        parameters=schema.REPORT_PARAMETERS,
        responses=schema.REPORT_RESPONSES,
        examples=[schema.REPORT_EXAMPLE],
        tags=["monitoring"],
    )
    def post(self, request, pk):
        return agent_report(request._request, pk)

    @extend_schema(
        operation_id="device_charts",
        summary="A device's charts (JSON or CSV)",
        description="For people (session or token) and the device's agent (`key`). Charts without "
        "data in the window are left out; all share `x`.",
        parameters=schema.CHART_PARAMETERS,
        responses=schema.CHART_RESPONSES,
        tags=["monitoring"],
    )
    def get(self, request, pk):
        from fleetwatch.api.downloads import attachment, safe_filename

        key = request.query_params.get("key")
        if key is not None:
            device = active_device(pk)
            if not key_matches(device, key):
                return Response({"detail": "Wrong device key."}, status=403)
        else:
            if not request.user.is_authenticated:
                raise NotAuthenticated()  # 401 with WWW-Authenticate, as every other API view
            device = visible_or_404(
                Device.objects.select_related("organization"), request.user, "No such device.", pk=pk
            )
        try:
            window = window_from(request.query_params)
        except InvalidQuery as exc:
            return Response({"detail": str(exc)}, status=400)
        # A store that is down raises BackendUnavailable: 503 + Retry-After (fleetwatch.core.errors).
        x, charts = device_charts(device, window)
        if request.query_params.get("csv"):
            response = HttpResponse(charts_csv(x, charts), content_type="text/csv")
            response["Content-Disposition"] = attachment(f"{safe_filename(device.name, 'device')}-charts.csv")
            return response
        body = device_summary(device)
        if key is None and not administers(request.user, device.organization_id):
            body["key"] = None  # the agent's credential: administrators only (and the agent itself)
        body.update(x=x, charts=charts)
        if request.query_params.get("status") in ("true", "1"):
            state = getattr(device, "state", None)
            body["data"] = state.data if state is not None else None
        return Response(body)


# The agent endpoint is a plain view: drf-spectacular documents it through this class
# (fleetwatch.api.schema.add_plain_views).
device_monitoring.schema_view = DeviceMonitoringView


def device_summary(device: Device) -> dict:
    """The device fields of the chart API, those of OpenWISP Monitoring's device view
    (``MonitoringDeviceDetailSerializer``): ``monitoring`` holds the health status and each
    metric's health. Fields Fleetwatch does not keep answer the peer's empty value (``group``,
    ``last_ip``, ``modified``: null; ``model``, ``os``, ``system``, ``notes``: ""); the
    peer's ``config`` (configuration management) is left out, as it is for a device without
    one. Datetimes go out as DRF renders them (ISO 8601, ``Z`` for UTC), as the peer's do."""
    from fleetwatch.inventory.api.serializers import health_status

    metrics = device.metrics.order_by("name").values("name", "is_healthy")
    return {
        "id": str(device.pk),
        "name": device.name,
        "organization": str(device.organization_id),
        "group": None,
        "mac_address": device.mac_address,
        "key": device.key,
        "last_ip": None,
        "management_ip": device.management_ip,
        "model": "",
        "os": "",
        "system": "",
        "notes": "",
        "monitoring": {"status": health_status(device), "related_metrics": list(metrics)},
        "created": device.created,
        "modified": None,
    }


class StatusHistoryView(generics.ListAPIView):
    """``/api/v1/monitoring/device/<uuid>/status-history/``: the device's health changes,
    newest first (paginated)."""

    serializer_class = StatusChangeSerializer

    def get_queryset(self):
        from fleetwatch.monitoring.models import StatusChange

        if getattr(self, "swagger_fake_view", False):  # the schema generator's request
            return StatusChange.objects.none()
        device = visible_or_404(
            Device.objects.all(), self.request.user, "No such device.", pk=self.kwargs["pk"]
        )
        return StatusChange.objects.filter(device=device).order_by("-time", "-id")


class DashboardView(APIView):
    """``/api/v1/monitoring/dashboard/``: organization-wide charts of the organizations the user
    belongs to; ``organization_slug=a,b``, ``location_id=…``, ``ifname=wan,eth1`` narrow them."""

    @extend_schema(
        operation_id="dashboard_charts",
        parameters=schema.DASHBOARD_PARAMETERS,
        responses=schema.DASHBOARD_RESPONSES,
        tags=["monitoring"],
    )
    def get(self, request):
        from fleetwatch.core import params as query
        from fleetwatch.inventory.models import Location, Organization
        from fleetwatch.monitoring.charts import dashboard_charts

        params = request.query_params
        slugs = query.slug_list(params, "organization_slug")
        location_ids = query.uuid_list(params, "location_id")
        interfaces = query.text_list(params, "ifname")
        try:
            window = window_from(params)
        except InvalidQuery as exc:
            return Response({"detail": str(exc)}, status=400)
        visible = Organization.objects.visible_to(request.user).filter(is_active=True)
        organizations = list(visible.filter(slug__in=slugs) if slugs else visible)
        if slugs and len(organizations) != len(set(slugs)):
            raise Http404("No such organization.")
        if location_ids:
            found = Location.objects.filter(organization__in=organizations, pk__in=location_ids).count()
            if found != len(set(location_ids)):
                raise Http404("No such location.")
        if not organizations:
            return Response({"x": [], "charts": []})
        x, charts = dashboard_charts([o.pk for o in organizations], window, location_ids, interfaces)
        body = {"x": x, "charts": charts}
        if len(visible) > 1:
            body["organizations"] = [{"id": o.slug, "text": o.name} for o in visible]
        return Response(body)


class Iperf3ServerViewSet(OrganizationScopedViewSet):
    """The iperf3 servers of the user's organizations, which the ``iperf3`` check measures
    against: administrators only (they hold credentials), as webhooks; members see none."""

    queryset = Iperf3Server.objects.select_related("organization")
    serializer_class = Iperf3ServerSerializer
    filterset_class = Iperf3ServerFilterSet
    scope = "manageable"
    ordering = ("priority", "host", "port", "pk")
    lookup_value_regex = INTEGER_LOOKUP


class SshCredentialsViewSet(OrganizationScopedViewSet):
    """Devices' SSH credentials (by device id), for the ``iperf3`` check: administrators of the
    device's organization only; secrets are never returned."""

    queryset = SshCredentials.objects.select_related("device__organization")
    serializer_class = SshCredentialsSerializer
    filterset_class = SshCredentialsFilterSet
    scope = "manageable"
    ordering = ("device__name", "pk")
    lookup_value_regex = UUID_LOOKUP

    def perform_create(self, serializer):
        self._check_organization(serializer.validated_data["device"].organization)
        serializer.save()

    def perform_update(self, serializer):
        self._check_organization(serializer.instance.device.organization)
        serializer.save()
