"""The SQL backend shared by SQLite and PostgreSQL.

Dialects supply connections, DDL, placeholders and the bulk upsert. The rest is shared:
``catalogue`` (series and field ids, values back in their types), ``compiler`` (charts and
reads as SQL) and, here, connections and transactions, the order of a write, deletes and
retention.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backend import BaseBackend
from fleetwatch.timeseries.backends.sql import compiler
from fleetwatch.timeseries.backends.sql.catalogue import Catalogue, CatalogueMiss, aggregate_value, typed
from fleetwatch.timeseries.backends.sql.compiler import Sql
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.errors import FieldTypeError
from fleetwatch.timeseries.model import (
    NUMERIC_AGGREGATES,
    ChartQuery,
    Point,
    ReadQuery,
    Row,
    from_micros,
    to_micros,
)

# Bounds wide enough for any stored instant (µs), for "every unit" in rollup statements.
EVER = (-(2**62), 2**62)


class SqlFeatures(BaseBackend.features_class):
    supports_rollups = True


class SqlBackend(BaseBackend):
    features_class = SqlFeatures
    placeholder = "?"
    # Ties in time are ordered by measurement and tags in code-point order on every engine.
    collate_c = ""

    def __init__(self, config, clock=None):
        super().__init__(config, clock)
        self._local = threading.local()
        self.catalogue = Catalogue(self._sql)
        self._schema_ready = False

    # ------------------------------------------------------------------ dialect hooks

    def _connect(self):
        raise NotImplementedError(f"{type(self).__name__} must implement _connect()")

    def _schema_statements(self) -> list[str]:
        raise NotImplementedError(f"{type(self).__name__} must implement _schema_statements()")

    def _bulk_upsert(self, conn, rows: list[tuple]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _bulk_upsert()")

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        yield

    def _begin(self, conn) -> None:
        """Start a write transaction (dialects with autocommit connections override)."""

    def _commit(self, conn) -> None:
        conn.commit()

    def _rollback(self, conn) -> None:
        conn.rollback()

    # ------------------------------------------------------------------ plumbing

    def _sql(self, text: str) -> str:
        if self.placeholder == "?":
            return text
        return text.replace("%", "%%").replace("?", self.placeholder)

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            if not self._schema_ready:
                self._create_schema(conn)
        return conn

    def _drop_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _create_schema(self, conn) -> None:
        with self._transaction(conn):
            cur = conn.cursor()
            for statement in self._schema_statements():
                cur.execute(statement)
            self._build_rollups(cur)
        self._schema_ready = True

    def _build_rollups(self, cur) -> None:
        """Compute every rollup once from raw points, in a store made before rollups existed
        (a no-op on later starts: ``fw_meta`` remembers it)."""
        cur.execute(self._sql("SELECT value FROM fw_meta WHERE key = ?"), ["rollups"])
        if cur.fetchall():
            return
        every = Sql("SELECT id FROM fw_series", [])
        for sql in (compiler.refresh_hours(every, None, *EVER), compiler.refresh_days(every, None, *EVER)):
            cur.execute(self._sql(sql.text), sql.params)
        cur.execute(self._sql("INSERT INTO fw_meta (key, value) VALUES (?, ?)"), ["rollups", "1"])

    @contextmanager
    def _transaction(self, conn=None):
        conn = conn or self._conn()
        self._begin(conn)
        try:
            yield conn
        except BaseException:
            try:
                self._rollback(conn)
            finally:
                # Ids created inside the failed transaction do not exist: forget them all.
                self._forget_catalogue()
            raise
        else:
            self._commit(conn)

    def _query(self, sql: Sql | str, params=None) -> list[tuple]:
        if isinstance(sql, Sql):
            sql, params = sql.text, sql.params
        with self._translate_errors():
            conn = self._conn()
            cur = conn.cursor()
            cur.execute(self._sql(sql), params or [])
            rows = cur.fetchall()
            self._end_read(conn)
            return rows

    def _end_read(self, conn) -> None:
        """Close the implicit read transaction (PostgreSQL) so snapshots stay fresh."""

    def _execute_write(self, sql: str, params, then: list[Sql] = ()) -> int:
        """Run a write statement, then the ``then`` statements, in one transaction; returns the
        first statement's row count."""
        with self._translate_errors(), self._transaction() as conn:
            cur = conn.cursor()
            cur.execute(self._sql(sql), params)
            count = cur.rowcount
            for statement in then:
                cur.execute(self._sql(statement.text), statement.params)
            return count

    def _forget_catalogue(self) -> None:
        self.catalogue.forget()

    def close(self) -> None:
        self._drop_conn()

    # ------------------------------------------------------------------ catalogue

    def _fields_of(self, measurements, names=None) -> dict[str, list[tuple[int, str]]]:
        """``{field name: [(field id, kind), ...]}`` for the measurements (not cached: another
        process may have added a field kind since)."""
        placeholders, params = compiler.in_list(list(measurements))
        sql = f"SELECT id, name, kind FROM fw_fields WHERE measurement IN {placeholders}"
        if names is not None:
            name_placeholders, name_params = compiler.in_list(list(names))
            sql += f" AND name IN {name_placeholders}"
            params += name_params
        found: dict[str, list[tuple[int, str]]] = {}
        for field_id, name, kind in self._query(sql, params):
            found.setdefault(name, []).append((field_id, kind))
            self.catalogue.field_info[field_id] = (name, kind)
        return found

    def _series(self, measurements, retention, tags) -> Sql:
        """The series a query selects, as ``IN (…)`` content: their ids when a tag filter narrows
        them to a few (two small index lookups first), else the subquery."""
        if not tags:
            return compiler.series_subquery(measurements, retention, tags)
        position, entries = min(self._query(compiler.tag_counts(tags)), key=lambda row: (row[1], row[0]))
        if entries > compiler.DRIVER_LIMIT:
            return compiler.series_subquery(measurements, retention, tags)
        driver = list(tags)[int(position)]
        rows = self._query(compiler.series_by_tag(measurements, retention, tags, driver))
        return compiler.id_selector([row[0] for row in rows])

    def _describe_series(self, ids) -> None:
        info = self.catalogue.series_info
        missing = [i for i in ids if i not in info]
        for chunk_start in range(0, len(missing), 500):
            chunk = missing[chunk_start : chunk_start + 500]
            rows = self._query(
                f"SELECT id, measurement, tags FROM fw_series WHERE id IN {compiler.int_list(chunk)}"
            )
            for series_id, measurement, tags in rows:
                info[series_id] = (measurement, json.loads(tags))

    # ------------------------------------------------------------------ writes

    def _write(self, points: list[Point], retention: str) -> None:
        self._write_tiers({retention: points})

    def _write_tiers(self, batches: dict[str, list[Point]]) -> None:
        # Rows are built before the transaction when every series and field is known, so the
        # write lock is held for the upsert alone (SQLite has one writer at a time).
        try:
            rows = [
                row for tier, points in batches.items() for row in self.catalogue.rows(None, points, tier)
            ]
        except CatalogueMiss:
            rows = None
        with self._translate_errors(), self._transaction() as conn:
            if rows is None:
                cur = conn.cursor()
                rows = [
                    row for tier, points in batches.items() for row in self.catalogue.rows(cur, points, tier)
                ]
            self._bulk_upsert(conn, rows)
            self._refresh_rollups(conn.cursor(), rows)

    def _refresh_rollups(self, cur, rows: list[tuple]) -> None:
        """Recompute the rollup units the written ``(series, field, ts, …)`` rows fall in, from
        raw points, so a repeated, late or corrected point leaves them exact."""
        hours: dict[int, set[tuple[int, int]]] = {}
        for series_id, field_id, ts, *_value in rows:
            hours.setdefault(ts - ts % rollups.HOUR, set()).add((series_id, field_id))
        if len(hours) <= 4:  # an agent report: a few hours, each its exact (series, field) pairs
            for hour, pairs in hours.items():
                for sql in compiler.refresh_pairs(sorted(pairs), hour):
                    cur.execute(self._sql(sql.text), sql.params)
            return
        # An import: one pass over its whole span (recomputing more units is only slower).
        series = sorted({s for pairs in hours.values() for s, _f in pairs})
        fields = sorted({f for pairs in hours.values() for _s, f in pairs})
        start, end = min(hours), max(hours) + rollups.HOUR
        day_start, day_end = start - start % rollups.DAY, end - 1 - (end - 1) % rollups.DAY + rollups.DAY
        for sql in (
            compiler.refresh_hours(series, fields, start, end),
            compiler.refresh_days(series, fields, day_start, day_end),
        ):
            cur.execute(self._sql(sql.text), sql.params)

    # ------------------------------------------------------------------ reads

    def _read(self, query: ReadQuery, since: datetime, until: datetime | None) -> list[Row]:
        fields = self._fields_of(query.measurements)
        wanted = fields if query.fields == "*" else {n: fields[n] for n in query.fields if n in fields}
        if not wanted:
            return []
        wanted_ids = sorted(fid for pairs in wanted.values() for fid, _kind in pairs)
        where_ids = {w.field: [fid for fid, _ in fields.get(w.field, [])] for w in query.where}
        sql = compiler.read_points(
            query,
            wanted_ids,
            where_ids,
            to_micros(since),
            until and to_micros(until),
            self.collate_c,
            self._series(query.measurements, query.retention, query.tags),
        )
        rows = self._query(sql)
        self._describe_series({r[0] for r in rows})
        result: list[Row] = []
        current_key = None
        for series_id, ts, field_id, num, txt in rows:
            if (series_id, ts) != current_key:
                current_key = (series_id, ts)
                measurement, tags = self.catalogue.series_info[series_id]
                current = Row(from_micros(ts), measurement, tags, {})
                result.append(current)
            name, kind = self.catalogue.field_info[field_id]
            current.fields[name] = typed(num, txt, kind)
        return result

    def _count_distinct(self, query: ReadQuery, field: str, since, until) -> int:
        fields = self._fields_of(query.measurements)
        ids = [fid for fid, _ in fields.get(field, [])]
        if not ids:
            return 0
        where_ids = {w.field: [fid for fid, _ in fields.get(w.field, [])] for w in query.where}
        series = self._series(query.measurements, query.retention, query.tags)
        sql = compiler.count_distinct(
            query, ids, where_ids, to_micros(since), until and to_micros(until), series
        )
        return int(self._query(sql)[0][0])

    # ------------------------------------------------------------------ charts

    def _chart_fields(self, query: ChartQuery) -> dict[str, list[tuple[int, str]]]:
        names = {agg.field for agg in query.aggregates}
        fields = self._fields_of([query.measurement], names)
        for agg in query.aggregates:
            kinds = {kind for _id, kind in fields.get(agg.field, [])}
            if agg.fn in NUMERIC_AGGREGATES and "s" in kinds:
                raise FieldTypeError(
                    f"{agg.fn}({agg.field}) needs numbers, but {query.measurement}.{agg.field} holds strings"
                )
        return fields

    def _aggregate(self, query: ChartQuery, bucketing: Bucketing | None, lower, end, mean_partials=None):
        """``{series: {bucket key: value}}``; with a ``mean_partials`` dict, also fills it with
        ``{alias: [(sum, count) per bucket]}`` for each mean aggregate."""
        fields = self._chart_fields(query)
        ids = {name: [fid for fid, _ in pairs] for name, pairs in fields.items()}
        kinds = {name: {kind for _, kind in pairs} for name, pairs in fields.items()}
        series = self._series([query.measurement], query.retention, query.tags)
        lower_us, upper_us = to_micros(lower), to_micros(end)
        out: dict[str, dict[int, Any]] = {}

        def put(name: str, key: int, value: Any) -> None:
            out.setdefault(name, {})[key] = value

        simple = [a for a in query.aggregates if a.fn not in ("mode", "last")]
        if simple:
            sql = compiler.chart_simple(
                simple,
                ids,
                series,
                bucketing,
                lower_us,
                upper_us,
                query.group_by,
                mean_partials=mean_partials is not None,
            )
            offset = 1 if query.group_by is None else 2
            means = [a for a in simple if a.fn == "mean"]
            extra = offset + len(simple)
            for row in self._query(sql):
                if mean_partials is not None:
                    for j, agg in enumerate(means):
                        partial = (row[extra + 2 * j] or 0, row[extra + 2 * j + 1] or 0)
                        mean_partials.setdefault(agg.alias, []).append(partial)
                for i, agg in enumerate(simple):
                    value = row[offset + i]
                    if value is None or (agg.fills_with_zero and value == 0):
                        continue
                    name = agg.alias if query.group_by is None else row[1]
                    put(
                        name,
                        int(row[0]),
                        aggregate_value(agg.fn, value, kinds.get(agg.field)),
                    )
        for agg in query.aggregates:
            if agg.fn not in ("mode", "last"):
                continue
            sql = compiler.chart_ranked(
                agg, ids.get(agg.field, []), series, bucketing, lower_us, upper_us, query.group_by
            )
            for key, group, num, txt in self._query(sql):
                name = agg.alias if query.group_by is None else group
                put(name, int(key), typed(num, txt, kinds.get(agg.field, set())))
        return out

    def _chart(self, query, bucketing, lower, end):
        return self._aggregate(query, bucketing, lower, end)

    def _summary(self, query, lower, end):
        raw = self._aggregate(query, None, lower, end)
        return {name: values.get(0) for name, values in raw.items()}

    def _chart_and_summary(self, query, bucketing, lower, end):
        """One scan for the chart, and the summary composed from its buckets; only distinct
        counts and modes, which do not compose, get a summary query of their own."""
        partials: dict[str, list] = {}
        raw = self._aggregate(query, bucketing, lower, end, partials)
        summary: dict[str, Any] = {}
        separate = []
        for agg in query.aggregates:
            values = list(raw.get(agg.alias, {}).values())
            if agg.fn == "mean":
                total = sum(s for s, _c in partials.get(agg.alias, []))
                count = sum(c for _s, c in partials.get(agg.alias, []))
                summary[agg.alias] = total / count if count else None
            elif agg.fn == "sum":
                summary[agg.alias] = sum(values) if values else None
            elif agg.fn == "min":
                summary[agg.alias] = min(values) if values else None
            elif agg.fn == "max":
                summary[agg.alias] = max(values) if values else None
            elif agg.fn == "count":
                summary[agg.alias] = sum(values)
            elif agg.fn == "last":
                by_key = raw.get(agg.alias, {})
                summary[agg.alias] = by_key[max(by_key)] if by_key else None
            else:
                separate.append(agg)
        if separate:
            rest = ChartQuery(
                query.measurement,
                separate,
                query.start,
                query.end,
                query.interval,
                query.timezone,
                query.tags,
                retention=query.retention,
            )
            summary.update(self._summary(rest, lower, end))
        return raw, summary

    def _rollup_partials(self, query, fields, bucketing, plan):
        """Partials of ``fields`` from raw points and rollups in one statement (see
        ``compiler.rollup_partials``); boolean fields are left to raw aggregates."""
        info = self._chart_fields(query)  # raises FieldTypeError like a raw chart would
        names: dict[int, str] = {}
        kinds: dict[str, set[str]] = {}
        raw_only = set()
        for name in fields:
            pairs = info.get(name, [])
            kinds[name] = {kind for _id, kind in pairs}
            if "b" in kinds[name]:
                raw_only.add(name)
                continue
            for field_id, _kind in pairs:
                names[field_id] = name
        out: dict = {}
        if not names:
            return out, raw_only
        series = self._series([query.measurement], query.retention, query.tags)
        sql = compiler.rollup_partials(sorted(names), series, bucketing, plan, query.group_by)
        numeric = {name: kind - {"s"} for name, kind in kinds.items()}
        for key, group, field_id, count, total, low, high in self._query(sql):
            name = names[field_id]
            kind = numeric[name]
            parts = {
                "count": int(count or 0),
                "sum": None if total is None else aggregate_value("sum", total, kind),
                "min": None if low is None else aggregate_value("min", low, kind),
                "max": None if high is None else aggregate_value("max", high, kind),
            }
            slot = out.setdefault(group if query.group_by is not None else None, {}).setdefault(name, {})
            key = int(key)
            # Several ids of one name (a field stored as int and float) merge into one value.
            slot[key] = rollups.merge(slot[key], parts) if key in slot else parts
        return out, raw_only

    def _rank_fields(self, query: ChartQuery, lower, end, n: int) -> list[str]:
        series = self._series([query.measurement], query.retention, query.tags)
        sql = compiler.rank_fields(query, to_micros(lower), to_micros(end), n, self.collate_c, series)
        return [name for name, _total in self._query(sql)]

    # ------------------------------------------------------------------ deletes & retention

    def _delete(self, measurement, tags, start, end, retention) -> None:
        series = compiler.series_subquery([measurement] if measurement is not None else None, retention, tags)
        text = f"DELETE FROM fw_samples WHERE series_id IN ({series.text})"
        params = list(series.params)
        if start is not None:
            text += " AND ts >= ?"
            params.append(to_micros(start))
        if end is not None:
            text += " AND ts <= ?"
            params.append(to_micros(end))
        # Series rows stay: other processes may hold their ids in cache and keep writing.
        first = to_micros(start) if start is not None else None
        last = to_micros(end) if end is not None else None
        self._execute_write(text, params, _rollups_after_delete(series, first, last))

    def _purge_before(self, tier: str, floor: datetime) -> int:
        series = Sql("SELECT id FROM fw_series WHERE retention = ?", [tier])
        return self._execute_write(
            f"DELETE FROM fw_samples WHERE series_id IN ({series.text}) AND ts < ?",
            [*series.params, to_micros(floor)],
            _rollups_after_delete(series, None, to_micros(floor) - 1),
        )

    def flush(self) -> None:
        with self._translate_errors(), self._transaction() as conn:
            cur = conn.cursor()
            for table in (
                "fw_samples",
                "fw_rollups_1h",
                "fw_rollups_1d",
                "fw_series_tags",
                "fw_series",
                "fw_fields",
            ):
                cur.execute(f"DELETE FROM {table}")
        self._forget_catalogue()

    def count_points(self, retention: str | None = None) -> dict[str, int]:
        return {name: int(count) for name, count in self._query(compiler.count_points(retention))}


def _rollups_after_delete(series: Sql, first: int | None, last: int | None) -> list[Sql]:
    """Statements that bring the rollups of ``series`` back in line after raw points in
    ``[first, last]`` (µs, either open) were deleted: drop every unit touching the range, then
    rebuild the units at its edges from what is left of them."""
    statements = []
    for step, refresh in ((rollups.HOUR, compiler.refresh_hours), (rollups.DAY, compiler.refresh_days)):
        start = first - first % step if first is not None else None
        end = last - last % step + step if last is not None else None
        statements.append(compiler.drop_rollups(step, series, start, end))
        statements.append(
            refresh(series, None, EVER[0] if start is None else start, EVER[1] if end is None else end)
        )
    return statements
