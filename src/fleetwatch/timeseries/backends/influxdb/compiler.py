"""Query compilation of the InfluxDB 1.x backend: a ``ChartQuery`` into InfluxQL statements
(one request per chart and summary), and their answers back into raw aggregates per bucket key.

Bucket edges are Fleetwatch's own (``Bucketing``), not the server's ``tz()``: a chart is split
into runs of buckets that share one UTC offset, each run grouped by ``time(step, offset)``
with an explicit offset, and a day (or week) bucket that spans a DST change gets a statement
of its own. ``mode`` is computed here from raw values (its MODE() breaks ties differently).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from fleetwatch.timeseries.backend import mode_of
from fleetwatch.timeseries.backends.influxdb import influxql as q
from fleetwatch.timeseries.backends.influxdb.client import series_of
from fleetwatch.timeseries.backends.influxdb.points import convert
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.model import ChartQuery
from fleetwatch.timeseries.times import to_micros

FUNCTIONS = {
    "mean": "MEAN({})",
    "sum": "SUM({})",
    "count": "COUNT({})",
    "count_distinct": "COUNT(DISTINCT({}))",
    "min": "MIN({})",
    "max": "MAX({})",
    "last": "LAST({})",
}


@dataclass(frozen=True)
class Window:
    """One statement's share of a chart: ``[since, before)`` and, for a run of regular buckets,
    the ``GROUP BY time(step, offset)`` offset; for a single irregular bucket, its key."""

    since: int
    before: int
    offset: int | None = None
    key: int | None = None


def plan_windows(bucketing: Bucketing, lower: int, end: int) -> list[Window]:
    """Split ``[lower, end]`` into runs of buckets of one length and one UTC offset."""
    step = bucketing.step
    if not bucketing.interval.is_calendar:
        base = bucketing.offsets[0][1]
        return [Window(lower, end + 1, (-base) % step)]
    windows: list[Window] = []
    run_start = run_end = run_offset = None
    for key in bucketing.keys():
        start = to_micros(bucketing.key_start(key))
        stop = to_micros(bucketing.key_start(key + 1))
        if stop <= lower or start > end:
            continue
        offset = bucketing.offset_at(start)
        if stop - start != step:  # a DST change inside: this bucket alone
            if run_start is not None:
                windows.append(Window(run_start, run_end, (-run_offset) % step))
                run_start = None
            windows.append(Window(start, stop, key=key))
            continue
        if run_start is not None and offset == run_offset and start == run_end:
            run_end = stop
            continue
        if run_start is not None:
            windows.append(Window(run_start, run_end, (-run_offset) % step))
        run_start, run_end, run_offset = start, stop, offset
    if run_start is not None:
        windows.append(Window(run_start, run_end, (-run_offset) % step))
    return [Window(max(w.since, lower), min(w.before, end + 1), w.offset, w.key) for w in windows]


def chart_statements(
    query: ChartQuery,
    policy: str,
    bucketing: Bucketing | None,
    lower_us: int,
    end_us: int,
    with_summary: bool,
) -> tuple[list[str], list[Window]]:
    """The statements of one request for a chart's buckets (``bucketing``) and/or its summary
    over ``[lower_us, end_us]``: one per window, then the summary's, then one reading the raw
    values ``mode`` needs. Returns them and the windows (``chart_answers`` needs both)."""
    source = q.source(policy, query.measurement)
    tags = q.tag_conditions(query.tags)
    group = f", {q.ident(query.group_by)}" if query.group_by else ""
    simple = [a for a in query.aggregates if a.fn != "mode"]
    modes = [a for a in query.aggregates if a.fn == "mode"]
    columns = ", ".join(
        f"{FUNCTIONS[a.fn].format(q.ident(a.field))} AS {q.ident(f'a{i}')}" for i, a in enumerate(simple)
    )
    statements: list[str] = []
    windows = plan_windows(bucketing, lower_us, end_us) if bucketing is not None else []
    if simple:
        for window in windows:
            where = q.where_clause(tags + q.time_conditions(window.since, before=window.before))
            if window.key is None:
                grouping = f" GROUP BY time({q.duration(bucketing.step)}, {q.duration(window.offset)}){group}"
            else:
                grouping = f" GROUP BY {group[2:]}" if group else ""
            statements.append(f"SELECT {columns} FROM {source}{where}{grouping} fill(none)")
        if with_summary:
            where = q.where_clause(tags + q.time_conditions(lower_us, end_us))
            statements.append(
                f"SELECT {columns} FROM {source}{where}" + (f" GROUP BY {group[2:]}" if group else "")
            )
    if modes:
        fields = ", ".join(q.ident(f) for f in dict.fromkeys(a.field for a in modes))
        where = q.where_clause(tags + q.time_conditions(lower_us, end_us))
        statements.append(
            f"SELECT {fields} FROM {source}{where}" + (f" GROUP BY {group[2:]}" if group else "")
        )
    return statements, windows


def chart_answers(
    query: ChartQuery,
    results: list[dict[str, Any]],
    bucketing: Bucketing | None,
    windows: list[Window],
    kinds: dict[str, str],
    with_summary: bool,
) -> tuple[dict[str, dict[int, Any]], dict[str, Any]]:
    """The answers to ``chart_statements`` as raw aggregates: ``({series: {bucket key: value}},
    {series: value})`` (see ``BaseBackend._chart``); ``kinds`` are the measurement's field kinds."""
    simple = [a for a in query.aggregates if a.fn != "mode"]
    modes = [a for a in query.aggregates if a.fn == "mode"]
    chart: dict[str, dict[int, Any]] = {}
    summary: dict[str, Any] = {}

    def name_of(agg, series) -> str | None:
        if query.group_by is None:
            return agg.alias
        return (series.get("tags") or {}).get(query.group_by) or None

    def value_of(agg, value):
        if agg.fn in ("count", "count_distinct"):
            return int(value)
        if agg.fn == "mean":
            return float(value)
        return convert(value, kinds.get(agg.field))

    position = 0
    if simple:
        for window in windows:
            for series in series_of(results[position]):
                for values in series.get("values", []):
                    key = window.key if window.key is not None else bucketing.key(values[0])
                    for i, agg in enumerate(simple):
                        value, name = values[1 + i], name_of(agg, series)
                        if name is None or value is None or (agg.fills_with_zero and value == 0):
                            continue
                        chart.setdefault(name, {})[key] = value_of(agg, value)
            position += 1
        if with_summary:
            for series in series_of(results[position]):
                for values in series.get("values", [])[:1]:
                    for i, agg in enumerate(simple):
                        name = name_of(agg, series)
                        if name is not None and values[1 + i] is not None:
                            summary[name] = value_of(agg, values[1 + i])
            position += 1
    if modes:
        modes_of(query, modes, results[position], bucketing, kinds, chart, summary, with_summary, name_of)
    return chart, summary


def modes_of(query, modes, result, bucketing, kinds, chart, summary, with_summary, name_of) -> None:
    """``mode`` aggregates from raw values (InfluxQL's MODE() breaks ties differently from the
    other backends), into ``chart`` and ``summary``."""
    per_bucket: dict[tuple[str, int], list] = defaultdict(list)
    overall: dict[str, list] = defaultdict(list)
    for series in series_of(result):
        columns = series["columns"]
        for agg in modes:
            name = name_of(agg, series)
            if name is None:
                continue
            column = columns.index(agg.field)
            for values in series.get("values", []):
                value = values[column]
                if value is None:
                    continue
                value = convert(value, kinds.get(agg.field))
                if bucketing is not None:
                    per_bucket[(name, bucketing.key(values[0]))].append((values[0], value))
                overall[name].append((values[0], value))
    for (name, key), values in per_bucket.items():
        chart.setdefault(name, {})[key] = mode_of(values)
    if with_summary:
        for name, values in overall.items():
            summary[name] = mode_of(values)
