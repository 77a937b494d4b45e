"""InfluxDB 1.x: points as line protocol, charts as InfluxQL, tiers as retention policies.

The backend ties together its parts: ``client`` (the HTTP API and its errors), ``compiler``
(charts as InfluxQL statements and their answers; bucket edges are Fleetwatch's own, DST days
included), ``influxql`` (escaped InfluxQL text), ``points`` (values read back in their stored
types) and the line protocol both InfluxDB backends share (``backends.lineprotocol``). What
stays here is server administration (the database, a retention policy per tier, shards), the
per-process knowledge of each field's type, reads, deletes and retention.

Distinct counts across measurements are united here from raw values: COUNT(DISTINCT) would
add them up.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

from fleetwatch.timeseries.backend import BaseBackend, Features, flag
from fleetwatch.timeseries.backends.influxdb import compiler
from fleetwatch.timeseries.backends.influxdb import influxql as q
from fleetwatch.timeseries.backends.influxdb.client import InfluxHTTP, series_of
from fleetwatch.timeseries.backends.influxdb.points import convert
from fleetwatch.timeseries.backends.lineprotocol import LineBuilder, checked_lines
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.errors import (
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

HOUR = 3600


def shard_duration(seconds: int) -> str:
    """InfluxDB's own defaults for a policy of this duration (1h, 1d or 7d shard groups)."""
    if seconds < 2 * 86400:
        return "1h"
    if seconds <= 182 * 86400:
        return "1d"
    return "7d"


class InfluxFeatures(Features):
    # Deletes cannot name a retention policy in InfluxQL: see ``_delete``.
    supports_point_delete = True
    max_write_batch = 10_000  # lines per /write request: measured faster than 2,000 or 5,000
    concurrent_reads_help = True


