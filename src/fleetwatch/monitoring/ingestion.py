"""An agent's report → validated NetJSON → points in the time-series store → device state.

Order matters: everything is validated and turned into points before anything is written, so
a rejected report writes nothing; the time-series write comes before the device state, so a
200 always means the points are stored (a failed store raises BackendUnavailable → 503 and
the agent keeps the sample).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from fleetwatch.core.timeseries import get_backend
from fleetwatch.ingest.netjson import NetJSONError, extract, parse_time, transform_snapshot, validate
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.metrics import get_metric
from fleetwatch.monitoring.models import Chart, DeviceState, Metric
from fleetwatch.timeseries import Point
from fleetwatch.timeseries.queries import DEVICE_DATA_MEASUREMENT, DEVICE_DATA_RETENTION

CONTENT_TYPE = "inventory.device"
log = logging.getLogger(__name__)


class ReportRejected(ValueError):
    """A report that will never be acceptable (HTTP 400: the agent discards it)."""


@dataclass
class ReportingDevice:
    """What the agent path needs of a device and its state, read in one query (see
    :func:`reporting_device`): the ORM's query building cost more than the rest of a report."""

    pk: uuid.UUID
    key: str
    organization_id: uuid.UUID
    location_id: uuid.UUID | None
    has_state: bool = False
    counters: dict = field(default_factory=dict)
    counters_time: datetime | None = None
    data_time: datetime | None = None
    series_seen: list = field(default_factory=list)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _uuid(value) -> uuid.UUID | None:
    return None if value is None else value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _datetime(value) -> datetime | None:
    if isinstance(value, str):  # SQLite hands back text
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _json(value, default):
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str | bytes) else value


