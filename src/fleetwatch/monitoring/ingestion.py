"""An agent's report → validated NetJSON → points in the time-series store → device state.

Order matters: everything is validated and turned into points before anything is written, so
a rejected report writes nothing; the time-series write comes before the device state, so a
200 always means the points are stored (a failed store raises BackendUnavailable → 503 and
the agent keeps the sample).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils.dateparse import parse_datetime

from fleetwatch.core.timeseries import get_backend
from fleetwatch.ingest.netjson import (
    COUNTER_FIELDS,
    InvalidJSON,
    NetJSONError,
    decode,
    extract,
    parse_time,
    traffic_fields,
    transform_snapshot,
    validate,
)
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.metrics import get_metric
from fleetwatch.metrics.builtin import DEVICE_DATA_MEASUREMENT, DEVICE_DATA_RETENTION
from fleetwatch.monitoring.evaluation import record_reported
from fleetwatch.monitoring.models import Chart, DeviceState, Metric
from fleetwatch.monitoring.series import CONTENT_TYPE, device_tags
from fleetwatch.timeseries import Point, ReadQuery

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)

log = logging.getLogger(__name__)


class ReportRejected(ValueError):
    """A report that will never be acceptable (HTTP 400: the agent discards it)."""


@dataclass
class ReportingDevice:
    """What the agent path needs of a device, read in one query (see :func:`reporting_device`):
    the ORM's query building cost more than the rest of a report. Its state is read later,
    under the device's lock (:func:`locked_state`)."""

    pk: uuid.UUID
    key: str
    organization_id: uuid.UUID
    location_id: uuid.UUID | None
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
        f"SELECT d.id, d.key, d.organization_id, d.location_id FROM {_table(Device)} d "
        f"JOIN {_table(Organization)} o ON o.id = d.organization_id "
        f"WHERE d.id = %s AND d.is_active AND o.is_active"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Device._meta.pk.get_db_prep_value(pk, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    return ReportingDevice(
        pk=_uuid(row[0]), key=row[1], organization_id=_uuid(row[2]), location_id=_uuid(row[3])
    )


def parse_report(body: bytes, time_param: str | None, now: datetime) -> tuple[dict, datetime]:
    """Decode and validate a report (nothing is written yet); ReportRejected (400) if it can never
    be stored: not JSON, invalid values where they become points, a bad or future ``time``."""
    if time_param:
        try:
            moment = parse_time(time_param)
        except ValueError:
            raise ReportRejected("Incorrect time format") from None
        if moment > now + settings.FLEETWATCH_CLOCK_TOLERANCE:
            raise ReportRejected(
                f"time {time_param} lies ahead of the server's clock ({now:%d-%m-%Y_%H:%M:%S} UTC) by more "
                f"than {settings.FLEETWATCH_CLOCK_TOLERANCE.total_seconds():g} s"
            )
    else:
        moment = now
    try:
        data = validate(decode(body))
    except InvalidJSON as exc:
        raise ReportRejected(str(exc)) from None
    except NetJSONError as exc:
        raise ReportRejected(str(exc)) from None
    interfaces = data.get("interfaces") or []
    if len(interfaces) > settings.FLEETWATCH_MAX_INTERFACES:
        raise ReportRejected(
            str(NetJSONError(f"more than {settings.FLEETWATCH_MAX_INTERFACES} interfaces", "#/interfaces"))
        )
    return data, moment


def ingest(
    device: ReportingDevice, body: bytes, time_param: str | None = None, now: datetime | None = None
) -> int:
    """Store one report; returns the number of points written.

    Raises ReportRejected (400, nothing written), BackendUnavailable (503: the store is down),
    DeviceBusy (503: another report of the device holds its lease past the timeout) or a
    relational ``OperationalError`` (503: the database is locked or down).

    Three steps (see docs/architecture.md, "Traffic from counters"): a short transaction takes the
    device's lease and reads its state, so a locked database costs a 503 before any point is
    written and concurrent reports of one device are stored one after the other; the
    time-series write, holding no relational lock; a short transaction that stores the state and
    gives the lease back."""
    now = now or datetime.now(UTC)
    data, moment = parse_report(body, time_param, now)
    backend = get_backend()
    if moment < backend.retention_floor("default"):  # InfluxDB answers 400 too ("beyond retention")
        raise ReportRejected(
            f"time {time_param} is older than the {backend.retention_seconds('default') // 86400} days Fleetwatch keeps"
        )
    # Everything that does not depend on the previous readings is prepared outside the lease.
    readings = interface_counters(data)
    samples = extract(data, moment)
    snapshot = json.dumps(transform_snapshot(data, copy_first=False))  # samples are extracted already
    tags = device_tags(device)
    lease, state = take_lease(device)
    try:
        previous, rewrites = place_readings(backend, device, state["counters"], readings, moment)
        for sample in samples:
            if sample.configuration == "traffic":
                ifname = sample.main_tags["ifname"]
                sample.fields.update(traffic_fields(readings[ifname], previous.get(ifname)))
        points = [Point(s.measurement, s.fields, s.time, {**tags, **s.main_tags}) for s in samples]
        backend.write_tiers(
            {
                "default": points + rewrites,
                DEVICE_DATA_RETENTION: [
                    Point(DEVICE_DATA_MEASUREMENT, {"data": snapshot}, moment, {"pk": str(device.pk)})
                ],
            }
        )
    except BaseException:
        release_lease(device, lease)
        raise
    changes = {}
    latest = state["data_time"]
    if latest is None or moment >= latest or latest > now + settings.FLEETWATCH_CLOCK_TOLERANCE:
        changes.update(data=snapshot, data_time=moment)
    counters = merge_counters(state["counters"], readings, moment)
    if counters is not None:
        changes.update(counters=json.dumps(counters), counters_time=moment)
    device.series_seen = state["series_seen"]
    seen = new_series(device, samples)
    if seen is not None:
        changes["series_seen"] = json.dumps(seen)
    with transaction.atomic():
        if not update_state(device, changes, now, lease):
            # The lease expired under us (a store slower than LEASE): merge into what is there.
            current = read_state(device)
            counters = merge_counters(current["counters"], readings, moment)
            changes.pop("counters", None)
            if counters is not None:
                changes.update(counters=json.dumps(counters), counters_time=moment)
            update_state(device, changes, now, None)
        if seen is not None:
            ensure_metrics(device, samples)
        # In the same transaction: a 200 means the values will be judged too.
        schedule_evaluation(device, samples, moment, now)
    return len(points) + len(rewrites) + 1


class DeviceBusy(Exception):
    """Another report of the device held its lease for longer than the lock timeout (503)."""


# A lease outlives any time-series write (their HTTP timeouts are shorter); a process killed
# while holding one delays its device's reports (503, retried) by at most this long.
LEASE = timedelta(seconds=60)


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // ONE_MICROSECOND


_STATE_COLUMNS = "counters, counters_time, data_time, series_seen"
_LEASE_FREE = "(lease_until IS NULL OR lease_until < %s)"


def _state_of(row) -> dict:
    counters = _json(row[0], {})
    counters_time = _datetime(row[1])
    for reading in counters.values():  # before 0.2 the state kept one time for all interfaces
        if "t" not in reading and counters_time is not None:
            reading["t"] = _micros(counters_time)
    return {"counters": counters, "data_time": _datetime(row[2]), "series_seen": _json(row[3], [])}


def read_state(device: ReportingDevice) -> dict:
    pk = Device._meta.pk.get_db_prep_value(device.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_STATE_COLUMNS} FROM {_table(DeviceState)} WHERE device_id = %s", [pk])
        return _state_of(cursor.fetchone())


def until_of(now: datetime):
    return connection.ops.adapt_datetimefield_value(now + LEASE)


def take_lease(device: ReportingDevice) -> tuple[str, dict]:
    """Take the device's lease (creating its state row if needed) and read its state, in one short
    transaction; wait while another report of the device holds it, up to the lock timeout.

    Returns ``(token, state)``; raises DeviceBusy, or OperationalError when the database stays
    locked."""
    token = secrets.token_hex(8)
    pk = Device._meta.pk.get_db_prep_value(device.pk, connection)
    ops = connection.ops
    table = _table(DeviceState)
    # The common case, one statement in autocommit: SQLite holds its write lock only inside it
    # (no Python runs meanwhile), and RETURNING reads the state the lease now protects.
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET lease = %s, lease_until = %s WHERE device_id = %s AND {_LEASE_FREE} "
            f"RETURNING {_STATE_COLUMNS}",
            [token, until_of(now), pk, ops.adapt_datetimefield_value(now)],
        )
        row = cursor.fetchone()
    if row is not None:
        return token, _state_of(row)
    deadline = time.monotonic() + settings.SQLITE_LOCK_TIMEOUT
    step = 0.001
    while True:
        now = datetime.now(UTC)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET lease = %s, lease_until = %s WHERE device_id = %s AND {_LEASE_FREE}",
                [token, until_of(now), pk, ops.adapt_datetimefield_value(now)],
            )
            taken = cursor.rowcount == 1
            if not taken and not DeviceState.objects.filter(device_id=device.pk).exists():
                DeviceState.objects.create(device_id=device.pk, lease=token, lease_until=now + LEASE)
                taken = True
            if taken:
                return token, read_state(device)
        if time.monotonic() >= deadline:
            raise DeviceBusy(f"another report of device {device.pk} is being stored")
        time.sleep(step)
        step = min(step * 2, 0.05)


