"""Rollups of the InfluxDB 2.x backend: Flux downsampling, run for exactly the units a change touches.

InfluxDB 2.x downsamples with a Flux script that aggregates a bucket into windows and writes the
result to another bucket with ``to()`` (what a downsampling *task* runs every hour). A task alone
is late by up to its period and never sees a late, resent or corrected point after its run; so
the backend runs the same kind of script itself, before ``write()``, ``delete()`` or
``enforce_retention()`` returns, over the whole UTC hours and days the change touched and only
for the series it touched (``refresh_script``). Each unit is recomputed from raw points and
``to()`` overwrites the unit's previous point (same series, field and time), so the rollups stay
equal to what the raw points give, however often and in whatever order points arrive. No task is
registered: every change already refreshes its units, and a task would only repeat that work.

Layout: each retention tier's bucket ``B`` has two rollup buckets, ``B:1h`` and ``B:1d`` (a
colon never appears in a tier's name), with the tier's retention rule; they are never read by
``read()``, ``count_points()`` or exports, and a flush drops them with the tier. A rollup point
keeps the raw series' measurement and tags, its time is the unit's start, and each raw numeric
field ``f`` gives four fields ``f|count``, ``f|sum``, ``f|min`` and ``f|max`` (``|`` is not
allowed in a field name), each typed as Flux types the aggregate (a count is an integer; the sum,
minimum and maximum of integers are integers, of floats floats). Strings and booleans are not
rolled up: charts answer them from raw points.

A unit left without points by a delete has no raw points to recompute it from: its rollup point
is deleted with the delete API (the same predicate as the raw delete) before the units at the
edges of the deleted range are recomputed from what is left of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backends.influxdb2 import compiler, flux
from fleetwatch.timeseries.buckets import Bucketing

SEPARATOR = "|"  # between a field's name and its part: refused in user field names
PARTS = rollups.PARTS  # count, sum, min, max
EVERY = {rollups.HOUR: "1h", rollups.DAY: "1d"}
# More separate spans than this in one refresh are recomputed as one span from first to last.
MAX_SPANS = 16
NUMERIC = "types.isNumeric(v: r._value)"


def part_field(name: str, part: str) -> str:
    return f"{name}{SEPARATOR}{part}"


def split_field(name: str) -> tuple[str, str]:
    field, _sep, part = name.rpartition(SEPARATOR)
    return field, part


def units(moments: Iterable[int], step: int) -> list[rollups.Interval]:
    """The ``[from, to)`` spans (µs) of whole ``step`` units holding ``moments``, contiguous units
    joined; many scattered spans become one (recomputing more units is only slower)."""
    starts = sorted({moment - moment % step for moment in moments})
    spans: list[rollups.Interval] = []
    for start in starts:
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], start + step)
        else:
            spans.append((start, start + step))
    if len(spans) > MAX_SPANS:
        spans = [(spans[0][0], spans[-1][1])]
    return spans


def _ranges(bucket: str, spans: Sequence[rollups.Interval]) -> str:
    """Points of ``bucket`` in any of ``spans`` (``[from, to)`` µs, None: open), each span read
    on its own (pushed down)."""
    tables = [
        f"from(bucket: {flux.string(bucket)}) |> range("
        f"start: {flux.MIN_TIME if a is None else flux.time(a)}, "
        f"stop: {flux.MAX_TIME if b is None else flux.time(b)})"
        for a, b in spans
    ]
    return tables[0] if len(tables) == 1 else "union(tables: [" + ", ".join(tables) + "])"


def refresh_script(raw_bucket: str, targets: dict[int, str], spans: dict[int, list], predicate: str) -> str:
    """A Flux script recomputing the rollup units of ``spans`` (step → ``[from, to)`` µs spans
    of whole units) from the points of ``raw_bucket`` that ``predicate`` selects (series and
    numeric fields; it may use ``types``), into ``targets`` (step → rollup bucket). Its answer
    is empty: ``to()``'s echo of what it wrote is filtered out."""
    parts = ['import "types"']
    for step, step_spans in spans.items():
        if not step_spans:
            continue
        source = f"{_ranges(raw_bucket, step_spans)} |> filter(fn: (r) => {predicate})"
        for part in PARTS:
            parts.append(
                f"{source} |> aggregateWindow(every: {EVERY[step]}, fn: {part}, createEmpty: false,"
                f' timeSrc: "_start")'
                f" |> map(fn: (r) => ({{r with _field: r._field + {flux.string(SEPARATOR + part)}}}))"
                f" |> to(bucket: {flux.string(targets[step])}) |> filter(fn: (r) => false)"
                f' |> yield(name: "{EVERY[step]}_{part}")'
            )
    return "\n".join(parts)


