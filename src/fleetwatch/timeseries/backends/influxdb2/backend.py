"""InfluxDB 2.x: points as line protocol through the official client's write API, charts as Flux,
retention tiers as buckets with retention rules, deletes through the delete API.

Buckets: the default tier is the bucket ``<namespace>``, every other tier ``<namespace>_<tier>``
(the namespace is the ``schema`` option, else the bucket named in the URL), created on first
use with the tier's duration as retention rule (none with ``server_retention=false``).

Charts are one Flux script per call, one ``yield`` per aggregate (and per summary), so a chart
and its summary are one round trip. Bucket edges match ``Bucketing`` exactly: sub-day windows
are ``aggregateWindow(every, offset)`` with the zone's offset at the range start, day and week
windows follow the local calendar with ``location`` (23- and 25-hour days, epoch-aligned
Thursdays for weeks), checked against ``Bucketing`` over two years of DST changes in nine zones.
``mean``/``sum``/``count`` and an exact ``count_distinct`` (``distinct |> count``) run on the
server with ``createEmpty`` windows; ``min``/``max``/``last`` run per series on the server
(InfluxDB's storage computes those in place) and are merged here, because the same selectors
over a regrouped stream are an order of magnitude slower; ``mode`` is computed here from raw
values, since Flux has none and the tie rule (first seen, then smallest) is Fleetwatch's.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fleetwatch.timeseries.backend import BaseBackend, Features
from fleetwatch.timeseries.backends.influxdb.influxql import LineBuilder
from fleetwatch.timeseries.backends.influxdb.points import checked_lines, flag, mode_of
from fleetwatch.timeseries.backends.influxdb2 import flux
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.errors import (
    BackendUnavailable,
    ConfigurationError,
    FieldTypeError,
    TimeseriesError,
)
from fleetwatch.timeseries.model import (
    NUMERIC_AGGREGATES,
    ChartQuery,
    Point,
    ReadQuery,
    Row,
    check_query_name,
    from_micros,
    to_micros,
)

try:
    import urllib3
    from influxdb_client import InfluxDBClient, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the influxdb2 backend needs the official client: pip install 'fleetwatch[influxdb2]'"
    ) from exc

KIND_OF_CSV = {
    "double": "float",
    "long": "integer",
    "unsignedLong": "integer",
    "boolean": "boolean",
    "string": "string",
}
# Columns Flux itself uses: a tag or field of that name would collide with them after a pivot
# (InfluxDB refuses some of them as tag keys, and panics on others in queries).
RESERVED_NAMES = frozenset({"_start", "_stop", "_time", "_value", "_field", "_measurement", "time"})
SERVER_FUNCTIONS = {"mean": "mean", "sum": "sum", "count": "count"}
HOUR = 3600
DESCRIPTION = "fleetwatch:{namespace}:{tier}"


def _reason(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        return json.loads(body).get("message") or str(exc.reason)
    except (TypeError, ValueError):
        return (body or str(exc.reason) or "")[:500]


def _series_key(tags: dict[str, str]) -> str:
    """The SQL backends' order of series that share a timestamp."""
    return json.dumps(tags, sort_keys=True, separators=(",", ":"))


class Influx2Features(Features):
    supports_point_delete = True
    max_write_batch = 10_000
    concurrent_reads_help = True


