"""``GET /metrics``: an organization's fleet, its backup jobs and the server's own internals in
the Prometheus text format (or OpenMetrics, when the scraper asks for it), written by
``prometheus-client``.

Who: a bearer token (:mod:`fleetwatch.protocols.access`) with the ``read`` permission; a scrape
shows the token's organization's devices and backup jobs, never another's. No token or an
unknown one: 401; a token without ``read``: 403 (plain text, as Prometheus logs it).

What (docs/prometheus.md has the full list): per device (labels ``organization``, its slug, and
``device``, its name) the values of its latest report as the server keeps them
(``DeviceState``: no read of the time-series store per scrape), per interface (label
``interface``) its counters, state and wifi clients, per judged metric (label ``metric``) its
health; the device's health status, last contact and channel connection; the backup job gauges
of :mod:`fleetwatch.backups.prometheus`; and server-wide internals: request and ingest latency
histograms and store errors (:mod:`fleetwatch.core.instrumentation`, every process of this
host) and queue depths.

Bounds: at most ``FLEETWATCH_PROMETHEUS_MAX_DEVICES`` devices (by name) and
``FLEETWATCH_PROMETHEUS_MAX_SAMPLES`` samples of device metrics per scrape. A device is shown
whole or not at all; the ones left out are counted in ``fleetwatch_scrape_devices_dropped`` and
their samples in ``fleetwatch_scrape_samples_dropped``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from fleetwatch.backups.models import BackupJob
from fleetwatch.backups.prometheus import JobsCollector
from fleetwatch.core import instrumentation
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.messaging.models import Channel, DeviceChannel
from fleetwatch.monitoring.models import DeviceHealth, DeviceState, HealthStatus, Metric, PendingEvaluation
from fleetwatch.protocols.access import ProtocolAuthError, authenticate

DEVICE = ["organization", "device"]
INTERFACE = [*DEVICE, "interface"]
# fleetwatch_device_health: the health vocabulary as numbers (worse is higher, as the backups'
# status; deactivated last: it is not a problem).
HEALTH_CODES = {
    HealthStatus.OK: 0,
    HealthStatus.PROBLEM: 1,
    HealthStatus.CRITICAL: 2,
    HealthStatus.UNKNOWN: 3,
    HealthStatus.DEACTIVATED: 4,
}
# (name, help, what of the report's resources.memory) in bytes.
MEMORY = (
    ("total", "Memory of the device."),
    ("free", "Free memory."),
    ("buffered", "Memory used for buffers."),
    ("shared", "Shared memory."),
    ("cached", "Memory used as cache."),
    ("available", "Memory available to programs."),
)


class _Families:
    """The device metric families of one scrape, created on first use, in a fixed order."""

    def __init__(self):
        self.families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(self, kind, name: str, documentation: str, labels: list[str], values: list[str], value) -> None:
        family = self.families.get(name)
        if family is None:
            family = self.families[name] = kind(name, documentation, labels=labels)
        family.add_metric(values, value)


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def device_samples(device: Device, state: dict | None, health: str | None, metrics: list, channel) -> list:
    """The samples of one device: ``[(kind, name, help, label names, label values, value)]``.

    ``state``: its latest report (``DeviceState.data``, NetJSON as stored) or None; ``health``:
    its status (None: never judged, shown as unknown); ``metrics``: its judged Metric rows;
    ``channel``: its DeviceChannel or None."""
    org, name = device.organization.slug, device.name
    labels = [org, name]
    out = []

    def gauge(metric, documentation, value, names=DEVICE, values=labels):
        if value is not None:
            out.append((GaugeMetricFamily, metric, documentation, names, values, value))

    gauge(
        "fleetwatch_device_health",
        "Health status: 0 ok, 1 problem, 2 critical, 3 unknown, 4 deactivated.",
        HEALTH_CODES[health or HealthStatus.UNKNOWN],
    )
    if device.last_seen is not None:
        gauge(
            "fleetwatch_device_last_seen_timestamp_seconds",
            "When the server last heard from the device (unix seconds).",
            device.last_seen.timestamp(),
        )
    if channel is not None and channel.channel != Channel.HTTP:
        gauge(
            "fleetwatch_device_connected",
            "Whether the device is connected to the broker over its channel (1) or not (0).",
            1.0 if channel.connected else 0.0,
            [*DEVICE, "channel"],
            [*labels, channel.channel],
        )
    for metric in metrics:
        gauge(
            "fleetwatch_device_metric_healthy",
            "Whether a judged metric of the device is within its alert threshold (1) or not (0).",
            1.0 if metric.is_healthy else 0.0,
            [*DEVICE, "metric", "interface"],
            [*labels, metric.configuration, str((metric.main_tags or {}).get("ifname", ""))],
        )
    if not state:
        return out
    general = state.get("general") or {}
    gauge("fleetwatch_device_uptime_seconds", "Uptime of the device.", _number(general.get("uptime")))
    resources = state.get("resources") or {}
    load, cpus = resources.get("load"), _number(resources.get("cpus"))
    gauge("fleetwatch_device_cpus", "Processors of the device.", cpus)
    if isinstance(load, list) and len(load) == 3:
        for minutes, value in zip((1, 5, 15), load, strict=True):
            gauge(f"fleetwatch_device_load{minutes}", f"Load average over {minutes} minutes.", _number(value))
        if cpus:
            gauge(
                "fleetwatch_device_cpu_usage_percent",
                "The 1-minute load average per processor, in percent (the CPU chart's value).",
                100 * load[0] / cpus,
            )
    memory = resources.get("memory") or {}
    for key, documentation in MEMORY:
        gauge(f"fleetwatch_device_memory_{key}_bytes", documentation, _number(memory.get(key)))
    for disk in resources.get("disk") or []:
        mount = [*DEVICE, "mount"], [*labels, str(disk.get("mount_point", ""))]
        gauge(
            "fleetwatch_device_disk_size_bytes",
            "Size of a file system.",
            _number(disk.get("size_bytes")),
            *mount,
        )
        gauge(
            "fleetwatch_device_disk_used_bytes",
            "Used space of a file system.",
            _number(disk.get("used_bytes")),
            *mount,
        )
    for iface in state.get("interfaces") or []:
        values = [*labels, str(iface.get("name", ""))]
        stats = iface.get("statistics") or {}
        for key, metric, documentation in (
            (
                "rx_bytes",
                "fleetwatch_device_interface_receive_bytes",
                "Bytes received (the interface's counter).",
            ),
            (
                "tx_bytes",
                "fleetwatch_device_interface_transmit_bytes",
                "Bytes sent (the interface's counter).",
            ),
        ):
            value = _number(stats.get(key))
            if value is not None:
                out.append((CounterMetricFamily, metric, documentation, INTERFACE, values, value))
        if isinstance(iface.get("up"), bool):
            gauge(
                "fleetwatch_device_interface_up",
                "Whether the interface is up.",
                float(iface["up"]),
                INTERFACE,
                values,
            )
        clients = (iface.get("wireless") or {}).get("clients")
        if isinstance(clients, list):
            gauge(
                "fleetwatch_device_wifi_clients",
                "Wifi clients associated now.",
                len(clients),
                INTERFACE,
                values,
            )
    return out


class FleetCollector:
    """The devices of ``organization``, bounded by ``max_devices`` and ``max_samples``."""

    def __init__(self, organization: Organization, max_devices: int, max_samples: int):
        self.organization = organization
        self.max_devices = max_devices
        self.max_samples = max_samples

    def collect(self) -> Iterator:
        devices = list(
            Device.objects.filter(organization=self.organization)
            .select_related("organization")
            .order_by("name", "id")[: self.max_devices]
        )
        total = Device.objects.filter(organization=self.organization).count()
        shown = devices
        ids = [d.pk for d in shown]
        states = {
            pk: data
            for pk, data in DeviceState.objects.filter(device_id__in=ids).values_list("device_id", "data")
        }
        health = dict(DeviceHealth.objects.filter(device_id__in=ids).values_list("device_id", "status"))
        channels = {c.device_id: c for c in DeviceChannel.objects.filter(device_id__in=ids)}
        judged = defaultdict(list)
        for metric in Metric.objects.filter(device_id__in=ids, is_healthy__isnull=False).order_by(
            "configuration", "id"
        ):
            judged[metric.device_id].append(metric)
        families = _Families()
        budget, dropped_devices, dropped_samples = self.max_samples, total - len(shown), 0
        for device in shown:
            data = states.get(device.pk)
            if isinstance(data, str):
                data = json.loads(data)
            samples = device_samples(
                device, data, health.get(device.pk), judged[device.pk], channels.get(device.pk)
            )
            if dropped_samples or len(samples) > budget:  # whole devices, in name order
                dropped_devices += 1
                dropped_samples += len(samples)
                continue
            budget -= len(samples)
            for kind, name, documentation, labels, values, value in samples:
                families.add(kind, name, documentation, labels, values, value)
        yield from families.families.values()
        yield _single(
            "fleetwatch_scrape_devices_dropped",
            "Devices left out of this scrape (FLEETWATCH_PROMETHEUS_MAX_DEVICES, …_MAX_SAMPLES).",
            dropped_devices,
        )
        yield _single(
            "fleetwatch_scrape_samples_dropped",
            "Device samples left out of this scrape with their devices (FLEETWATCH_PROMETHEUS_MAX_SAMPLES).",
            dropped_samples,
        )


def _single(name: str, documentation: str, value: float, labels: dict | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


class QueuesCollector:
    """Server-wide queue depths (every organization's work, counted): reported values waiting
    for the alert evaluation pass, backup jobs waiting to be judged, and messages in the
    embedded broker's folder (the filesystem broker only; RabbitMQ and Redis show their own
    queues in their own exporters)."""

    def collect(self) -> Iterator:
        family = GaugeMetricFamily(
            "fleetwatch_queue_depth", "Items waiting in a queue of the server.", labels=["queue"]
        )
        family.add_metric(["pending_evaluations"], PendingEvaluation.objects.count())
        family.add_metric(["backup_judgements"], BackupJob.objects.filter(needs_check=True).count())
        if settings.BROKER.startswith("filesystem://"):
            folder = settings.DATA_DIR / "broker"
            family.add_metric(["broker"], sum(1 for _ in folder.glob("*.msg")) if folder.is_dir() else 0)
        yield family


def registry_for(organization: Organization, now: datetime) -> CollectorRegistry:
    """Everything one scrape of ``organization`` shows, as a registry of collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        FleetCollector(
            organization,
            settings.FLEETWATCH_PROMETHEUS_MAX_DEVICES,
            settings.FLEETWATCH_PROMETHEUS_MAX_SAMPLES,
        )
    )
    jobs = BackupJob.objects.filter(organization=organization).select_related("organization")
    registry.register(JobsCollector(jobs.order_by("section", "pk"), now))
    registry.register(QueuesCollector())
    instrumentation.collector(registry)
    return registry


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: 200 the exposition (text format 0.0.4, or OpenMetrics 1.0 when the
    ``Accept`` header asks for ``application/openmetrics-text``); 401 ``missing token`` /
    ``invalid token`` (with ``WWW-Authenticate: Bearer``); 403 ``token may not read``; 405 for
    other methods."""
    try:
        token = authenticate(request, "read")
    except ProtocolAuthError as exc:
        response = HttpResponse(
            exc.message + "\n", status=exc.status, content_type="text/plain; charset=utf-8"
        )
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="fleetwatch"'
        return response
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(registry_for(token.organization, timezone.now()))
    return HttpResponse(body, content_type=content_type)