def series_predicate(series: dict[tuple[str, tuple], set[str]], max_series: int = 64) -> str:
    """``filter()`` predicate for the written series (``(measurement, sorted tag items)`` →
    numeric fields written): each series with its fields, or, for more series than
    ``max_series`` (an import), measurements and fields only (more series recomputed, same
    result, a shorter script)."""
    if len(series) > max_series:
        by_measurement: dict[str, set[str]] = {}
        for (measurement, _tags), names in series.items():
            by_measurement.setdefault(measurement, set()).update(names)
        return " or ".join(
            f"({flux.series_predicate([m], None, sorted(names))})"
            for m, names in sorted(by_measurement.items())
        )
    return " or ".join(
        f"({flux.series_predicate([m], {k: [v] for k, v in tags}, sorted(names))})"
        for (m, tags), names in sorted(series.items())
    )


def numeric_predicate(measurement: str | None, tags) -> str:
    """``filter()`` predicate for the numeric fields of a delete's series (a measurement and/or
    tag filters, each a list of accepted values)."""
    parts = [flux.any_of("_measurement", [measurement])] if measurement is not None else []
    parts += [flux.any_of(key, values) for key, values in (tags or {}).items()]
    return " and ".join([*parts, NUMERIC])


def partials_script(
    query_measurement: str,
    tags,
    fields: list[str],
    group_by: str | None,
    buckets: dict[int | None, str],
    bucketing: Bucketing | None,
    plan: rollups.Plan,
) -> str:
    """One Flux script for a chart's partials (see ``BaseBackend._rollup_partials``): the
    plan's raw intervals from the raw bucket (``buckets[None]``) and its whole units from the
    rollup buckets (``buckets[step]``), each source windowed by the chart's buckets and grouped
    by field (and the group-by tag). Yields ``<source>_<fn>``: ``raw_count``, ``raw_sum``,
    ``raw_min``, ``raw_max``, and per step ``1h_sum`` (of the ``count`` and ``sum`` parts),
    ``1h_min``, ``1h_max``."""
    group = f"group(columns: {flux.strings(['_field', *([group_by] if group_by else [])])})"
    keep = f"keep(columns: {flux.strings(['_time', '_value', '_field', *([group_by] if group_by else [])])})"
    window = compiler.windows(bucketing) if bucketing is not None else None

    def aggregate(fn: str) -> str:
        if window is None:
            return f"{fn}()"
        return f'aggregateWindow({window}, fn: {fn}, createEmpty: false, timeSrc: "_start")'

    out = []
    if plan.raw:
        source = (
            f"{_ranges(buckets[None], plan.raw)} |> filter(fn: (r) => "
            f"{flux.series_predicate([query_measurement], tags, fields)})"
        )
        for fn in PARTS:
            out.append(f'{source} |> {group} |> {aggregate(fn)} |> {keep} |> yield(name: "raw_{fn}")')
    for step, intervals in sorted(plan.rollups.items()):
        if not intervals:
            continue
        name = EVERY[step]
        for fn, parts in (("sum", ("count", "sum")), ("min", ("min",)), ("max", ("max",))):
            wanted = [part_field(f, p) for f in fields for p in parts]
            source = (
                f"{_ranges(buckets[step], intervals)} |> filter(fn: (r) => "
                f"{flux.series_predicate([query_measurement], tags, wanted)})"
            )
            out.append(f'{source} |> {group} |> {aggregate(fn)} |> {keep} |> yield(name: "{name}_{fn}")')
    return "\n".join(out)


def partials_answers(
    results: dict[str, list[flux.Block]], group_by: str | None, bucketing: Bucketing | None
) -> dict[str | None, dict[str, dict[int, dict]]]:
    """``{group: {field: {bucket key: partials}}}`` from ``partials_script``'s answer."""
    out: dict = {}
    for name, blocks in results.items():
        source, _sep, fn = name.partition("_")
        for block in blocks:
            times = flux.values(block, "_time")
            names = flux.values(block, "_field")
            values = flux.values(block, "_value")
            groups = flux.values(block, group_by) if group_by else None
            for i, value in enumerate(values):
                if value is None:
                    continue
                label = groups[i] if groups is not None else None
                if group_by and not label:
                    continue  # the series lacks the group-by tag
                field, part = (names[i], fn) if source == "raw" else split_field(names[i])
                key = bucketing.key(flux.micros(times[i])) if bucketing is not None else 0
                slot = out.setdefault(label, {}).setdefault(field, {})
                slot[key] = rollups.merge(slot.get(key, {}), {part: value})
    return out
