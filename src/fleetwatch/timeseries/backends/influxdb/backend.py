"""InfluxDB 1.x: points as line protocol, charts as InfluxQL, tiers as retention policies.

The backend ties together its parts: ``client`` (the HTTP API and its errors), ``compiler``
(charts as InfluxQL statements and their answers; bucket edges are Fleetwatch's own, DST days
included), ``influxql`` (escaped InfluxQL text), ``points`` (values read back in their stored
types) and the line protocol both InfluxDB backends share (``backends.lineprotocol``). What
stays here is server administration (the database, a retention policy per tier, shards), the
per-process knowledge of each field's type, reads, deletes and retention.

Distinct counts across measurements are united here from raw values: COUNT(DISTINCT) would
add them up.

Rollups (``rollup_statements`` has their layout). InfluxDB 1.x's own idiom for downsampling is
a continuous query: ``SELECT … INTO <policy>.<measurement> … GROUP BY time(1h), *``, run by the
server every hour for the hour just ended. Run on its schedule it cannot be exact when
``write()`` returns (a late point, a resent or corrected one changes an hour long closed), so the
backend runs that same server-side statement itself, in the request that follows each write:
for the hours the written points fall in (restricted to the series written, by tag conditions,
or to the whole measurement when they are many), then for their days from the hours. Each unit
is recomputed from the points stored now, never adjusted by a delta, so repeats and corrections
leave it exact; InfluxDB overwrites a point with the same series and time, field by field, so a
recompute limited to the fields written leaves the others as they were. Deletes and retention
purges drop the units they touch and recompute those at their edges (``DELETE`` cannot name a
policy, hence rollup measurements of their own per tier and step). No continuous query is
registered: it would add nothing the writes have not done, and could not remove a unit emptied
by a delete.

Two limits remain, both from InfluxDB having no transactions: a write whose points were stored
but whose recompute failed raises (the caller retries it, and the retry recomputes); and two
processes writing into the same series and hour at the same moment can each read the hour
before the other's points land, leaving the last recompute one write behind until that hour is
written again.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backend import BaseBackend, Features, flag
from fleetwatch.timeseries.backends.influxdb import compiler
from fleetwatch.timeseries.backends.influxdb import influxql as q
from fleetwatch.timeseries.backends.influxdb import rollup_statements as ru
from fleetwatch.timeseries.backends.influxdb.client import InfluxHTTP, series_of
from fleetwatch.timeseries.backends.influxdb.points import convert
from fleetwatch.timeseries.backends.lineprotocol import HORIZON, LineBuilder, checked_lines, horizon_line
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
    supports_rollups = True
    seals_rollups = True


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
        self._purged: dict[str, int] = {}  # tier → floor (µs) up to which this process purged it
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
            older = []  # tiers holding points from before rollups existed: built below
            fresh = []  # tiers created now: their first horizon is recorded below
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
                # The tier's rollups: a day longer, so that a unit (stamped at its start) is
                # never beyond the policy while points of it are still kept.
                rollup_length = f"{max(seconds, HOUR) + 86400}s" if self.server_retention else "INF"
                rollup_policy = ru.policy(tier)
                statements.append(
                    f"{'ALTER' if rollup_policy in existing else 'CREATE'} RETENTION POLICY "
                    f"{q.ident(rollup_policy)} ON {q.ident(self.database)} DURATION {rollup_length} "
                    f"REPLICATION 1 SHARD DURATION {shard_duration(seconds)}"
                )
                if name in existing and rollup_policy not in existing:
                    older.append(tier)
                elif name not in existing:
                    fresh.append(tier)
            if statements:
                self.http.query(statements)
            self._policies = dict(tiers)
            for tier in older:
                self._first_horizon(tier)
            for tier in fresh:
                self._new_horizon(tier)

    def _apply_retention(self) -> None:
        self._policies = {}
        self._purged.clear()  # a longer tier may take older points again
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
        # The units the late points fall in, recomputed from what is stored now, before
        # returning; live points are rolled up by the next seal (see ``rollups``).
        statements = [
            s
            for tier, points in batches.items()
            for s in self._refresh_statements(tier, self._late_points(points))
        ]
        if statements:
            self.http.query(statements)

    def _refresh_statements(self, tier: str, points: list[Point]) -> list[str]:
        """``SELECT … INTO`` statements recomputing the hourly and daily units ``points`` touch,
        per measurement, for the series and fields written (see ``rollup_statements.refresh``)."""
        policy = self.policy(tier)
        touched: dict[str, dict[int, dict[tuple, dict[str, str]]]] = {}
        written: dict[str, set[str]] = {}
        for point in points:
            micros = to_micros(point.time)
            hour = micros - micros % rollups.HOUR
            by_hour = touched.setdefault(point.measurement, {}).setdefault(hour, {})
            key = tuple(sorted(point.tags.items()))
            if key not in by_hour:
                by_hour[key] = point.tags
            fields = written.get(point.measurement)
            if fields is None:
                fields = written[point.measurement] = set()
            fields.update(point.fields)
        statements = []
        for measurement, by_hour in touched.items():
            known = self._kinds.get((policy, measurement), {})
            kinds = {f: known[f] for f in written[measurement] if f in known}
            hours = {hour: list(series.values()) for hour, series in by_hour.items()}
            statements.extend(ru.refresh(policy, tier, measurement, kinds, hours))
        return statements

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

    def _rollup_partials(self, query, fields, bucketing, plan):
        """Partials from raw points (the plan's raw intervals) and from the rollup measurements
        (its whole units), in one request; booleans are left to raw aggregates."""
        self._prepare()
        policy = self.policy(query.retention)
        kinds = self._field_kinds(policy, [query.measurement])[query.measurement]
        if any(f not in kinds for f in fields):  # another process may have added it since
            kinds = self._field_kinds(policy, [query.measurement], refresh=True)[query.measurement]
        self._check_kinds(query, kinds)  # FieldTypeError, as a raw chart raises it
        raw_only = {f for f in fields if kinds.get(f) == "boolean"}
        # Only the partials the chart's aggregates need (a mean needs no min or max).
        parts: dict[str, tuple[str, ...]] = {}
        for agg in query.aggregates:
            kept = ru.parts_of(kinds.get(agg.field))
            if agg.field in fields and kept and rollups.composable(agg):
                wanted = set(parts.get(agg.field, ())) | set(rollups.PARTS_OF[agg.fn])
                parts[agg.field] = tuple(p for p in rollups.PARTS if p in wanted and p in kept)
        if not parts:
            return {}, raw_only
        statements, keys = ru.partial_statements(
            policy,
            query.retention,
            query.measurement,
            parts,
            q.tag_conditions(query.tags),
            query.group_by,
            bucketing,
            plan,
        )
        results = self.http.query(statements)
        return ru.partial_answers(results, keys, kinds, query.group_by, bucketing), raw_only

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
        # Every tier's rollups of the range (the DELETE reached every tier), then the points of
        # the tiers the delete was not meant for, written back with their units recomputed.
        first = to_micros(start) if start is not None else None
        last = to_micros(end) if end is not None else None
        tag_conditions = q.tag_conditions(tags)
        statements = []
        measurements = [measurement] if measurement else self._measurements(tag_conditions)
        for tier in self.config.retention:
            policy = self.policy(tier)
            for name, kinds in self._field_kinds(policy, measurements, refresh=True).items():
                statements.extend(ru.after_delete(policy, tier, name, kinds, tag_conditions, first, last))
        if statements:
            self.http.query(statements)
        for tier, points in keep.items():
            if points:
                self._write_tiers({tier: points})

    def _measurements(self, conditions: list[str]) -> list[str]:
        """Names of the measurements holding series that match tag ``conditions`` (rollup
        measurements left out)."""
        [result] = self.http.query("SHOW MEASUREMENTS" + q.where_clause(conditions))
        return [
            row[0] for series in series_of(result) for row in series.get("values", []) if ":" not in row[0]
        ]

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
        """Remove the tier's points older than ``floor``, and its rollup units.

        Whole shards are dropped, as InfluxDB's own retention does. Without server retention
        (Fleetwatch's clock decides), the points of the shard straddling the floor are deleted
        too, so that none reappears if the tier is lengthened later, and the units starting
        before the floor go, those holding it recomputed from what is left. InfluxQL's DELETE
        reaches every tier: points of longer tiers in that range are written back."""
        self._prepare()
        policy = self.policy(tier)
        limit = to_micros(floor)
        removed = 0
        straddling = []
        for shard_id, start, stop in self._shards(policy):
            if stop <= floor:
                removed += sum(self._count(policy, to_micros(start), to_micros(stop)).values())
                self.http.query(f"DROP SHARD {shard_id}", database=False)
            elif start < floor:
                straddling.append(to_micros(start))
        for shard_id, _start, stop in self._shards(ru.policy(tier)):
            if stop <= floor:
                self.http.query(f"DROP SHARD {shard_id}", database=False)
        if self.server_retention or not straddling:
            return removed
        # Only the part not yet purged by this process (a straddling shard lasts up to a week).
        since = max(min(straddling), self._purged.get(tier, min(straddling)))
        counts = self._count(policy, since, limit) if since < limit else {}
        removed += sum(counts.values())
        keep: dict[str, list[Point]] = {}
        for other in self.config.retention:
            other_floor = to_micros(self.retention_floor(other))
            if other == tier or other_floor >= limit or not counts:
                continue
            other_policy = self.policy(other)
            held = self._field_kinds(other_policy, sorted(counts), refresh=True)
            conditions = q.time_conditions(max(since, other_floor), before=limit)
            for measurement in sorted(m for m, kinds in held.items() if kinds):
                keep.setdefault(other, []).extend(
                    self._points_matching(other_policy, measurement, conditions)
                )
        where = q.where_clause(q.time_conditions(since, before=limit))
        statements = [f"DELETE FROM {q.ident(m)}{where}" for m in sorted(counts)]
        # Units starting before the floor go; those holding it are rebuilt from what is left.
        statements.append(f"DELETE FROM {ru.tier_pattern(tier)} WHERE time < {limit}u")
        for measurement, kinds in self._tier_fields(policy).items():
            hour = limit - limit % rollups.HOUR
            day = limit - limit % rollups.DAY
            if hour < limit:
                statements.append(
                    ru.refresh_hours(policy, tier, measurement, kinds, [], hour, hour + rollups.HOUR)
                )
            if day < limit:
                statements.append(ru.refresh_days(tier, measurement, kinds, [], day, day + rollups.DAY))
        self.http.query([s for s in statements if s])
        self._purged[tier] = limit
        for other, points in keep.items():
            self._write_tiers({other: points})
        return removed

    def _tier_fields(self, policy: str) -> dict[str, dict[str, str]]:
        """Field kinds of every measurement of a policy."""
        [result] = self.http.query(f"SHOW FIELD KEYS FROM {q.ident(policy)}./.*/")
        kinds: dict[str, dict[str, str]] = defaultdict(dict)
        for series in series_of(result):
            kinds[series["name"]].update({name: kind for name, kind in series.get("values", [])})
        return dict(kinds)

    def _build_rollups(self, tier: str) -> None:
        """Compute a tier's rollups from its points once, in a store written before rollups
        existed (its rollup policy is created then; if this fails it is dropped again, so
        that the next start builds them anew)."""
        policy = self.policy(tier)
        try:
            kinds = self._tier_fields(policy)
            spans = [(to_micros(a), to_micros(b)) for _id, a, b in self._shards(policy)]
            if not spans or not kinds:
                return
            for start, stop in spans:
                statements = [
                    ru.refresh_hours(policy, tier, m, fields, [], start, stop) for m, fields in kinds.items()
                ]
                self.http.query([s for s in statements if s])
            first = min(a for a, _b in spans)
            last = max(b for _a, b in spans)
            first -= first % rollups.DAY
            last += -last % rollups.DAY
            statements = [ru.refresh_days(tier, m, fields, [], first, last) for m, fields in kinds.items()]
            self.http.query([s for s in statements if s])
        except BaseException:
            self.http.query(
                f"DROP RETENTION POLICY {q.ident(ru.policy(tier))} ON {q.ident(self.database)}",
                database=False,
            )
            raise

    def _stored_horizon(self, tier: str) -> int | None:
        self._prepare()
        [result] = self.http.query(
            f"SELECT MAX({q.ident('until')}) FROM {q.source(ru.policy(tier), HORIZON)}"
        )
        for series in series_of(result):
            for values in series.get("values", []):
                if values[1] is not None:
                    return int(values[1])
        return None

    def _store_horizon(self, tier: str, until: int) -> None:
        self.http.write([horizon_line(until)], ru.policy(tier))

    def _seal(self, tier: str, start: int, end: int) -> None:
        policy = self.policy(tier)
        hours = {hour: [{}] for hour in range(start, end, rollups.HOUR)}  # {}: every series
        statements = [
            statement
            for measurement, kinds in self._tier_fields(policy).items()
            for statement in ru.refresh(policy, tier, measurement, kinds, hours)
        ]
        if statements:
            self.http.query(statements)

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
            self._purged.clear()
            self._horizons.clear()

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
