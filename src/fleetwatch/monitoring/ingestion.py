"""An agent's report → validated NetJSON → points in the time-series store → device state.

Order matters: everything is validated and turned into points before anything is written, so
a rejected report writes nothing; the time-series write comes before the device state, so a
200 always means the points are stored (a failed store raises BackendUnavailable → 503 and
the agent keeps the sample).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.db import transaction

from fleetwatch.core.timeseries import get_backend
from fleetwatch.ingest.netjson import NetJSONError, extract, parse_time, transform_snapshot, validate
from fleetwatch.inventory.models import Device
from fleetwatch.metrics import get_metric
from fleetwatch.monitoring.models import Chart, DeviceState, Metric
from fleetwatch.timeseries import Point
from fleetwatch.timeseries.queries import DEVICE_DATA_MEASUREMENT, DEVICE_DATA_RETENTION

CONTENT_TYPE = "inventory.device"


class ReportRejected(ValueError):
    """A report that will never be acceptable (HTTP 400: the agent discards it)."""


def device_tags(device: Device) -> dict[str, str]:
    tags = {
        "content_type": CONTENT_TYPE,
        "object_id": str(device.pk),
        "organization_id": str(device.organization_id),
    }
    if device.location_id:
        tags["location_id"] = str(device.location_id)
    return tags


def parse_report(body: bytes, time_param: str | None, now: datetime) -> tuple[dict, datetime]:
    if time_param:
        try:
            moment = parse_time(time_param)
        except ValueError:
            raise ReportRejected("Incorrect time format") from None
    else:
        moment = now
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportRejected(f"Invalid JSON: {exc}") from None
    try:
        validate(data)
    except NetJSONError as exc:
        raise ReportRejected(str(exc)) from None
    return data, moment


def ingest(device: Device, body: bytes, time_param: str | None = None, now: datetime | None = None) -> int:
    """Store one report; returns the number of points written."""
    now = now or datetime.now(UTC)
    data, moment = parse_report(body, time_param, now)
    try:
        state = device.state  # joined by the view's device query
    except DeviceState.DoesNotExist:
        state, _ = DeviceState.objects.get_or_create(device=device)
    in_order = state.counters_time is None or moment > state.counters_time
    previous = None
    if state.counters and in_order:
        previous = {"interfaces": [{"name": n, "statistics": c} for n, c in state.counters.items()]}
    samples = extract(data, moment, previous)
    tags = device_tags(device)
    points = [Point(s.measurement, s.fields, s.time, {**tags, **s.main_tags}) for s in samples]
    counters = interface_counters(data)
    snapshot = transform_snapshot(data, copy_first=False)  # samples are extracted already
    backend = get_backend()
    backend.write(points)
    backend.write(
        [Point(DEVICE_DATA_MEASUREMENT, {"data": json.dumps(snapshot)}, moment, {"pk": str(device.pk)})],
        retention=DEVICE_DATA_RETENTION,
    )
    with transaction.atomic():
        ensure_metrics(device, state, samples)
        update_state(device, state, counters, snapshot, moment, in_order, now)
    return len(points) + 1


def _marker(configuration: str, main_tags: dict) -> str:
    return configuration + "|" + json.dumps(main_tags, sort_keys=True)


def ensure_metrics(device: Device, state: DeviceState, samples) -> None:
    """Metric and chart rows for series seen for the first time (no query when all are known)."""
    seen = set(state.series_seen)
    new = {_marker(s.configuration, s.main_tags): s for s in samples}
    missing = [sample for marker, sample in new.items() if marker not in seen]
    if not missing:
        return
    for sample in missing:
        metric_type = get_metric(sample.configuration)
        metric, created = Metric.objects.get_or_create(
            device=device,
            configuration=sample.configuration,
            main_tags=sample.main_tags,
            defaults={"name": sample.name, "key": sample.measurement, "field_name": sample.field_name},
        )
        if created:
            Chart.objects.bulk_create(
                [Chart(metric=metric, configuration=name) for name in metric_type.charts],
                ignore_conflicts=True,
            )
    state.series_seen = sorted(seen | set(new))


def interface_counters(data: dict) -> dict:
    counters = {}
    for iface in data.get("interfaces") or []:
        stats = iface.get("statistics") or {}
        if "rx_bytes" in stats or "tx_bytes" in stats:
            counters[iface["name"]] = {k: stats[k] for k in ("rx_bytes", "tx_bytes") if k in stats}
    return counters


def update_state(device, state, counters, snapshot, moment, in_order, now) -> None:
    if state.data_time is None or moment >= state.data_time:
        state.data, state.data_time = snapshot, moment
    if in_order:
        state.counters, state.counters_time = counters, moment
    state.save()
    # Last seen is when we heard from it, even for a back-dated report.
    Device.objects.filter(pk=device.pk).update(last_seen=now)
