"""InfluxDB line protocol in: ``POST /write`` (InfluxDB 1.x) and ``POST /api/v2/write`` (2.x).

What Telegraf's ``outputs.influxdb`` / ``outputs.influxdb_v2`` and the official clients send,
stored through the configured time-series backend (the shared contract: each line's measurement
as sent, the device's series tags (``monitoring.series.device_tags``) plus the line's own tags,
fields with their types). docs/protocols.md is the user's side of this module.

A request is all or nothing: the body is parsed whole (``fleetwatch.ingest.lineprotocol``), every
line is mapped to its device and checked as a ``Point``, and only then written, in one backend
write. Answers, as InfluxDB gives them:

* 204: stored (the same body again stores the same points: writes are idempotent on series and time);
* 400: a bad line (``line N: reason``), a reserved tag, an unknown host when they are refused,
  an unknown precision, a body that is not UTF-8 or not gzip;
* 401 / 403: no valid token / a token without write permission; 404: v2's ``org`` is not the
  token's organization; 405: not a POST; 413: the body (or what it unzips to) is larger than
  ``FLEETWATCH_LINEPROTOCOL_MAX_BODY``; 503 + ``Retry-After``: a store is unavailable.

Error bodies: v1 ``{"error": "…"}``, v2 ``{"code": "invalid", "message": "…"}`` with InfluxDB 2's
codes (``unauthorized``, ``forbidden``, ``not found``, ``request too large``, ``unavailable``).

The hot path is bulk: one query for the request's devices, one backend write, metric rows only
for series this process has not seen (a cache), no ORM work per line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import zlib
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from fleetwatch.core.errors import RETRY_AFTER_SECONDS
from fleetwatch.core.timeseries import get_backend
from fleetwatch.ingest.lineprotocol import PRECISIONS_V1, PRECISIONS_V2, Line, LineError, parse
from fleetwatch.inventory.models import Device
from fleetwatch.metrics import get_metric
from fleetwatch.metrics.builtin import LINEPROTOCOL_METRICS
from fleetwatch.monitoring.models import Chart, Metric
from fleetwatch.monitoring.series import device_tags
from fleetwatch.protocols.access import ProtocolAuthError, authenticate
from fleetwatch.timeseries import BackendUnavailable, InvalidInput, InvalidPoint, Point
from fleetwatch.timeseries.model import check_name
from fleetwatch.timeseries.times import EPOCH

log = logging.getLogger(__name__)

# Tags the storage contract sets from the device; a line may not set them itself.
RESERVED_TAGS = frozenset({"content_type", "object_id", "organization_id", "location_id"})
# InfluxDB 2's error codes by status.
V2_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "request too large",
    503: "unavailable",
}
# A device's last_seen is written at most this often by line protocol.
LAST_SEEN_EVERY = timedelta(minutes=1)
# Metric rows known to exist are remembered this long (a deleted one comes back after it).
KNOWN_FOR = 300.0


class Refused(Exception):
    """A request answered with ``status`` and ``message`` (in the endpoint's error shape)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class DeviceRef(NamedTuple):
    pk: uuid.UUID
    tags: dict[str, str]
    new: bool


# --------------------------------------------------------------------------- views


@csrf_exempt
def write_v1(request: HttpRequest) -> HttpResponse:
    """InfluxDB 1.x ``/write``: ``db`` (required, any name), ``rp`` (ignored), ``precision``
    (n, ns, u, us, ms, s, m, h; ns by default), the token as ``p``, Basic or Token auth."""
    return _answer(request, "v1")


@csrf_exempt
def write_v2(request: HttpRequest) -> HttpResponse:
    """InfluxDB 2.x ``/api/v2/write``: ``bucket`` (required, any name), ``org`` or ``orgID``
    (optional; when given, the token's organization's slug, name or id), ``precision``
    (ns, us, ms, s), ``Authorization: Token <token>``."""
    return _answer(request, "v2")


def _error(dialect: str, status: int, message: str) -> HttpResponse:
    if dialect == "v1":
        response = JsonResponse({"error": message}, status=status)
        response["X-Influxdb-Error"] = message[:200]
    else:
        response = JsonResponse(
            {"code": V2_CODES.get(status, "internal error"), "message": message}, status=status
        )
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _answer(request: HttpRequest, dialect: str) -> HttpResponse:
    if request.method != "POST":
        response = _error(dialect, 405, f"method {request.method} not allowed: POST line protocol")
        response["Allow"] = "POST"
        return response
    try:
        token = authenticate(request, "write")
        organization = token.organization
        precision = _check_params(request, dialect, organization)
        text = _body(request)
        lines = parse(text, precision, PRECISIONS_V1 if dialect == "v1" else PRECISIONS_V2)
        if not lines:
            raise Refused(400, "writing requires points")
        store(organization, lines)
    except ProtocolAuthError as exc:
        return _error(dialect, exc.status, exc.message)
    except Refused as exc:
        return _error(dialect, exc.status, exc.message)
    except LineError as exc:
        return _error(dialect, 400, f"unable to parse line protocol: {exc}")
    except InvalidInput as exc:  # the store refused the batch (a field's type changed, …)
        return _error(dialect, 400, f"unable to store points: {exc}")
    except (BackendUnavailable, OperationalError, InterfaceError) as exc:
        log.warning("line protocol write unavailable: %s", exc)
        return _error(dialect, 503, "the store is unavailable; retry later")
    return HttpResponse(status=204)


def _check_params(request: HttpRequest, dialect: str, organization) -> str:
    """The request's precision; Refused for a missing database/bucket, a foreign org or an
    unknown precision."""
    params = request.GET
    if dialect == "v1":
        if not params.get("db"):
            raise Refused(400, "database is required")
        precision = params.get("precision") or "ns"
        allowed = PRECISIONS_V1
    else:
        if not params.get("bucket"):
            raise Refused(400, "bucket is required")
        for key in ("org", "orgID"):
            given = params.get(key)
            if given and given not in (organization.slug, organization.name, str(organization.pk)):
                raise Refused(404, f'organization "{given}" not found')
        precision = params.get("precision") or "ns"
        allowed = PRECISIONS_V2
    if precision not in allowed:
        raise Refused(400, f"invalid precision {precision!r}: use one of {', '.join(allowed)}")
    return precision


def _body(request: HttpRequest) -> str:
    """The body as text, unzipped if ``Content-Encoding: gzip`` (Refused 413 beyond the limit,
    400 if not gzip or not UTF-8)."""
    limit = settings.FLEETWATCH_LINEPROTOCOL_MAX_BODY
    too_large = Refused(413, f"request body is larger than {limit} bytes (FLEETWATCH_LINEPROTOCOL_MAX_BODY)")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    raw = request.read(limit + 1)  # not request.body: that stops at DATA_UPLOAD_MAX_MEMORY_SIZE
    if len(raw) > limit:
        raise too_large
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding == "gzip":
        unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = unzip.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise Refused(400, f"invalid gzip body: {exc}") from None
        if len(data) > limit or unzip.unconsumed_tail:
            raise too_large
        if not unzip.eof:
            raise Refused(400, "invalid gzip body: truncated")
        raw = data
    elif encoding not in ("", "identity"):
        raise Refused(400, f"unsupported Content-Encoding {encoding!r}: send gzip or identity")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise Refused(400, f"unable to parse line protocol: line {line}: invalid UTF-8") from None


# --------------------------------------------------------------------------- storing


def store(organization, lines: list[Line]) -> int:
    """Write parsed ``lines`` for ``organization``'s devices; returns the points kept.

    Raises LineError (a line without its host tag, with a reserved tag, of a refused unknown
    host, or not storable as a Point: nothing written), InvalidInput (the store refused the
    batch), BackendUnavailable / OperationalError (retry)."""
    host_tag = settings.FLEETWATCH_LINEPROTOCOL_HOST_TAG
    refs = _devices(organization, lines, host_tag)
    now_us = time.time_ns() // 1000
    moments: dict[int, object] = {}
    points = []
    append = points.append
    # id(line's tags dict) → (stored tags, metric key). Lines of one series key share their tags
    # dict (the parser's cache; ``lines`` keeps them alive, so ids are not reused meanwhile): the
    # first line of a series is checked as a Point in full, the others reuse its checked tags.
    known: dict[int, tuple[dict[str, str], tuple]] = {}
    # metric key (device pk, measurement, sorted tags) → the first line's fields, for new rows
    series: dict[tuple, dict] = {}
    for line in lines:
        tags = line.tags
        micros = now_us if line.time is None else line.time
        moment = moments.get(micros)
        if moment is None:
            moment = moments[micros] = EPOCH + timedelta(microseconds=micros)
        entry = known.get(id(tags))
        try:
            if entry is None:
                merged, key = _series(line, refs[tags[host_tag]], host_tag)
                append(Point(line.measurement, line.fields, moment, merged))
                known[id(tags)] = (merged, key)
                if key not in series:
                    series[key] = line.fields
            else:
                append(_point(line.measurement, line.fields, moment, entry[0]))
        except InvalidPoint as exc:
            raise LineError(line.number, str(exc)) from None
    if len(_checked) > 100_000:
        _checked.clear()
    _create_devices(organization, refs)
    kept = get_backend().write(points)
    _ensure_metrics(series)
    _touch(refs)
    return kept


def _series(line: Line, ref: DeviceRef, host_tag: str) -> tuple[dict[str, str], tuple]:
    """The tags a line's points are stored with and its metric key (LineError for a reserved tag)."""
    if len(line.tags) == 1:
        return ref.tags, (ref.pk, line.measurement, ())
    own = dict(line.tags)
    del own[host_tag]
    if not RESERVED_TAGS.isdisjoint(own):
        reserved = sorted(RESERVED_TAGS.intersection(own))[0]
        raise LineError(line.number, f"tag {reserved!r} is reserved (set from the device)")
    return {**ref.tags, **own}, (ref.pk, line.measurement, tuple(sorted(own.items())))


# Field names found valid (bounded as the model's own cache is).
_checked: set[str] = set()


def _point(measurement: str, fields: dict, moment, tags: dict[str, str]) -> Point:
    """A Point of a series already checked (measurement and tags, by a first ``Point(...)``) whose
    field values the parser made (finite floats, ints, strings, booleans): only the field names
    are left to check (InvalidPoint as ``Point`` raises it). Points of a series share ``tags``."""
    for name in fields:
        if name not in _checked:
            _checked.add(check_name(name, "field"))
    point = object.__new__(Point)
    point.measurement = measurement
    point.tags = tags
    point.fields = fields
    point.time = moment
    return point


def _devices(organization, lines: list[Line], host_tag: str) -> dict[str, DeviceRef]:
    """Host name → device of every line (one query); unknown hosts get a new device (created by
    ``_create_devices`` once every line is known to be good) or are refused."""
    names = set()
    for line in lines:
        host = line.tags.get(host_tag)
        if host is None:
            raise LineError(line.number, f"missing tag {host_tag!r} naming the device")
        names.add(host)
    refs: dict[str, DeviceRef] = {}
    rows = (
        Device.objects.filter(organization=organization, name__in=names)
        .order_by("created", "id")  # several devices of one name: the oldest
        .values_list("pk", "name", "location_id")
    )
    for pk, name, location_id in rows:
        if name not in refs:
            refs[name] = DeviceRef(pk, _tags(pk, organization.pk, location_id), False)
    unknown = names - refs.keys()
    if unknown:
        if settings.FLEETWATCH_LINEPROTOCOL_UNKNOWN_HOSTS == "refuse":
            line = next(line for line in lines if line.tags[host_tag] in unknown)
            host = line.tags[host_tag]
            raise LineError(
                line.number,
                f"unknown host {host!r}: the organization has no device of that name "
                "(FLEETWATCH_LINEPROTOCOL_UNKNOWN_HOSTS is refuse)",
            )
        for name in unknown:
            if len(name) > Device._meta.get_field("name").max_length:
                line = next(line for line in lines if line.tags[host_tag] == name)
                raise LineError(line.number, f"host name {name[:20]!r}… is longer than 64 characters")
            pk = uuid.uuid4()
            refs[name] = DeviceRef(pk, _tags(pk, organization.pk, None), True)
    return refs


def _tags(pk, organization_id, location_id) -> dict[str, str]:
    return device_tags(_Series(pk, organization_id, location_id))


class _Series(NamedTuple):
    pk: object
    organization_id: object
    location_id: object


_create_lock = threading.Lock()


def _create_devices(organization, refs: dict[str, DeviceRef]) -> None:
    """The new hosts' devices, with the ids their points carry (``save`` so that the usual
    checks are set up, as for any new device)."""
    new = {name: ref for name, ref in refs.items() if ref.new}
    if not new:
        return
    # Two requests naming the same new host at the same moment: the second finds the device
    # made meanwhile (its points carry another id) and is told to retry, which then finds it.
    # Across processes the race remains possible; the oldest device of a name is used afterwards.
    with _create_lock, transaction.atomic():
        if Device.objects.filter(organization=organization, name__in=new).exists():
            raise Refused(503, "a device of this request was created meanwhile; retry")
        for name, ref in new.items():
            Device.objects.create(pk=ref.pk, organization=organization, name=name)
            refs[name] = ref._replace(new=False)


_known: set[tuple] = set()
_known_since = time.monotonic()
_known_lock = threading.Lock()


def _ensure_metrics(series: dict[tuple, dict]) -> None:
    """A metric row (and its charts) per series not seen before by this process."""
    global _known_since
    if time.monotonic() - _known_since > KNOWN_FOR or len(_known) > 200_000:
        with _known_lock:
            _known.clear()
            _known_since = time.monotonic()
    for key, fields in series.items():
        if key in _known:
            continue
        device_pk, measurement, tags = key
        main_tags = dict(tags)
        configuration = LINEPROTOCOL_METRICS.get(measurement)
        numeric = sorted(k for k, v in fields.items() if type(v) in (int, float))
        if configuration is not None:
            field_name = get_metric(configuration).field_name
        elif numeric:
            configuration, field_name = "lineprotocol", numeric[0]
        else:
            configuration, field_name = "lineprotocol_values", sorted(fields)[0]
        try:
            metric, created = Metric.objects.get_or_create(
                device_id=device_pk,
                configuration=configuration,
                key=measurement,
                main_tags=main_tags,
                defaults={"name": _metric_name(measurement, main_tags), "field_name": field_name},
            )
        except IntegrityError:  # created by a concurrent request meanwhile
            created = False
        if created:
            Chart.objects.bulk_create(
                [Chart(metric=metric, configuration=name) for name in get_metric(configuration).charts],
                ignore_conflicts=True,
            )
        _known.add(key)


def _metric_name(measurement: str, main_tags: dict) -> str:
    if not main_tags:
        return measurement
    return f"{measurement} {json.dumps(main_tags, sort_keys=True, ensure_ascii=False)}"[:128]


_touched: dict[uuid.UUID, float] = {}


def _touch(refs: dict[str, DeviceRef]) -> None:
    """The devices are seen now (at most once a minute per device and process)."""
    clock = time.monotonic()
    stale = [
        ref.pk
        for ref in refs.values()
        if clock - _touched.get(ref.pk, -1e9) > LAST_SEEN_EVERY.total_seconds()
    ]
    if not stale:
        return
    Device.objects.filter(pk__in=stale).update(last_seen=timezone.now())
    if len(_touched) > 100_000:
        _touched.clear()
    for pk in stale:
        _touched[pk] = clock
