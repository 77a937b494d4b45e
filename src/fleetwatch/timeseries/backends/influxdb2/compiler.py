"""Query compilation of the InfluxDB 2.x backend: a ``ChartQuery`` into one Flux script (one
``yield`` per aggregate and per summary, so a chart and its summary are one round trip), and
that script's answers back into raw aggregates per bucket key.

Bucket edges match ``Bucketing`` exactly: sub-day windows are ``aggregateWindow(every,
offset)`` with the zone's offset at the range start; day and week windows follow the local
calendar with ``location`` (23- and 25-hour days, epoch-aligned Thursdays for weeks).
``mean``/``sum``/``count`` and an exact ``count_distinct`` (``distinct |> count``) run on the
server with ``createEmpty`` windows; ``min``/``max``/``last`` run per series on the server and
are merged here, because the same selectors over a regrouped stream are an order of magnitude
slower; ``mode`` is computed here from raw values (Flux has none, and the tie rule is ours).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fleetwatch.timeseries.backend import mode_of
from fleetwatch.timeseries.backends.influxdb2 import flux
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.model import ChartQuery

SERVER_FUNCTIONS = {"mean": "mean", "sum": "sum", "count": "count"}


def source(bucket: str, since: int | None, until: int | None) -> str:
    """``from |> range``: ``since`` and ``until`` inclusive (microseconds)."""
    start = flux.time(since) if since is not None else flux.MIN_TIME
    stop = flux.time(until + 1) if until is not None else flux.MAX_TIME
    return f"from(bucket: {flux.string(bucket)}) |> range(start: {start}, stop: {stop})"


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