def release_lease(device: ReportingDevice, token: str) -> None:
    """Give the lease back after a failed write (best effort: it expires anyway)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_table(DeviceState)} SET lease = '', lease_until = NULL WHERE device_id = %s AND lease = %s",
                [Device._meta.pk.get_db_prep_value(device.pk, connection), token],
            )
    except DatabaseError:
        log.warning("could not release the lease of %s; it expires in %s", device.pk, LEASE)


def place_readings(
    backend, device: ReportingDevice, known: dict, readings: dict, moment: datetime
) -> tuple[dict, list[Point]]:
    """Each interface's previous reading, and the traffic points to rewrite.

    A reading later than the interface's latest known one (the common case) follows it. Any other
    (late, re-sent, or the interface's first) is placed among the stored traffic points, which
    keep their counters: its previous reading is the point just before it, and the point just
    after it, if any, is rewritten as the increase since this reading. Returns
    ``({ifname: {"rx_bytes": n, "tx_bytes": n}}, [points to rewrite])``."""
    at = _micros(moment)
    previous, rewrites = {}, []
    for ifname, reading in readings.items():
        latest = known.get(ifname)
        if latest is not None and at > latest.get("t", at):
            previous[ifname] = latest
            continue
        series = {"content_type": CONTENT_TYPE, "object_id": str(device.pk), "ifname": ifname}
        fields = ["rx_bytes", "tx_bytes", *COUNTER_FIELDS.values()]
        before = backend.read(
            ReadQuery(
                "traffic",
                fields,
                series,
                until=moment - ONE_MICROSECOND,
                order="desc",
                limit=1,
                consistent=True,
            )
        )
        after = backend.read(
            ReadQuery("traffic", fields, series, since=moment + ONE_MICROSECOND, limit=1, consistent=True)
        )
        if before:
            previous[ifname] = _reading_of(before[0])
        if after and (successor := _reading_of(after[0])):
            rewrites.append(
                Point("traffic", traffic_fields(successor, reading), after[0].time, after[0].tags)
            )
    return previous, rewrites


def _reading_of(row) -> dict | None:
    """The counters a stored traffic point was computed from (None for points stored before
    Fleetwatch kept them)."""
    reading = {name: row.fields[counter] for name, counter in COUNTER_FIELDS.items() if counter in row.fields}
    return {name: int(value) for name, value in reading.items()} or None


def merge_counters(known: dict, readings: dict, moment: datetime) -> dict | None:
    """The latest reading of every interface ever seen, with this report's where they are newer
    (a report without an interface keeps its reading: the next one counts from it). None if
    nothing changes."""
    at = _micros(moment)
    changed = False
    merged = dict(known)
    for ifname, reading in readings.items():
        latest = known.get(ifname)
        if latest is None or at > latest.get("t", at - 1):
            merged[ifname] = {**reading, "t": at}
            changed = True
    return merged if changed else None


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
    record_reported(device.pk, moment, values)


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
    """``{ifname: {"rx_bytes": n, "tx_bytes": n}}`` of the interfaces that report counters."""
    counters = {}
    for iface in data.get("interfaces") or []:
        stats = iface.get("statistics") or {}
        if "rx_bytes" in stats or "tx_bytes" in stats:
            counters[iface["name"]] = {k: stats[k] for k in COUNTER_FIELDS if k in stats}
    return counters


def update_state(device: ReportingDevice, changes: dict, now: datetime, lease: str | None) -> bool:
    """Store the state and give the lease back (two plain UPDATEs, values serialized beforehand);
    False, with nothing changed, when ``lease`` is no longer the device's."""
    ops = connection.ops
    pk = Device._meta.pk.get_db_prep_value(device.pk, connection)
    json_placeholder = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    columns, params = ["lease = %s", "lease_until = NULL"], [""]
    for name, value in changes.items():
        if isinstance(value, datetime):
            columns.append(f"{ops.quote_name(name)} = %s")
            params.append(ops.adapt_datetimefield_value(value))
        else:
            columns.append(f"{ops.quote_name(name)} = {json_placeholder}")
            params.append(value)
    where, extra = ("device_id = %s AND lease = %s", [pk, lease]) if lease else ("device_id = %s", [pk])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(DeviceState)} SET {', '.join(columns)} WHERE {where}", [*params, *extra]
        )
        if cursor.rowcount != 1:
            return False
        # Last seen is when we heard from it, even for a back-dated report.
        cursor.execute(
            f"UPDATE {_table(Device)} SET last_seen = %s WHERE id = %s",
            [ops.adapt_datetimefield_value(now), pk],
        )
    return True