class InfluxDB2Backend(BaseBackend):
    vendor = "influxdb2"
    display_name = "InfluxDB 2.x"
    features_class = Influx2Features

    def __init__(self, config, clock=None):
        super().__init__(config, clock)
        options = config.options
        self.namespace = check_query_name(options.get("schema") or config.name or "fleetwatch", "bucket")
        self.org = options.get("org") or ""
        if not self.org:
            raise ConfigurationError("influxdb2: the URL needs the organization, e.g. ?org=fleetwatch")
        # Server-side retention (bucket retention rules) follows the server's clock; without it
        # buckets keep data forever and `enforce_retention()` deletes expired points by ours.
        self.server_retention = flag(options.get("server_retention", "true"))
        try:
            self.batch_size = int(options.get("batch_size", self.features.max_write_batch))
            timeout = float(options.get("timeout", 30))
            self.write_retries = int(options.get("write_retries", 3))
            self.retry_interval = float(options.get("retry_interval", 0.5))
        except ValueError as exc:
            raise ConfigurationError(f"influxdb2: {exc}") from None
        scheme = "https" if flag(options.get("ssl", "false")) else "http"
        url = f"{scheme}://{config.host or '127.0.0.1'}:{config.port or 8086}"
        token = options.get("token") or (config.user if not config.password else "")
        credentials: dict[str, Any] = {"token": token}
        if config.user and config.password:
            credentials = {"username": config.user, "password": config.password}
        self.client = InfluxDBClient(
            url=url,
            org=self.org,
            timeout=(min(timeout, 5.0) * 1000, timeout * 1000),
            enable_gzip=flag(options.get("gzip", "false")),
            verify_ssl=flag(options.get("verify_ssl", "true")),
            retries=False,  # retrying is decided here: 5xx writes are retried, 4xx are not
            **credentials,
        )
        self.url = url
        # Buckets and organizations are managed with plain JSON calls: the client's typed models
        # cannot be deserialized while `datetime` is patched (freezegun, in OpenWISP's tests).
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=False,
            cert_reqs="CERT_REQUIRED" if flag(options.get("verify_ssl", "true")) else "CERT_NONE",
        )
        self._write_api = self.client.write_api(write_options=SYNCHRONOUS)
        self._query_api = self.client.query_api()
        self._delete_api = self.client.delete_api()
        self._lock = threading.Lock()
        self._org_id: str | None = None
        self._buckets: dict[str, int] = {}  # tier → duration applied on the server
        self._kinds: dict[tuple[str, str], dict[str, str]] = {}  # (bucket, measurement) → field kinds
        self._builder = LineBuilder()

    # ------------------------------------------------------------------ transport

    def _error(self, exc: BaseException, what: str) -> TimeseriesError:
        """The storage layer's error for one of the client's."""
        if isinstance(exc, ApiException):
            if exc.status is not None and exc.status >= 500:
                return BackendUnavailable(f"InfluxDB answered {exc.status} to {what}: {_reason(exc)}")
            if exc.status in (401, 403):
                return ConfigurationError(f"InfluxDB refused the token for {what}: {_reason(exc)}")
            return TimeseriesError(f"InfluxDB refused {what} ({exc.status}): {_reason(exc)}")
        return BackendUnavailable(f"InfluxDB at {self.url} is unreachable ({what}): {exc}")

    def _call(self, what: str, function, *args, **kwargs):
        """One API call with the client's errors turned into the storage layer's."""
        try:
            return function(*args, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error(exc, what) from exc

    def _api(self, what: str, method: str, path: str, fields: dict | None = None, body: dict | None = None):
        """One management call as plain JSON; the answer's JSON, or None for 204 and 404."""
        if "Authorization" not in self._headers:
            raise ConfigurationError("influxdb2: bucket management needs an API token (the URL's user part)")
        url = self.url.rstrip("/") + path
        if fields:
            url += "?" + urlencode(fields)
        try:
            response = self._http.request(
                method,
                url,
                headers=self._headers,
                body=json.dumps(body).encode() if body is not None else None,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise BackendUnavailable(f"InfluxDB at {self.url} is unreachable ({what}): {exc}") from exc
        if response.status in (204, 404):
            return None
        try:
            payload = json.loads(response.data or b"{}")
        except ValueError:
            payload = {}
        if response.status >= 500:
            raise BackendUnavailable(
                f"InfluxDB answered {response.status} to {what}: {payload.get('message', '')}"
            )
        if response.status in (401, 403):
            raise ConfigurationError(f"InfluxDB refused the token for {what}: {payload.get('message', '')}")
        if response.status >= 400:
            raise TimeseriesError(
                f"InfluxDB refused {what} ({response.status}): {payload.get('message', '')}"
            )
        return payload

    def _query(self, script: str) -> dict[str, list[flux.Block]]:
        """Run a Flux script; its blocks per result (yield) name."""
        for attempt in (0, 1):
            try:
                response = self._query_api.query_raw(script, org=self._org())
                text = response.data.decode()
                break
            except ApiException as exc:
                if attempt == 0 and exc.status == 404 and "bucket" in _reason(exc):
                    self._forget_buckets()  # deleted behind our back (another process's flush)
                    self._prepare()
                    continue
                raise self._error(exc, "a query") from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._error(exc, "a query") from exc
        return flux.by_result(flux.parse(text))

    def _org(self) -> str:
        if self._org_id is None:
            found = self._api("looking up the organization", "GET", "/api/v2/orgs", {"org": self.org}) or {}
            orgs = found.get("orgs") or []
            if not orgs:
                raise ConfigurationError(f"influxdb2: no organization {self.org!r} is visible to the token")
            self._org_id = orgs[0]["id"]
        return self._org_id

    # ------------------------------------------------------------------ buckets

    def bucket(self, tier: str) -> str:
        return self.namespace if tier == "default" else f"{self.namespace}_{tier}"

    def _rules(self, seconds: int) -> list:
        every = max(seconds, HOUR) if self.server_retention else 0
        return [{"type": "expire", "everySeconds": every}]

    def _prepare(self) -> None:
        tiers = self.config.retention
        if self._buckets == tiers:
            return
        with self._lock:
            org_id = self._org()
            for tier, seconds in tiers.items():
                if self._buckets.get(tier) == seconds:
                    continue
                name = self.bucket(tier)
                rules = self._rules(seconds)
                found = self._find_bucket(name, org_id)
                if found:
                    existing = found[0]
                    current = [r.get("everySeconds", 0) for r in existing.get("retentionRules") or []] or [0]
                    if current != [rules[0]["everySeconds"]]:
                        self._api(
                            f"updating bucket {name}", "PATCH", f"/api/v2/buckets/{existing['id']}",
                            body={"retentionRules": rules},
                        )  # fmt: skip
                else:
                    body = {
                        "orgID": org_id,
                        "name": name,
                        "retentionRules": rules,
                        "description": DESCRIPTION.format(namespace=self.namespace, tier=tier),
                    }
                    try:
                        self._api(f"creating bucket {name}", "POST", "/api/v2/buckets", body=body)
                    except TimeseriesError as exc:
                        if "already exists" not in str(exc):  # a race with another process: fine
                            raise
                self._buckets[tier] = seconds
            for tier in list(self._buckets):
                if tier not in tiers:
                    del self._buckets[tier]

    def _find_bucket(self, name: str, org_id: str) -> list:
        # A 404 is what InfluxDB answers when no bucket has that name.
        found = self._api(f"finding bucket {name}", "GET", "/api/v2/buckets", {"name": name, "orgID": org_id})
        return (found or {}).get("buckets") or []

    def _forget_buckets(self) -> None:
        with self._lock:
            self._buckets = {}
            self._kinds.clear()

    def _apply_retention(self) -> None:
        self._forget_buckets()
        self._prepare()

    # ------------------------------------------------------------------ field kinds

    def _field_kinds(self, bucket: str, measurements, refresh: bool = False) -> dict[str, dict[str, str]]:
        """Field kinds per measurement (``float``, ``integer``, ``string``, ``boolean``), from the
        type of each field's first value (a field keeps one type per shard)."""
        wanted = sorted(m for m in measurements if refresh or (bucket, m) not in self._kinds)
        if wanted:
            source = (
                f"from(bucket: {flux.string(bucket)}) |> range(start: {flux.MIN_TIME}, stop: {flux.MAX_TIME})"
                f" |> filter(fn: (r) => {flux.any_of('_measurement', wanted)}) |> first()"
                ' |> keep(columns: ["_measurement", "_field", "_value"])'
            )
            try:
                # One row per field, unless a field's type changed between shards.
                results = self._query(
                    source + ' |> group(columns: ["_measurement", "_field"]) |> limit(n: 1)'
                )
            except BackendUnavailable:
                raise
            except TimeseriesError:  # "schema collision": one row per series and field then
                results = self._query(source)
            found: dict[str, dict[str, str]] = {m: {} for m in wanted}
            for block in results.get("_result", []):
                kind = KIND_OF_CSV.get(block.types.get("_value", ""), "string")
                for measurement, name in zip(
                    flux.values(block, "_measurement"), flux.values(block, "_field"), strict=True
                ):
                    found.setdefault(measurement, {}).setdefault(name, kind)
            for measurement, kinds in found.items():
                self._kinds[(bucket, measurement)] = kinds
        return {m: self._kinds.get((bucket, m), {}) for m in measurements}

    # ------------------------------------------------------------------ writes

    def _write(self, points: list[Point], retention: str) -> None:
        self._write_tiers({retention: points})

    def _write_tiers(self, batches: dict[str, list[Point]]) -> None:
        self._prepare()
        # Every line is built, and every point checked (names, field types, tag values), before
        # the first request: the server would otherwise keep the good part of a refused batch.
        prepared = [
            (self.bucket(tier), self._lines(self.bucket(tier), points)) for tier, points in batches.items()
        ]
        for bucket, lines in prepared:
            for start in range(0, len(lines), self.batch_size):
                self._post(bucket, "\n".join(lines[start : start + self.batch_size]).encode())

    def _post(self, bucket: str, body: bytes) -> None:
        """One batch through the client's write API. Points outside the bucket's retention (by
        the server's clock) are dropped as InfluxDB does; 5xx and 429 answers are retried."""
        attempt = 0
        while True:
            try:
                self._write_api.write(bucket, self._org(), body, write_precision=WritePrecision.US)
                return
            except ApiException as exc:
                reason = _reason(exc)
                status = exc.status or 0
                if status == 422 and "outside retention policy" in reason and "conflict" not in reason:
                    return
                if status == 422 and "field type conflict" in reason:
                    self._kinds = {k: v for k, v in self._kinds.items() if k[0] != bucket}
                    raise FieldTypeError(f"InfluxDB refused the write: {reason}") from exc
                if status == 404 and "bucket" in reason and attempt == 0:
                    self._forget_buckets()
                    self._prepare()
                elif (status >= 500 or status == 429) and attempt < self.write_retries:
                    delay = self.retry_interval * 2**attempt
                    retry_after = (exc.headers or {}).get("Retry-After")
                    if retry_after and retry_after.isdigit():
                        delay = min(max(delay, int(retry_after)), 30)
                    time.sleep(delay)
                elif status >= 500 or status == 429:
                    raise BackendUnavailable(
                        f"InfluxDB answered {status} to a write {attempt + 1} times: {reason}"
                    ) from exc
                else:
                    raise TimeseriesError(f"InfluxDB refused the write ({status}): {reason}") from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._error(exc, "a write") from exc
            attempt += 1

    def _lines(self, bucket: str, points: list[Point]) -> list[str]:
        """Checked line protocol of the points (see ``points.checked_lines``), Flux's own column
        names refused."""
        kinds = self._field_kinds(bucket, {p.measurement for p in points})
        lines, learned = checked_lines(self._builder, points, kinds, RESERVED_NAMES, "InfluxDB 2.x")
        for measurement, found in learned.items():
            self._kinds.setdefault((bucket, measurement), {}).update(found)
        return lines

    # ------------------------------------------------------------------ reads

    def _source(self, bucket: str, since: int | None, until: int | None) -> str:
        """``from |> range``: ``since`` and ``until`` inclusive (microseconds)."""
        start = flux.time(since) if since is not None else flux.MIN_TIME
        stop = flux.time(until + 1) if until is not None else flux.MAX_TIME
        return f"from(bucket: {flux.string(bucket)}) |> range(start: {start}, stop: {stop})"

    def _where_predicate(self, bucket: str, query: ReadQuery) -> str:
        """The query's comparisons on pivoted rows, typed per measurement."""
        kinds = self._field_kinds(bucket, query.measurements)
        if any(w.field not in kinds[m] for w in query.where for m in query.measurements):
            kinds = self._field_kinds(bucket, query.measurements, refresh=True)
        alternatives = []
        for measurement in query.measurements:
            conditions = [flux.where_condition(w, kinds[measurement].get(w.field)) for w in query.where]
            if "false" in conditions:
                continue
            alternatives.append(
                "(" + " and ".join([f"r._measurement == {flux.string(measurement)}", *conditions]) + ")"
            )
        return " or ".join(alternatives) or "false"

    def _selection(self, query: ReadQuery, since, until, fields: list[str] | None) -> tuple[str, bool]:
        """The points a read selects (pivoted when ``where`` compares fields): Flux text."""
        bucket = self.bucket(query.retention)
        read = fields
        if fields is not None and query.where:
            read = list(dict.fromkeys([*fields, *(w.field for w in query.where)]))
        script = (
            self._source(bucket, to_micros(since), until and to_micros(until))
            + f" |> filter(fn: (r) => {flux.series_predicate(query.measurements, query.tags, read)})"
        )
        if not query.where:
            return script, False
        condition = self._where_predicate(bucket, query)
        if fields is not None and read != fields:
            # A point is read only if it carries one of the fields asked for.
            present = " or ".join(f"exists {flux.column(name)}" for name in fields)
            condition = f"({condition}) and ({present})"
        return (
            script
            + ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
            + f" |> filter(fn: (r) => {condition})"
            # pivot() keeps rows in the order their times first appear among the fields' tables
            + ' |> sort(columns: ["_time"])'
        ), True

    def _read(self, query: ReadQuery, since: datetime, until: datetime | None) -> list[Row]:
        self._prepare()
        selected = None if query.fields == "*" else list(query.fields)
        script, pivoted = self._selection(query, since, until, selected)
        if query.limit:
            # Per table (a series' field, or a pivoted series): whatever the global first
            # `limit` points are, each of their values is within its table's first `limit`.
            script += f" |> {'tail' if query.order == 'desc' else 'limit'}(n: {int(query.limit)})"
        script += ' |> drop(columns: ["_start", "_stop"])'
        points: dict[tuple, tuple] = {}
        for block in self._query(script).get("_result", []):
            times = flux.values(block, "_time")
            names = flux.values(block, "_measurement")
            tag_columns = sorted(block.group - {"_measurement", "_field"})
            tag_values = [flux.values(block, c) for c in tag_columns]
            if pivoted:
                field_columns = [c for c in block.columns if c not in block.group and c != "_time"]
                if selected is not None:
                    field_columns = [c for c in field_columns if c in selected]
                # A pivoted row shows a field the point lacks as an empty cell, which in a string
                # column cannot be told from "": such a value reads as absent here.
                field_values = [(c, flux.values(block, c, empty_string=None)) for c in field_columns]
            else:
                field_names = flux.values(block, "_field")
                value_list = flux.values(block, "_value")
            for i, moment in enumerate(times):
                tags = {c: v[i] for c, v in zip(tag_columns, tag_values, strict=True) if v[i]}
                key = (moment, names[i], _series_key(tags))
                entry = points.get(key)
                if entry is None:
                    entry = points[key] = (flux.micros(moment), names[i], tags, {})
                if pivoted:
                    for name, values in field_values:
                        if values[i] is not None:
                            entry[3][name] = values[i]
                else:
                    entry[3][field_names[i]] = value_list[i]
        rows = sorted(
            (
                (micros, m, _series_key(tags), tags, fields)
                for micros, m, tags, fields in points.values()
                if fields
            ),
            key=lambda r: (r[0], r[1], r[2]),
            reverse=query.order == "desc",
        )
        if query.limit:
            rows = rows[: query.limit]
        return [Row(from_micros(t), m, tags, fields) for t, m, _key, tags, fields in rows]

    def _count_distinct(self, query: ReadQuery, field: str, since, until) -> int:
        self._prepare()
        script, pivoted = self._selection(query, since, until, [field])
        if pivoted:
            script += (
                f" |> filter(fn: (r) => exists {flux.column(field)})"
                f' |> keep(columns: ["_measurement", {flux.string(field)}])'
                f' |> group(columns: ["_measurement"]) |> distinct(column: {flux.string(field)})'
            )
        else:
            script += ' |> group(columns: ["_measurement"]) |> distinct()'
        if len(query.measurements) == 1:
            counts = self._query(script + " |> count()").get("_result", [])
            return sum(v or 0 for block in counts for v in flux.values(block, "_value"))
        # Values of several measurements are united here (their types may differ).
        distinct = set()
        for block in self._query(script).get("_result", []):
            distinct.update(flux.values(block, "_value"))
        return len(distinct)

    # ------------------------------------------------------------------ charts

    def _check_kinds(self, query: ChartQuery, kinds: dict[str, str]) -> None:
        for agg in query.aggregates:
            if agg.fn in NUMERIC_AGGREGATES and kinds.get(agg.field) == "string":
                raise FieldTypeError(
                    f"{agg.fn}({agg.field}) needs numbers, but {query.measurement}.{agg.field} holds strings"
                )

    @staticmethod
    def _windows(bucketing: Bucketing) -> str:
        """``aggregateWindow`` arguments giving exactly ``Bucketing``'s buckets."""
        step = bucketing.step // 1_000_000
        segments = bucketing.offsets
        if bucketing.interval.is_calendar and len({offset for _since, offset in segments}) > 1:
            zone = flux.string(bucketing.zone.key)
            return f"every: {bucketing.interval.days}d, location: {{zone: {zone}, offset: 0s}}"
        # One UTC offset throughout: plain windows shifted by it.
        offset = (-segments[0][1] // 1_000_000) % step
        return f"every: {step}s, offset: {offset}s"

    def _aggregate(self, query: ChartQuery, bucketing: Bucketing | None, lower, end, with_summary: bool):
        """One Flux script for a chart's buckets (``bucketing``) and/or its summary."""
        self._prepare()
        bucket = self.bucket(query.retention)
        kinds = self._field_kinds(bucket, [query.measurement])[query.measurement]
        self._check_kinds(query, kinds)
        lower_us, end_us = to_micros(lower), to_micros(end)
        group_by = query.group_by
        extra = [group_by] if group_by else []
        group = f"group(columns: {flux.strings(['_field', *extra])})"
        keep = f"keep(columns: {flux.strings(['_time', '_value', *extra])})"
        windows = self._windows(bucketing) if bucketing is not None else ""
        base = self._source(bucket, lower_us, end_us)
        parts: list[str] = []
        mode_fields: dict[str, str] = {}
        for i, agg in enumerate(query.aggregates):
            src = (
                f"{base} |> filter(fn: (r) => "
                f"{flux.series_predicate([query.measurement], query.tags, [agg.field])})"
            )
            if agg.fn == "mode":
                if agg.field not in mode_fields:
                    mode_fields[agg.field] = f"r{len(mode_fields)}"
                    parts.append(f"{src} |> {keep} |> yield(name: {flux.string(mode_fields[agg.field])})")
                continue
            if agg.fn in SERVER_FUNCTIONS or agg.fn == "count_distinct":
                if agg.fn == "count_distinct":
                    fn = "(column, tables=<-) => tables |> distinct(column: column) |> count(column: column)"
                    whole = "distinct() |> count()"
                else:
                    fn = SERVER_FUNCTIONS[agg.fn]
                    whole = f"{fn}()"
                if bucketing is not None:
                    parts.append(
                        f"{src} |> {group} |> aggregateWindow({windows}, fn: {fn}, createEmpty: true, "
                        f'timeSrc: "_start") |> {keep} |> yield(name: "c{i}")'
                    )
                if with_summary:
                    parts.append(f'{src} |> {group} |> {whole} |> {keep} |> yield(name: "s{i}")')
                continue
            # min, max, last: per series on the server, merged here.
            time_source = "_time" if agg.fn == "last" else "_start"
            if bucketing is not None:
                parts.append(
                    f"{src} |> aggregateWindow({windows}, fn: {agg.fn}, createEmpty: false, "
                    f'timeSrc: "{time_source}") |> {keep} |> yield(name: "c{i}")'
                )
            if with_summary:
                whole = f"{agg.fn}()" if agg.fn == "last" else f"{group} |> {agg.fn}()"
                parts.append(f'{src} |> {whole} |> {keep} |> yield(name: "s{i}")')
        results = self._query("\n".join(parts)) if parts else {}

        chart: dict[str, dict[int, Any]] = {}
        summary: dict[str, Any] = {}

        def rows(name: str):
            """(group name or alias, time text, value) of one result; rows outside any group
            (the series lacks the group-by tag) and empty values are left out."""
            for block in results.get(name, []):
                times = flux.values(block, "_time")
                values = flux.values(block, "_value")
                groups = flux.values(block, group_by) if group_by else None
                for j, value in enumerate(values):
                    if value is None:
                        continue
                    label = groups[j] if groups is not None else None
                    if group_by and not label:
                        continue
                    yield label, times[j], value

        for i, agg in enumerate(query.aggregates):
            if agg.fn == "mode":
                continue
            if bucketing is not None:
                if agg.fn == "last":
                    latest: dict[tuple, tuple] = {}
                    for label, moment, value in rows(f"c{i}"):
                        micros = flux.micros(moment)
                        slot = (label or agg.alias, bucketing.key(micros))
                        if slot not in latest or (micros, value) > latest[slot]:
                            latest[slot] = (micros, value)
                    for (name, key), (_micros, value) in latest.items():
                        chart.setdefault(name, {})[key] = value
                else:
                    for label, moment, value in rows(f"c{i}"):
                        if agg.fills_with_zero and value == 0:
                            continue
                        series = chart.setdefault(label or agg.alias, {})
                        key = bucketing.key(flux.micros(moment))
                        if agg.fn in ("min", "max") and key in series:
                            value = min(series[key], value) if agg.fn == "min" else max(series[key], value)
                        series[key] = float(value) if agg.fn == "mean" else value
            if with_summary:
                if agg.fn == "last":
                    best: dict[str, tuple] = {}
                    for label, moment, value in rows(f"s{i}"):
                        name = label or agg.alias
                        candidate = (flux.micros(moment), value)
                        if name not in best or candidate > best[name]:
                            best[name] = candidate
                    summary.update({name: value for name, (_m, value) in best.items()})
                else:
                    for label, _moment, value in rows(f"s{i}"):
                        summary[label or agg.alias] = float(value) if agg.fn == "mean" else value
        if mode_fields:
            for agg in query.aggregates:
                if agg.fn != "mode":
                    continue
                per_bucket: dict[tuple[str, int], list] = defaultdict(list)
                overall: dict[str, list] = defaultdict(list)
                for label, moment, value in rows(mode_fields[agg.field]):
                    micros = flux.micros(moment)
                    name = label or agg.alias
                    if bucketing is not None:
                        per_bucket[(name, bucketing.key(micros))].append((micros, value))
                    overall[name].append((micros, value))
                for (name, key), values in per_bucket.items():
                    chart.setdefault(name, {})[key] = mode_of(values)
                if with_summary:
                    for name, values in overall.items():
                        summary[name] = mode_of(values)
        return chart, summary

    def _chart(self, query, bucketing, lower, end):
        return self._aggregate(query, bucketing, lower, end, with_summary=False)[0]

    def _summary(self, query, lower, end):
        return self._aggregate(query, None, lower, end, with_summary=True)[1]

    def _chart_and_summary(self, query, bucketing, lower, end):
        return self._aggregate(query, bucketing, lower, end, with_summary=True)

    def _rank_fields(self, query: ChartQuery, lower, end, n: int) -> list[str]:
        self._prepare()
        bucket = self.bucket(query.retention)
        kinds = self._field_kinds(bucket, [query.measurement])[query.measurement]
        numeric = sorted(name for name, kind in kinds.items() if kind in ("float", "integer"))
        if not numeric:
            return []
        script = (
            self._source(bucket, to_micros(lower), to_micros(end))
            + f" |> filter(fn: (r) => {flux.series_predicate([query.measurement], query.tags, numeric)})"
            + ' |> group(columns: ["_field"]) |> sum() |> keep(columns: ["_field", "_value"])'
        )
        totals = []
        for block in self._query(script).get("_result", []):
            for name, total in zip(flux.values(block, "_field"), flux.values(block, "_value"), strict=True):
                if total is not None:
                    totals.append((total, name))
        totals.sort(key=lambda item: (-item[0], item[1]))
        return [name for _total, name in totals[:n]]

    # ------------------------------------------------------------------ deletes & retention

    def _delete(self, measurement, tags, start, end, retention) -> None:
        """The delete API takes ``AND``-ed equalities only: a tag filter with several values is
        one call per combination of values, in each tier's bucket (or the one named)."""
        self._prepare()
        tiers = [retention] if retention is not None else list(self.config.retention)
        start_text = flux.time(to_micros(start)) if start is not None else flux.MIN_TIME
        stop_text = flux.time(to_micros(end)) if end is not None else flux.MAX_TIME  # inclusive
        choices = [[(key, value) for value in values] for key, values in (tags or {}).items()]
        predicates = [
            flux.delete_predicate(measurement, combination) for combination in itertools.product(*choices)
        ]
        for tier in tiers:
            for predicate in predicates:
                self._call(
                    "a delete",
                    self._delete_api.delete,
                    start_text,
                    stop_text,
                    predicate,
                    bucket=self.bucket(tier),
                    org=self._org(),
                )

    def _count(self, bucket: str, before: int | None = None) -> dict[str, int]:
        """Points per measurement: distinct times per series, added up on the server (a point
        is a series and a time, whichever of its fields it carries)."""
        script = (
            self._source(bucket, None, None if before is None else before - 1)
            + ' |> drop(columns: ["_start", "_stop", "_value"])'
            + ' |> group(columns: ["_time", "_field"], mode: "except")'
            + ' |> unique(column: "_time") |> count(column: "_field")'
            + ' |> group(columns: ["_measurement"]) |> sum(column: "_field")'
            + ' |> keep(columns: ["_measurement", "_field"])'
        )
        totals: dict[str, int] = defaultdict(int)
        for block in self._query(script).get("_result", []):
            for measurement, count in zip(
                flux.values(block, "_measurement"), flux.values(block, "_field"), strict=True
            ):
                totals[measurement] += count or 0
        return {m: c for m, c in totals.items() if c}

    def _purge_before(self, tier: str, floor: datetime) -> int:
        """Delete the points older than ``floor`` (by Fleetwatch's clock)."""
        self._prepare()
        bucket = self.bucket(tier)
        floor_us = to_micros(floor)
        removed = sum(self._count(bucket, before=floor_us).values())
        if removed:
            self._call(
                "a retention delete",
                self._delete_api.delete,
                flux.MIN_TIME,
                flux.time(floor_us - 1),
                "",
                bucket=bucket,
                org=self._org(),
            )
        return removed

    def flush(self) -> None:
        """Delete this namespace's buckets (recreated on next use): faster than deleting points."""
        with self._lock:
            org_id = self._org()
            names = {self.bucket(tier) for tier in self.config.retention}
            prefix = DESCRIPTION.format(namespace=self.namespace, tier="")
            buckets, offset = [], 0
            while True:
                page = self._api(
                    "listing buckets",
                    "GET",
                    "/api/v2/buckets",
                    {"orgID": org_id, "limit": 100, "offset": offset},
                )
                found = (page or {}).get("buckets") or []
                buckets += found
                if len(found) < 100:
                    break
                offset += 100
            for found in buckets:
                if found["name"] in names or (found.get("description") or "").startswith(prefix):
                    self._api(f"deleting bucket {found['name']}", "DELETE", f"/api/v2/buckets/{found['id']}")
            self._buckets = {}
            self._kinds.clear()

    def count_points(self, retention: str | None = None) -> dict[str, int]:
        self._prepare()
        tiers = [retention] if retention is not None else list(self.config.retention)
        totals: dict[str, int] = defaultdict(int)
        for tier in tiers:
            for measurement, count in self._count(self.bucket(tier)).items():
                totals[measurement] += count
        return dict(totals)

    def health(self) -> dict[str, Any]:
        try:
            version = self._call("a ping", self.client.version)
            self._org()
        except TimeseriesError as exc:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": str(exc)}
        return {"backend": self.vendor, "reachable": True, "version": version or "unknown", "error": None}

    def close(self) -> None:
        self.client.close()