def reporting_device(pk) -> ReportingDevice | None:
    """The device if it may report (active, in an active organization), else None."""
    try:
        pk = _uuid(pk)
    except ValueError:
        return None
    sql = (
        f"SELECT d.id, d.key, d.organization_id, d.location_id, s.device_id, s.counters, "
        f"s.counters_time, s.data_time, s.series_seen FROM {_table(Device)} d "
        f"JOIN {_table(Organization)} o ON o.id = d.organization_id "
        f"LEFT JOIN {_table(DeviceState)} s ON s.device_id = d.id "
        f"WHERE d.id = %s AND d.is_active AND o.is_active"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Device._meta.pk.get_db_prep_value(pk, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    return ReportingDevice(
        pk=_uuid(row[0]),
        key=row[1],
        organization_id=_uuid(row[2]),
        location_id=_uuid(row[3]),
        has_state=row[4] is not None,
        counters=_json(row[5], {}),
        counters_time=_datetime(row[6]),
        data_time=_datetime(row[7]),
        series_seen=_json(row[8], []),
    )


def device_tags(device: Device | ReportingDevice) -> dict[str, str]:
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


def ingest(
    device: ReportingDevice, body: bytes, time_param: str | None = None, now: datetime | None = None
) -> int:
    """Store one report; returns the number of points written."""
    now = now or datetime.now(UTC)
    data, moment = parse_report(body, time_param, now)
    in_order = device.counters_time is None or moment > device.counters_time
    previous = None
    if device.counters and in_order:
        previous = {"interfaces": [{"name": n, "statistics": c} for n, c in device.counters.items()]}
    samples = extract(data, moment, previous)
    tags = device_tags(device)
    points = [Point(s.measurement, s.fields, s.time, {**tags, **s.main_tags}) for s in samples]
    counters = interface_counters(data)
    snapshot = json.dumps(transform_snapshot(data, copy_first=False))  # samples are extracted already
    get_backend().write_tiers(
        {
            "default": points,
            DEVICE_DATA_RETENTION: [
                Point(DEVICE_DATA_MEASUREMENT, {"data": snapshot}, moment, {"pk": str(device.pk)})
            ],
        }
    )
    # Everything the transaction writes is prepared first: SQLite holds its one write lock
    # for as short a time as possible.
    changes = {}
    if device.data_time is None or moment >= device.data_time:
        changes.update(data=snapshot, data_time=moment)
    if in_order:
        changes.update(counters=json.dumps(counters), counters_time=moment)
    seen = new_series(device, samples)
    if seen is not None:
        changes["series_seen"] = json.dumps(seen)
    with transaction.atomic():
        if not device.has_state:
            DeviceState.objects.get_or_create(device_id=device.pk)
        if seen is not None:
            ensure_metrics(device, samples)
        update_state(device, changes, now)
    schedule_evaluation(device, samples, moment, now)
    return len(points) + 1


# Reports older than this are history (an agent catching up): they do not raise alerts.
EVALUATE_WITHIN = timedelta(minutes=5)


def schedule_evaluation(device: ReportingDevice, samples, moment: datetime, now: datetime) -> None:
    """Record the alerting values just stored for the worker's next evaluation pass (one row,
    no task: see fleetwatch.monitoring.evaluation)."""
    if now - moment > EVALUATE_WITHIN:
        return
    values = []
    for sample in samples:
        metric_type = get_metric(sample.configuration)
        field = metric_type.alert and (metric_type.alert_field or metric_type.field_name)
        if field and field in sample.fields:
            values.append((sample.configuration, sample.main_tags, sample.fields[field]))
    if not values:
        return
    from fleetwatch.monitoring.evaluation import record_reported

    try:
        record_reported(device.pk, moment, values)
    except Exception:  # the report is stored: a hiccup here must not turn it into an error
        log.exception("could not record the alert evaluation of %s", device.pk)


def _marker(configuration: str, main_tags: dict) -> str:
    return configuration + "|" + json.dumps(main_tags, sort_keys=True)


def new_series(device: ReportingDevice, samples) -> list[str] | None:
    """The updated list of known series, or None when the report brings no new one."""
    seen = set(device.series_seen)
    markers = {_marker(s.configuration, s.main_tags) for s in samples}
    if markers <= seen:
        return None
    return sorted(seen | markers)


def ensure_metrics(device: ReportingDevice, samples) -> None:
    """Metric and chart rows for series seen for the first time."""
    seen = set(device.series_seen)
    missing = {_marker(s.configuration, s.main_tags): s for s in samples}
    for marker in seen:
        missing.pop(marker, None)
    for sample in missing.values():
        metric_type = get_metric(sample.configuration)
        metric, created = Metric.objects.get_or_create(
            device_id=device.pk,
            configuration=sample.configuration,
            main_tags=sample.main_tags,
            defaults={"name": sample.name, "key": sample.measurement, "field_name": sample.field_name},
        )
        if created:
            Chart.objects.bulk_create(
                [Chart(metric=metric, configuration=name) for name in metric_type.charts],
                ignore_conflicts=True,
            )


def interface_counters(data: dict) -> dict:
    counters = {}
    for iface in data.get("interfaces") or []:
        stats = iface.get("statistics") or {}
        if "rx_bytes" in stats or "tx_bytes" in stats:
            counters[iface["name"]] = {k: stats[k] for k in ("rx_bytes", "tx_bytes") if k in stats}
    return counters


def update_state(device: ReportingDevice, changes: dict, now: datetime) -> None:
    """Two plain UPDATEs with values serialized beforehand (JSON text, adapted datetimes)."""
    ops = connection.ops
    pk = Device._meta.pk.get_db_prep_value(device.pk, connection)
    json_placeholder = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    columns, params = [], []
    for name, value in changes.items():
        if isinstance(value, datetime):
            columns.append(f"{ops.quote_name(name)} = %s")
            params.append(ops.adapt_datetimefield_value(value))
        else:
            columns.append(f"{ops.quote_name(name)} = {json_placeholder}")
            params.append(value)
    with connection.cursor() as cursor:
        if columns:
            cursor.execute(
                f"UPDATE {_table(DeviceState)} SET {', '.join(columns)} WHERE device_id = %s", [*params, pk]
            )
        # Last seen is when we heard from it, even for a back-dated report.
        cursor.execute(
            f"UPDATE {_table(Device)} SET last_seen = %s WHERE id = %s",
            [ops.adapt_datetimefield_value(now), pk],
        )