class InfluxDBBackend(BaseBackend):
    vendor = "influxdb"
    display_name = "InfluxDB 1.x"
    features_class = InfluxFeatures

    def __init__(self, config, clock=None):
        super().__init__(config, clock)
        options = config.options
        self.database = check_query_name(options.get("schema") or config.name or "fleetwatch", "database")
        # Server-side retention (policy durations) drops shards by the server's clock; without it
        # policies keep data forever and `enforce_retention()` drops expired shards by ours.
        self.server_retention = flag(options.get("server_retention", "true"))
        try:
            self.batch_size = int(options.get("batch_size", self.features.max_write_batch))
            timeout = float(options.get("timeout", 30))
        except ValueError as exc:
            raise ConfigurationError(f"influxdb: {exc}") from None
        host = config.host or "127.0.0.1"
        gzip = str(options.get("gzip", "auto")).lower()
        compress = flag(gzip) if gzip != "auto" else host not in ("127.0.0.1", "localhost", "::1")
        self.http = InfluxHTTP(
            host,
            config.port or 8086,
            self.database,
            config.user,
            config.password,
            ssl=flag(options.get("ssl", "false")),
            timeout=timeout,
            compress=compress,
        )
        self._lock = threading.Lock()
        self._database_ready = False
        self._policies: dict[str, int] = {}  # tier → duration applied on the server
        self._kinds: dict[tuple[str, str], dict[str, str]] = {}  # (policy, measurement) → field kinds
        self._builder = LineBuilder()

    # ------------------------------------------------------------------ set-up

    @staticmethod
    def policy(tier: str) -> str:
        """The default tier is InfluxDB's (and OpenWISP's) ``autogen`` policy."""
        return "autogen" if tier == "default" else tier

    def _prepare(self) -> None:
        tiers = self.config.retention
        if self._database_ready and all(self._policies.get(t) == s for t, s in tiers.items()):
            return
        with self._lock:
            if not self._database_ready:
                self.http.query(f"CREATE DATABASE {q.ident(self.database)}", database=False)
                self._database_ready = True
            existing = {
                row[0]
                for series in series_of(
                    self.http.query(f"SHOW RETENTION POLICIES ON {q.ident(self.database)}")[0]
                )
                for row in series.get("values", [])
            }
            statements = []
            for tier, seconds in tiers.items():
                if self._policies.get(tier) == seconds:
                    continue
                name = self.policy(tier)
                length = f"{max(seconds, HOUR)}s" if self.server_retention else "INF"
                verb = "ALTER" if name in existing else "CREATE"
                statements.append(
                    f"{verb} RETENTION POLICY {q.ident(name)} ON {q.ident(self.database)} "
                    f"DURATION {length} REPLICATION 1 SHARD DURATION {shard_duration(seconds)}"
                    + (" DEFAULT" if tier == "default" else "")
                )
            if statements:
                self.http.query(statements)
            self._policies = dict(tiers)

    def _apply_retention(self) -> None:
        self._policies = {}
        self._prepare()

    def _field_kinds(self, policy: str, measurements, refresh: bool = False) -> dict[str, dict[str, str]]:
        """Field kinds per measurement (``float``, ``integer``, ``string``, ``boolean``)."""
        wanted = [m for m in measurements if refresh or (policy, m) not in self._kinds]
        if wanted:
            statements = [f"SHOW FIELD KEYS FROM {q.source(policy, m)}" for m in wanted]
            for measurement, result in zip(wanted, self.http.query(statements), strict=True):
                kinds = {}
                for series in series_of(result):
                    kinds.update({name: kind for name, kind in series.get("values", [])})
                self._kinds[(policy, measurement)] = kinds
        return {m: self._kinds.get((policy, m), {}) for m in measurements}

    # ------------------------------------------------------------------ writes

    def _write(self, points: list[Point], retention: str) -> None:
        self._write_tiers({retention: points})

    def _write_tiers(self, batches: dict[str, list[Point]]) -> None:
        self._prepare()
        # Every line is built, and every point checked (field types, tag values), before the
        # first request: a batch the server would half-accept ("partial write") is refused here
        # as a whole.
        prepared = [
            (self.policy(tier), self._lines(self.policy(tier), points)) for tier, points in batches.items()
        ]
        for policy, lines in prepared:
            for start in range(0, len(lines), self.batch_size):
                self.http.write(lines[start : start + self.batch_size], policy)

    def _lines(self, policy: str, points: list[Point]) -> list[str]:
        """Checked line protocol of the points (see ``lineprotocol.checked_lines``)."""
        kinds = self._field_kinds(policy, {p.measurement for p in points})
        lines, learned = checked_lines(self._builder, points, kinds)
        for measurement, fields in learned.items():
            self._kinds.setdefault((policy, measurement), {}).update(fields)
        return lines

    # ------------------------------------------------------------------ reads

    def _read(self, query: ReadQuery, since: datetime, until: datetime | None) -> list[Row]:
        self._prepare()
        policy = self.policy(query.retention)
        selected = "*" if query.fields == "*" else ", ".join(q.ident(f) for f in query.fields)
        conditions = (
            q.tag_conditions(query.tags)
            + q.time_conditions(to_micros(since), until and to_micros(until))
            + q.where_conditions(query.where)
        )
        direction = "DESC" if query.order == "desc" else "ASC"
        # LIMIT applies per series: each series gives at most `limit` rows, merged below.
        statement = (
            f"SELECT {selected} FROM {q.sources(policy, query.measurements)}{q.where_clause(conditions)} "
            f"GROUP BY * ORDER BY time {direction}" + (f" LIMIT {int(query.limit)}" if query.limit else "")
        )
        [result] = self.http.query(statement)
        kinds = self._field_kinds(policy, query.measurements)
        rows = []
        for series in series_of(result):
            measurement = series["name"]
            tags = {k: v for k, v in (series.get("tags") or {}).items() if v}
            tags_key = json.dumps(tags, sort_keys=True, separators=(",", ":"))  # the SQL backends' order
            columns = series["columns"]
            known = kinds.get(measurement, {})
            if any(c not in known for c in columns[1:]):
                known = self._field_kinds(policy, [measurement], refresh=True)[measurement]
            for values in series.get("values", []):
                fields = {
                    column: convert(value, known.get(column))
                    for column, value in zip(columns[1:], values[1:], strict=True)
                    if value is not None
                }
                if fields:
                    rows.append((values[0], measurement, tags_key, tags, fields))
        rows.sort(key=lambda r: (r[0], r[1], r[2]), reverse=query.order == "desc")
        if query.limit:
            rows = rows[: query.limit]
        return [Row(from_micros(t), m, tags, fields) for t, m, _key, tags, fields in rows]

    def _count_distinct(self, query: ReadQuery, field: str, since, until) -> int:
        self._prepare()
        conditions = (
            q.tag_conditions(query.tags)
            + q.time_conditions(to_micros(since), until and to_micros(until))
            + q.where_conditions(query.where)
        )
        statement = (
            f"SELECT DISTINCT({q.ident(field)}) FROM "
            f"{q.sources(self.policy(query.retention), query.measurements)}{q.where_clause(conditions)}"
        )
        # Values of several measurements are united here, where COUNT(DISTINCT) would add them up.
        distinct = set()
        for series in series_of(self.http.query(statement)[0]):
            distinct.update(values[1] for values in series.get("values", []))
        return len(distinct)

    # ------------------------------------------------------------------ charts

    def _check_kinds(self, query: ChartQuery, kinds: dict[str, str]) -> None:
        for agg in query.aggregates:
            if agg.fn in NUMERIC_AGGREGATES and kinds.get(agg.field) == "string":
                raise FieldTypeError(
                    f"{agg.fn}({agg.field}) needs numbers, but {query.measurement}.{agg.field} holds strings"
                )

    def _aggregate(self, query: ChartQuery, bucketing: Bucketing | None, lower, end, with_summary: bool):
        """One request for a chart's buckets (``bucketing``) and/or its summary."""
        self._prepare()
        policy = self.policy(query.retention)
        kinds = self._field_kinds(policy, [query.measurement])[query.measurement]
        self._check_kinds(query, kinds)
        statements, windows = compiler.chart_statements(
            query, policy, bucketing, to_micros(lower), to_micros(end), with_summary
        )
        results = self.http.query(statements) if statements else []
        return compiler.chart_answers(query, results, bucketing, windows, kinds, with_summary)

    def _chart(self, query, bucketing, lower, end):
        return self._aggregate(query, bucketing, lower, end, with_summary=False)[0]

    def _summary(self, query, lower, end):
        return self._aggregate(query, None, lower, end, with_summary=True)[1]

    def _chart_and_summary(self, query, bucketing, lower, end):
        return self._aggregate(query, bucketing, lower, end, with_summary=True)

    def _rank_fields(self, query: ChartQuery, lower, end, n: int) -> list[str]:
        self._prepare()
        policy = self.policy(query.retention)
        kinds = self._field_kinds(policy, [query.measurement])[query.measurement]
        numeric = sorted(name for name, kind in kinds.items() if kind in ("float", "integer"))
        if not numeric:
            return []
        columns = ", ".join(f"SUM({q.ident(f)}) AS {q.ident(f'a{i}')}" for i, f in enumerate(numeric))
        where = q.where_clause(
            q.tag_conditions(query.tags) + q.time_conditions(to_micros(lower), to_micros(end))
        )
        [result] = self.http.query(f"SELECT {columns} FROM {q.source(policy, query.measurement)}{where}")
        totals = []
        for series in series_of(result):
            for values in series.get("values", [])[:1]:
                totals = [
                    (values[1 + i], name) for i, name in enumerate(numeric) if values[1 + i] is not None
                ]
        totals.sort(key=lambda item: (-item[0], item[1]))
        return [name for _total, name in totals[:n]]

    # ------------------------------------------------------------------ deletes & retention

    def _delete(self, measurement, tags, start, end, retention) -> None:
        """InfluxQL's DELETE cannot name a retention policy: it deletes from every tier. A
        delete limited to one tier therefore rewrites what the other tiers held."""
        self._prepare()
        conditions = q.tag_conditions(tags) + q.time_conditions(
            start and to_micros(start), end and to_micros(end)
        )
        keep: dict[str, list[Point]] = {}
        if retention is not None:
            for tier in self.config.retention:
                if tier != retention:
                    keep[tier] = self._points_matching(self.policy(tier), measurement, conditions)
        self.http.query(
            "DELETE" + (f" FROM {q.ident(measurement)}" if measurement else "") + q.where_clause(conditions)
        )
        for tier, points in keep.items():
            if points:
                self._write_tiers({tier: points})

    def _points_matching(self, policy: str, measurement: str | None, conditions: list[str]) -> list[Point]:
        source = q.source(policy, measurement) if measurement else f"{q.ident(policy)}./.*/"
        [result] = self.http.query(f"SELECT * FROM {source}{q.where_clause(conditions)} GROUP BY *")
        points = []
        for series in series_of(result):
            tags = {k: v for k, v in (series.get("tags") or {}).items() if v}
            known = self._field_kinds(policy, [series["name"]])[series["name"]]
            columns = series["columns"]
            for values in series.get("values", []):
                fields = {
                    c: convert(v, known.get(c))
                    for c, v in zip(columns[1:], values[1:], strict=True)
                    if v is not None
                }
                points.append(Point(series["name"], fields, from_micros(values[0]), tags))
        return points

    def _shards(self, policy: str) -> list[tuple[int, datetime, datetime]]:
        [result] = self.http.query("SHOW SHARDS", database=False)
        shards = []
        for series in series_of(result):
            if series.get("name") != self.database:
                continue
            columns = series["columns"]
            for values in series.get("values", []):
                row = dict(zip(columns, values, strict=True))
                if row["retention_policy"] == policy:
                    shards.append(
                        (
                            int(row["id"]),
                            datetime.fromisoformat(row["start_time"]),
                            datetime.fromisoformat(row["end_time"]),
                        )
                    )
        return shards

    def _purge_before(self, tier: str, floor: datetime) -> int:
        """Drop the shards that hold only expired points, as InfluxDB's own retention does: a
        shard straddling the floor stays until it has expired entirely (reads never see its
        expired points; the short tier's shards last an hour)."""
        self._prepare()
        policy = self.policy(tier)
        removed = 0
        for shard_id, start, stop in self._shards(policy):
            if stop <= floor:
                removed += sum(self._count(policy, to_micros(start), to_micros(stop)).values())
                self.http.query(f"DROP SHARD {shard_id}", database=False)
        return removed

    def _count(self, policy: str, since: int | None = None, before: int | None = None) -> dict[str, int]:
        """Points per measurement: per series, the count of its most frequent field."""
        where = q.where_clause(q.time_conditions(since, before=before))
        [result] = self.http.query(f"SELECT COUNT(*) FROM {q.ident(policy)}./.*/{where} GROUP BY *")
        counts: dict[str, int] = defaultdict(int)
        for series in series_of(result):
            for values in series.get("values", []):
                counts[series["name"]] += max((v for v in values[1:] if v is not None), default=0)
        return dict(counts)

    def flush(self) -> None:
        with self._lock:
            self.http.query(f"DROP DATABASE {q.ident(self.database)}", database=False)
            self._database_ready = False
            self._policies = {}
            self._kinds.clear()

    def count_points(self, retention: str | None = None) -> dict[str, int]:
        self._prepare()
        tiers = [retention] if retention is not None else list(self.config.retention)
        totals: dict[str, int] = defaultdict(int)
        for tier in tiers:
            for measurement, count in self._count(self.policy(tier)).items():
                totals[measurement] += count
        return {m: c for m, c in totals.items() if c}

    def health(self) -> dict[str, Any]:
        try:
            version = self.http.ping()
        except TimeseriesError as exc:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": str(exc)}
        return {"backend": self.vendor, "reachable": True, "version": version, "error": None}

    def close(self) -> None:
        self.http.close()
