"""Query compilation of the InfluxDB 2.x backend: a ``ReadQuery`` into a Flux script and its
answers into rows; a ``ChartQuery`` into one Flux script (one ``yield`` per aggregate and per
summary, so a chart and its summary are one round trip), and that script's answers back into
raw aggregates per bucket key.

Bucket edges match ``Bucketing`` exactly: sub-day windows are ``aggregateWindow(every,
offset)`` with the zone's offset at the range start; day and week windows follow the local
calendar with ``location`` (23- and 25-hour days, epoch-aligned Thursdays for weeks).
``mean``/``sum``/``count`` and an exact ``count_distinct`` (``distinct |> count``) run on the
server with ``createEmpty`` windows; ``min``/``max``/``last`` run per series on the server and
are merged here, because the same selectors over a regrouped stream are an order of magnitude
slower; ``mode`` is computed here from raw values (Flux has none, and the tie rule is ours).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from fleetwatch.timeseries.backend import mode_of
from fleetwatch.timeseries.backends.influxdb2 import flux
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.model import ChartQuery, ReadQuery, Row
from fleetwatch.timeseries.times import from_micros

SERVER_FUNCTIONS = {"mean": "mean", "sum": "sum", "count": "count"}


def source(bucket: str, since: int | None, until: int | None) -> str:
    """``from |> range``: ``since`` and ``until`` inclusive (microseconds)."""
    start = flux.time(since) if since is not None else flux.MIN_TIME
    stop = flux.time(until + 1) if until is not None else flux.MAX_TIME
    return f"from(bucket: {flux.string(bucket)}) |> range(start: {start}, stop: {stop})"


def series_key(tags: dict[str, str]) -> str:
    """The SQL backends' order of series that share a timestamp."""
    return json.dumps(tags, sort_keys=True, separators=(",", ":"))


def where_predicate(query: ReadQuery, kinds: Mapping[str, Mapping[str, str]]) -> str:
    """The query's comparisons on pivoted rows, typed per measurement (``kinds``: measurement →
    field → kind)."""
    alternatives = []
    for measurement in query.measurements:
        conditions = [flux.where_condition(w, kinds[measurement].get(w.field)) for w in query.where]
        if "false" in conditions:
            continue
        alternatives.append(
            "(" + " and ".join([f"r._measurement == {flux.string(measurement)}", *conditions]) + ")"
        )
    return " or ".join(alternatives) or "false"


def selection(
    query: ReadQuery,
    bucket: str,
    since_us: int,
    until_us: int | None,
    fields: list[str] | None,
    kinds: Mapping[str, Mapping[str, str]],
) -> tuple[str, bool]:
    """The points a read selects, as Flux text, and whether its rows are pivoted (they are when
    ``where`` compares fields; ``kinds`` types those comparisons)."""
    read = fields
    if fields is not None and query.where:
        read = list(dict.fromkeys([*fields, *(w.field for w in query.where)]))
    script = (
        source(bucket, since_us, until_us)
        + f" |> filter(fn: (r) => {flux.series_predicate(query.measurements, query.tags, read)})"
    )
    if not query.where:
        return script, False
    condition = where_predicate(query, kinds)
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


def read_script(selected: str, query: ReadQuery) -> str:
    """A read's script from its selection: the limit, and the columns it does not need dropped."""
    script = selected
    if query.limit:
        # Per table (a series' field, or a pivoted series): whatever the global first
        # `limit` points are, each of their values is within its table's first `limit`.
        script += f" |> {'tail' if query.order == 'desc' else 'limit'}(n: {int(query.limit)})"
    return script + ' |> drop(columns: ["_start", "_stop"])'


def read_answers(
    blocks: list[flux.Block], query: ReadQuery, selected: list[str] | None, pivoted: bool
) -> list[Row]:
    """The rows of a read's answer, one per point, in the read's order (ties in time by
    measurement, then tags, as the SQL backends), at most ``query.limit``."""
    points: dict[tuple, tuple] = {}
    for block in blocks:
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
            key = (moment, names[i], series_key(tags))
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
            (micros, m, series_key(tags), tags, fields)
            for micros, m, tags, fields in points.values()
            if fields
        ),
        key=lambda r: (r[0], r[1], r[2]),
        reverse=query.order == "desc",
    )
    if query.limit:
        rows = rows[: query.limit]
    return [Row(from_micros(t), m, tags, fields) for t, m, _key, tags, fields in rows]


def windows(bucketing: Bucketing) -> str:
    """``aggregateWindow`` arguments giving exactly ``Bucketing``'s buckets."""
    step = bucketing.step // 1_000_000
    segments = bucketing.offsets
    if bucketing.interval.is_calendar and len({offset for _since, offset in segments}) > 1:
        zone = flux.string(bucketing.zone.key)
        return f"every: {bucketing.interval.days}d, location: {{zone: {zone}, offset: 0s}}"
    # One UTC offset throughout: plain windows shifted by it.
    offset = (-segments[0][1] // 1_000_000) % step
    return f"every: {step}s, offset: {offset}s"


def chart_script(
    query: ChartQuery,
    bucket: str,
    bucketing: Bucketing | None,
    lower_us: int,
    end_us: int,
    with_summary: bool,
) -> tuple[str, dict[str, str]]:
    """One Flux script for a chart's buckets (``bucketing``) and/or its summary over
    ``[lower_us, end_us]``: one ``yield`` per aggregate (``c<i>`` per bucket, ``s<i>`` for the
    summary), and raw values of each field a ``mode`` needs (returned: field → yield name)."""
    group_by = query.group_by
    extra = [group_by] if group_by else []
    group = f"group(columns: {flux.strings(['_field', *extra])})"
    keep = f"keep(columns: {flux.strings(['_time', '_value', *extra])})"
    window_args = windows(bucketing) if bucketing is not None else ""
    base = source(bucket, lower_us, end_us)
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
                    f"{src} |> {group} |> aggregateWindow({window_args}, fn: {fn}, createEmpty: true, "
                    f'timeSrc: "_start") |> {keep} |> yield(name: "c{i}")'
                )
            if with_summary:
                parts.append(f'{src} |> {group} |> {whole} |> {keep} |> yield(name: "s{i}")')
            continue
        # min, max, last: per series on the server, merged here.
        time_source = "_time" if agg.fn == "last" else "_start"
        if bucketing is not None:
            parts.append(
                f"{src} |> aggregateWindow({window_args}, fn: {agg.fn}, createEmpty: false, "
                f'timeSrc: "{time_source}") |> {keep} |> yield(name: "c{i}")'
            )
        if with_summary:
            whole = f"{agg.fn}()" if agg.fn == "last" else f"{group} |> {agg.fn}()"
            parts.append(f'{src} |> {whole} |> {keep} |> yield(name: "s{i}")')
    return "\n".join(parts), mode_fields


def chart_answers(
    query: ChartQuery,
    results: dict[str, list[flux.Block]],
    bucketing: Bucketing | None,
    mode_fields: dict[str, str],
    with_summary: bool,
) -> tuple[dict[str, dict[int, Any]], dict[str, Any]]:
    """The answers of ``chart_script``'s script as raw aggregates: ``({series: {bucket key:
    value}}, {series: value})`` (see ``BaseBackend._chart``)."""
    group_by = query.group_by

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
