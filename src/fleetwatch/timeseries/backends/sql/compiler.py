"""Query compilation of the SQL backends: ChartQuery / ReadQuery → SQL (SQLite and PostgreSQL).

Physical layout (narrow, one row per field value, clustered by series, field and time):

    fw_series(id, retention, measurement, tags)      one row per tier + measurement + tag set
    fw_series_tags(key, value, series_id)           tag filters → series ids
    fw_fields(id, measurement, name, kind)          kind: f float, i int, b bool, s string
    fw_samples(series_id, field_id, ts, num, txt)   ts = µs since the epoch, PK (series, field, ts)

A chart reads one contiguous primary-key range per series and field, and buckets rows with
integer arithmetic (see ``buckets``), so no per-row function call is needed on any engine.
SQL is written with ``?`` placeholders; dialects translate them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.model import Aggregate, ChartQuery, ReadQuery, Where

VALUE_TEXT = "COALESCE(txt, CAST(num AS TEXT))"
SQL_OPS = {"=": "=", "!=": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


@dataclass
class Sql:
    text: str
    params: list


def in_list(values: Sequence) -> tuple[str, list]:
    return "(" + ", ".join("?" * len(values)) + ")", list(values)


def int_list(values: Sequence[int]) -> str:
    """Inline a list of ids we created ourselves (integers, so no injection)."""
    return "(" + ", ".join(str(int(v)) for v in values) + ")"


def series_subquery(
    measurements: Sequence[str] | None,
    retention: str | None,
    tags: Mapping[str, Sequence[str]],
) -> Sql:
    """SELECT of the ids of series matching measurement(s), tier and every tag filter."""
    clauses, params = [], []
    if retention is not None:
        clauses.append("retention = ?")
        params.append(retention)
    if measurements is not None:
        placeholders, values = in_list(measurements)
        clauses.append(f"measurement IN {placeholders}")
        params.extend(values)
    for key, values in tags.items():
        placeholders, tag_values = in_list(values)
        clauses.append(
            f"id IN (SELECT series_id FROM fw_series_tags WHERE key = ? AND value IN {placeholders})"
        )
        params.append(key)
        params.extend(tag_values)
    where = " AND ".join(clauses) or "1 = 1"
    return Sql(f"SELECT id FROM fw_series WHERE {where}", params)


# A tag filter matching at most this many series entries drives the series lookup; above it
# (organization-wide charts) the plain subquery is as good.
DRIVER_LIMIT = 1000


def tag_counts(tags: Mapping[str, Sequence[str]]) -> Sql:
    """``(position, entries)`` per tag filter, entries counted up to ``DRIVER_LIMIT + 1`` (each
    count reads at most that many index entries)."""
    parts, params = [], []
    for position, (key, values) in enumerate(tags.items()):
        placeholders, tag_values = in_list(values)
        parts.append(
            f"SELECT {position} AS i, (SELECT COUNT(*) FROM (SELECT 1 FROM fw_series_tags "
            f"WHERE key = ? AND value IN {placeholders} LIMIT {DRIVER_LIMIT + 1}) x) AS n"
        )
        params.extend([key, *tag_values])
    return Sql(" UNION ALL ".join(parts), params)


def series_by_tag(
    measurements: Sequence[str] | None,
    retention: str | None,
    tags: Mapping[str, Sequence[str]],
    driver: str,
) -> Sql:
    """Ids of the series matching everything, found from the ``driver`` tag's index entries and
    each checked against the rest: the cost follows the driver's few entries, not the number
    of series of the measurement (a device's chart in a fleet of 100,000 devices)."""
    placeholders, values = in_list(tags[driver])
    # CROSS JOIN keeps SQLite's loop order (tags outside); PostgreSQL plans it as a plain join.
    text = (
        "SELECT t.series_id FROM fw_series_tags t CROSS JOIN fw_series s "
        f"WHERE t.key = ? AND t.value IN {placeholders} AND s.id = t.series_id"
    )
    params = [driver, *values]
    if retention is not None:
        text += " AND s.retention = ?"
        params.append(retention)
    if measurements is not None:
        placeholders, names = in_list(measurements)
        text += f" AND s.measurement IN {placeholders}"
        params.extend(names)
    for key, wanted in tags.items():
        if key == driver:
            continue
        placeholders, others = in_list(wanted)
        text += (
            " AND EXISTS (SELECT 1 FROM fw_series_tags o WHERE o.key = ? "
            f"AND o.value IN {placeholders} AND o.series_id = t.series_id)"
        )
        params.extend([key, *others])
    return Sql(text, params)


def id_selector(ids: Sequence[int]) -> Sql:
    """Known series ids as a selector: like a series subquery, valid inside ``IN (…)``."""
    return Sql(", ".join(str(int(i)) for i in ids) or "-1", [])


def bucket_expr(bucketing: Bucketing | None, column: str = "ts") -> str:
    """Integer bucket key of ``ts`` (see ``buckets.Bucketing.key``); a constant for summaries."""
    if bucketing is None:
        return "0"
    segments = bucketing.offset_segments()
    if len(segments) == 1:
        offset = f"{int(segments[0][1])}"
    else:
        branches = " ".join(
            f"WHEN {column} < {int(until)} THEN {int(offset)}" for until, offset in segments[:-1]
        )
        offset = f"(CASE {branches} ELSE {int(segments[-1][1])} END)"
    return f"(({column} + {offset}) / {int(bucketing.step)})"


def where_exists(conditions: Sequence[Where], field_ids: Mapping[str, list[int]], alias: str) -> Sql:
    """EXISTS clauses: the point (series, ts) of row ``alias`` satisfies every comparison."""
    parts, params = [], []
    for cond in conditions:
        ids = field_ids.get(cond.field) or [-1]
        if isinstance(cond.value, str):
            column, value = "txt", cond.value
        else:
            column, value = "num", float(cond.value)
        parts.append(
            f"EXISTS (SELECT 1 FROM fw_samples w WHERE w.series_id = {alias}.series_id "
            f"AND w.ts = {alias}.ts AND w.field_id IN {int_list(ids)} "
            f"AND w.{column} {SQL_OPS[cond.op]} ?)"
        )
        params.append(value)
    return Sql(" AND ".join(parts), params)


def simple_aggregate_expr(agg: Aggregate, ids: list[int]) -> str:
    """Aggregates computed in one GROUP BY pass (everything but mode and last)."""
    pick = f"CASE WHEN field_id IN {int_list(ids or [-1])} THEN"
    if agg.fn == "mean":
        return f"AVG({pick} num END)"
    if agg.fn == "sum":
        return f"SUM({pick} num END)"
    if agg.fn == "min":
        return f"MIN({pick} num END)"
    if agg.fn == "max":
        return f"MAX({pick} num END)"
    if agg.fn == "count":
        return f"COUNT({pick} 1 END)"
    if agg.fn == "count_distinct":
        return f"COUNT(DISTINCT {pick} {VALUE_TEXT} END)"
    raise AssertionError(agg.fn)


def time_clause(lower_us: int, upper_us: int | None, alias: str = "") -> Sql:
    prefix = f"{alias}." if alias else ""
    if upper_us is None:
        return Sql(f"{prefix}ts >= ?", [lower_us])
    return Sql(f"{prefix}ts >= ? AND {prefix}ts <= ?", [lower_us, upper_us])


def chart_simple(
    aggregates: Sequence[Aggregate],
    field_ids: Mapping[str, list[int]],
    series: Sql,
    bucketing: Bucketing | None,
    lower_us: int,
    upper_us: int,
    group_by: str | None,
    mean_partials: bool = False,
) -> Sql:
    """One pass over the rows: a bucket key (and group value) plus one column per aggregate;
    with ``mean_partials``, then a SUM and a COUNT column per mean (to summarise the range)."""
    all_ids = sorted({i for agg in aggregates for i in field_ids.get(agg.field, [])}) or [-1]
    exprs = [simple_aggregate_expr(a, field_ids.get(a.field, [])) for a in aggregates]
    if mean_partials:
        for agg in aggregates:
            if agg.fn == "mean":
                ids = field_ids.get(agg.field, [])
                exprs.append(simple_aggregate_expr(Aggregate("sum", agg.field), ids))
                exprs.append(simple_aggregate_expr(Aggregate("count", agg.field), ids))
    columns = ", ".join(exprs)
    bucket = bucket_expr(bucketing)
    timing = time_clause(lower_us, upper_us)
    if group_by is None:
        text = (
            f"SELECT {bucket} AS b, {columns} FROM fw_samples "
            f"WHERE series_id IN ({series.text}) AND field_id IN {int_list(all_ids)} "
            f"AND {timing.text} GROUP BY 1"
        )
        return Sql(text, [*series.params, *timing.params])
    text = (
        f"SELECT {bucket} AS b, g.value AS grp, {columns} FROM fw_samples "
        f"JOIN fw_series_tags g ON g.series_id = fw_samples.series_id AND g.key = ? "
        f"WHERE fw_samples.series_id IN ({series.text}) AND field_id IN {int_list(all_ids)} "
        f"AND {timing.text} GROUP BY 1, 2"
    )
    return Sql(text, [group_by, *series.params, *timing.params])


def chart_ranked(
    agg: Aggregate,
    ids: list[int],
    series: Sql,
    bucketing: Bucketing | None,
    lower_us: int,
    upper_us: int,
    group_by: str | None,
) -> Sql:
    """Mode (most frequent; ties: first seen, then smallest) or last (latest; ties: largest).

    Returns rows ``(b, grp, num, txt)``, one per bucket (and group).
    """
    bucket = bucket_expr(bucketing, "s.ts")
    timing = time_clause(lower_us, upper_us, "s")
    group_join, group_col, group_params = "", "''", []
    if group_by is not None:
        group_join = "JOIN fw_series_tags g ON g.series_id = s.series_id AND g.key = ?"
        group_col, group_params = "g.value", [group_by]
    inner = (
        f"SELECT {bucket} AS b, {group_col} AS grp, s.num, s.txt, s.ts "
        f"FROM fw_samples s {group_join} "
        f"WHERE s.series_id IN ({series.text}) AND s.field_id IN {int_list(ids or [-1])} "
        f"AND {timing.text}"
    )
    params = [*group_params, *series.params, *timing.params]
    if agg.fn == "mode":
        text = (
            "SELECT b, grp, num, txt FROM ("
            "SELECT b, grp, num, txt, ROW_NUMBER() OVER (PARTITION BY b, grp "
            "ORDER BY COUNT(*) DESC, MIN(ts) ASC, num ASC, txt ASC) AS rn "
            f"FROM ({inner}) x GROUP BY b, grp, num, txt) y WHERE rn = 1"
        )
    else:
        text = (
            "SELECT b, grp, num, txt FROM ("
            "SELECT b, grp, num, txt, ROW_NUMBER() OVER (PARTITION BY b, grp "
            "ORDER BY ts DESC, num DESC, txt DESC) AS rn "
            f"FROM ({inner}) x) y WHERE rn = 1"
        )
    return Sql(text, params)


# ------------------------------------------------------------------ reads


def read_points(
    query: ReadQuery,
    wanted_ids: list[int],
    where_ids: Mapping[str, list[int]],
    since_us: int,
    until_us: int | None,
    collate: str = "",
    series: Sql | None = None,
) -> Sql:
    """``(series_id, ts, field_id, num, txt)`` of the fields ``wanted_ids`` of the points a read
    selects, in the read's order (ties in time by measurement, then tags, ``collate``-d); the
    limit counts points, not field values."""
    series = series or series_subquery(query.measurements, query.retention, query.tags)
    timing = time_clause(since_us, until_us, "p")
    exists = where_exists(query.where, where_ids, "p")
    direction = "DESC" if query.order == "desc" else "ASC"
    limit = f"LIMIT {int(query.limit)}" if query.limit else ""
    text = (
        "WITH pts AS ("
        "SELECT p.series_id, p.ts, s.measurement, s.tags FROM fw_samples p "
        "JOIN fw_series s ON s.id = p.series_id "
        f"WHERE p.series_id IN ({series.text}) AND p.field_id IN {int_list(wanted_ids)} "
        f"AND {timing.text} {'AND ' + exists.text if exists.text else ''} "
        "GROUP BY p.series_id, p.ts, s.measurement, s.tags "
        f"ORDER BY p.ts {direction}, s.measurement{collate} {direction}, "
        f"s.tags{collate} {direction} {limit}) "
        "SELECT pts.series_id, pts.ts, x.field_id, x.num, x.txt FROM pts "
        "JOIN fw_samples x ON x.series_id = pts.series_id AND x.ts = pts.ts "
        f"WHERE x.field_id IN {int_list(wanted_ids)} "
        f"ORDER BY pts.ts {direction}, pts.measurement{collate} {direction}, "
        f"pts.tags{collate} {direction}"
    )
    return Sql(text, [*series.params, *timing.params, *exists.params])


def count_distinct(
    query: ReadQuery,
    ids: list[int],
    where_ids: Mapping[str, list[int]],
    since_us: int,
    until_us: int | None,
    series: Sql | None = None,
) -> Sql:
    """The number of distinct values among the fields ``ids`` of the points a read selects."""
    series = series or series_subquery(query.measurements, query.retention, query.tags)
    timing = time_clause(since_us, until_us, "p")
    exists = where_exists(query.where, where_ids, "p")
    text = (
        f"SELECT COUNT(DISTINCT {VALUE_TEXT}) FROM fw_samples p "
        f"WHERE p.series_id IN ({series.text}) AND p.field_id IN {int_list(ids)} "
        f"AND {timing.text} {'AND ' + exists.text if exists.text else ''}"
    )
    return Sql(text, [*series.params, *timing.params, *exists.params])


def rank_fields(
    query: ChartQuery, lower_us: int, end_us: int, n: int, collate: str = "", series: Sql | None = None
) -> Sql:
    """``(name, total)`` of the ``n`` numeric fields with the largest sums, largest first."""
    series = series or series_subquery([query.measurement], query.retention, query.tags)
    timing = time_clause(lower_us, end_us, "s")
    text = (
        "SELECT f.name, SUM(s.num) AS total FROM fw_samples s "
        "JOIN fw_fields f ON f.id = s.field_id "
        f"WHERE s.series_id IN ({series.text}) AND f.kind <> 's' AND {timing.text} "
        f"GROUP BY f.name HAVING SUM(s.num) IS NOT NULL "
        f"ORDER BY total DESC, f.name{collate} ASC LIMIT {int(n)}"
    )
    return Sql(text, [*series.params, *timing.params])


def count_points(retention: str | None) -> Sql:
    """``(measurement, points)`` stored, in one tier or all."""
    # Count per series first: the join then sees one row per series, whatever the plan.
    text = (
        "SELECT s.measurement, SUM(p.points) FROM (SELECT series_id, COUNT(DISTINCT ts) AS points "
        "FROM fw_samples GROUP BY series_id) p JOIN fw_series s ON s.id = p.series_id"
    )
    params = []
    if retention is not None:
        text += " WHERE s.retention = ?"
        params.append(retention)
    return Sql(text + " GROUP BY s.measurement", params)


# ------------------------------------------------------------------ rollups

ROLLUP_TABLES = {rollups.HOUR: "fw_rollups_1h", rollups.DAY: "fw_rollups_1d"}


def floor_expr(column: str, step: int) -> str:
    """Start of the ``step``-long unit holding ``column`` (µs), also before 1970."""
    step = int(step)
    return f"({column} - ((({column} % {step}) + {step}) % {step}))"


def rollup_partials(
    field_ids: Sequence[int],
    series: Sql,
    bucketing: Bucketing | None,
    plan: rollups.Plan,
    group_by: str | None,
) -> Sql:
    """``(b, grp, field_id, count, sum, min, max)`` per bucket (and group) and field, read from
    raw points for the plan's raw intervals and from the rollup tables for its whole units, in
    one statement: one index range per interval, so nothing outside the range is scanned."""
    ids = int_list(field_ids or [-1])
    branches, params = [], []
    for start, end in plan.raw:
        branches.append(
            "SELECT series_id, field_id, ts AS t, 1 AS cnt, num AS total, num AS lo, num AS hi "
            f"FROM fw_samples WHERE series_id IN ({series.text}) AND field_id IN {ids} "
            f"AND ts >= {int(start)} AND ts < {int(end)}"
        )
        params.extend(series.params)
    for step, intervals in plan.rollups.items():
        for start, end in intervals:
            branches.append(
                "SELECT series_id, field_id, bucket AS t, cnt, total, lo, hi "
                f"FROM {ROLLUP_TABLES[step]} WHERE series_id IN ({series.text}) AND field_id IN {ids} "
                f"AND bucket >= {int(start)} AND bucket < {int(end)}"
            )
            params.extend(series.params)
    union = " UNION ALL ".join(branches)
    bucket = bucket_expr(bucketing, "u.t")
    columns = "SUM(u.cnt), SUM(u.total), MIN(u.lo), MAX(u.hi)"
    if group_by is None:
        text = f"SELECT {bucket} AS b, '' AS grp, u.field_id, {columns} FROM ({union}) u GROUP BY 1, 2, 3"
        return Sql(text, params)
    text = (
        f"SELECT {bucket} AS b, g.value AS grp, u.field_id, {columns} FROM ({union}) u "
        "JOIN fw_series_tags g ON g.series_id = u.series_id AND g.key = ? GROUP BY 1, 2, 3"
    )
    return Sql(text, [*params, group_by])


def refresh_hours(
    series_ids: Sequence[int] | Sql, field_ids: Sequence[int] | None, start: int, end: int
) -> Sql:
    """Recompute the hourly rollups of the given series (and fields, or all) for the whole hours
    in ``[start, end)`` from raw points. Units with no raw point left are not touched here
    (deletes remove their rows first)."""
    hour = floor_expr("ts", rollups.HOUR)
    series, params = _series_filter(series_ids)
    fields = _field_filter(field_ids)
    text = (
        "INSERT INTO fw_rollups_1h (series_id, field_id, bucket, cnt, total, lo, hi) "
        f"SELECT series_id, field_id, {hour}, COUNT(*), SUM(num), MIN(num), MAX(num) FROM fw_samples "
        f"WHERE series_id IN {series} {fields}AND ts >= ? AND ts < ? "
        f"GROUP BY series_id, field_id, {hour} "
        "ON CONFLICT (series_id, field_id, bucket) DO UPDATE SET cnt = excluded.cnt, "
        "total = excluded.total, lo = excluded.lo, hi = excluded.hi"
    )
    return Sql(text, [*params, int(start), int(end)])


def refresh_days(
    series_ids: Sequence[int] | Sql, field_ids: Sequence[int] | None, start: int, end: int
) -> Sql:
    """Recompute the daily rollups of whole UTC days in ``[start, end)`` from the hourly ones."""
    day = floor_expr("bucket", rollups.DAY)
    series, params = _series_filter(series_ids)
    fields = _field_filter(field_ids)
    text = (
        "INSERT INTO fw_rollups_1d (series_id, field_id, bucket, cnt, total, lo, hi) "
        f"SELECT series_id, field_id, {day}, SUM(cnt), SUM(total), MIN(lo), MAX(hi) FROM fw_rollups_1h "
        f"WHERE series_id IN {series} {fields}AND bucket >= ? AND bucket < ? "
        f"GROUP BY series_id, field_id, {day} "
        "ON CONFLICT (series_id, field_id, bucket) DO UPDATE SET cnt = excluded.cnt, "
        "total = excluded.total, lo = excluded.lo, hi = excluded.hi"
    )
    return Sql(text, [*params, int(start), int(end)])


def drop_rollups(step: int, series_ids: Sequence[int] | Sql, start: int | None, end: int | None) -> Sql:
    """Delete the rollup rows of ``step`` of the given series whose unit starts in ``[start, end)``."""
    series, params = _series_filter(series_ids)
    text = f"DELETE FROM {ROLLUP_TABLES[step]} WHERE series_id IN {series} {_field_filter(None)}"
    if start is not None:
        text += " AND bucket >= ?"
        params.append(int(start))
    if end is not None:
        text += " AND bucket < ?"
        params.append(int(end))
    return Sql(text, params)


def _series_filter(series_ids: Sequence[int] | Sql) -> tuple[str, list]:
    if isinstance(series_ids, Sql):
        return f"({series_ids.text})", list(series_ids.params)
    return int_list(series_ids or [-1]), []


def _field_filter(field_ids: Sequence[int] | None) -> str:
    # Every field when none are given: naming them keeps the (series, field, time) key usable
    # for the time range, where "any field" would scan each series whole.
    if field_ids is None:
        return "AND field_id IN (SELECT id FROM fw_fields) "
    return f"AND field_id IN {int_list(field_ids)} "


def refresh_pairs(pairs: Sequence[tuple[int, int]], hour: int) -> list[Sql]:
    """Recompute the hourly rollups of exactly these ``(series, field)`` pairs for the hour
    starting at ``hour``, then their days: what a write of one report touches (an index seek per
    pair, where a series × field cross product would probe every combination)."""
    values = ", ".join(f"({int(series)}, {int(field)})" for series, field in pairs)
    day = hour - hour % rollups.DAY
    upsert = (
        "ON CONFLICT (series_id, field_id, bucket) DO UPDATE SET cnt = excluded.cnt, "
        "total = excluded.total, lo = excluded.lo, hi = excluded.hi"
    )
    hours = (
        f"WITH k (s, f) AS (VALUES {values}) "
        "INSERT INTO fw_rollups_1h (series_id, field_id, bucket, cnt, total, lo, hi) "
        "SELECT x.series_id, x.field_id, ?, COUNT(*), SUM(x.num), MIN(x.num), MAX(x.num) "
        "FROM k CROSS JOIN fw_samples x WHERE x.series_id = k.s AND x.field_id = k.f "
        f"AND x.ts >= ? AND x.ts < ? GROUP BY x.series_id, x.field_id {upsert}"
    )
    days = (
        f"WITH k (s, f) AS (VALUES {values}) "
        "INSERT INTO fw_rollups_1d (series_id, field_id, bucket, cnt, total, lo, hi) "
        "SELECT x.series_id, x.field_id, ?, SUM(x.cnt), SUM(x.total), MIN(x.lo), MAX(x.hi) "
        "FROM k CROSS JOIN fw_rollups_1h x WHERE x.series_id = k.s AND x.field_id = k.f "
        f"AND x.bucket >= ? AND x.bucket < ? GROUP BY x.series_id, x.field_id {upsert}"
    )
    return [
        Sql(hours, [int(hour), int(hour), int(hour) + rollups.HOUR]),
        Sql(days, [int(day), int(day), int(day) + rollups.DAY]),
    ]
