"""Rollups of the InfluxDB 2.x backend: Flux downsampling, run for exactly the units a change touches.

InfluxDB 2.x downsamples with a Flux script that aggregates a bucket into windows and writes the
result to another bucket with ``to()`` (what a downsampling *task* runs every hour). A task alone
is late by up to its period and never sees a late, resent or corrected point after its run; so
the backend runs the same kind of script itself, before ``write()``, ``delete()`` or
``enforce_retention()`` returns, over the whole UTC hours the change touched and only for the
series it touched (``hours_script``), then over the days holding them, from those hours
(``days_script``: partials compose, and a day is 24 hourly units where it is hundreds of raw
points). Each unit is recomputed (never adjusted by a delta) and ``to()`` overwrites the unit's
previous point (same series, field and time), so the rollups stay equal to what the raw points
give, however often and in whatever order points arrive. No task is registered: every change
already refreshes its units, and a task would only repeat that work.

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

import itertools
from collections.abc import Iterable, Sequence

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backends import lineprotocol
from fleetwatch.timeseries.backends.influxdb2 import compiler, flux
from fleetwatch.timeseries.buckets import Bucketing

SEPARATOR = "|"  # between a field's name and its part: refused in user field names
PARTS = rollups.PARTS  # count, sum, min, max
EVERY = {rollups.HOUR: "1h", rollups.DAY: "1d"}
# More separate spans than this in one refresh are recomputed as one span from first to last.
MAX_SPANS = 16
# One refresh script covers at most this much time (a whole number of days): an import of a year
# is then a dozen scripts, none long enough for the server to time its writes out.
CHUNK = 32 * rollups.DAY
# Rollup intervals a chart reads in one script before it reads hours instead of days to join them.
MAX_RANGES = 4
NUMERIC = "types.isNumeric(v: r._value)"


def horizon_script(hours_bucket: str) -> str:
    """A Flux script answering the largest recorded horizon of a tier (one row, or none)."""
    return (
        f"from(bucket: {flux.string(hours_bucket)}) |> range(start: {flux.MIN_TIME}, stop: {flux.MAX_TIME})"
        f' |> filter(fn: (r) => r._measurement == {flux.string(lineprotocol.HORIZON)} and r._field == "until")'
        " |> group() |> max()"
    )


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


# How a day's partials come from its hours' partials: parts read → aggregate.
DAY_FROM_HOURS = (("sum", ("count", "sum")), ("min", ("min",)), ("max", ("max",)))


def _written(script: str) -> str:
    """A ``to()`` pipeline's end: its echo of what it wrote is left out of the answer."""
    return f"{script} |> filter(fn: (r) => false)"


def hours_script(
    raw_bucket: str, target: str, spans: list[rollups.Interval], predicate, fields: list[str] | None = None
) -> str:
    """A Flux script recomputing the hourly units of ``spans`` (``[from, to)`` µs spans of whole
    hours) from the points of ``raw_bucket`` that ``predicate(None)`` selects (series and
    numeric fields), into ``target``.

    Each aggregate reads the raw points itself, so InfluxDB's storage engine computes the
    windows in place. Naming the part fields (``f|sum``) with ``map()`` regroups every series'
    table, which is slow for an import of many series; given the ``fields`` written, each field
    and part is a pipeline of its own whose name is ``set()`` instead (about three times faster
    for 200 series, but a pipeline per field and part: kept for imports)."""
    raw = f"{_ranges(raw_bucket, spans)} |> filter(fn: (r) => {predicate(None)})"
    lines = ['import "types"']
    window = 'aggregateWindow(every: 1h, fn: {0}, createEmpty: false, timeSrc: "_start")'
    for part in PARTS:
        if fields is None:
            named = [
                (raw, f"map(fn: (r) => ({{r with _field: r._field + {flux.string(SEPARATOR + part)}}}))")
            ]
        else:
            named = [
                (f"{raw} |> filter(fn: (r) => r._field == {flux.string(name)})",
                 f'set(key: "_field", value: {flux.string(part_field(name, part))})')
                for name in fields
            ]  # fmt: skip
        for i, (source, rename) in enumerate(named):
            lines.append(
                _written(
                    f"{source} |> {window.format(part)} |> {rename} |> to(bucket: {flux.string(target)})"
                )
                + f' |> yield(name: "1h_{part}_{i}")'
            )
    return "\n".join(lines)


def days_script(hour_bucket: str, target: str, spans: list[rollups.Interval], predicate) -> str:
    """A Flux script recomputing the daily units of ``spans`` (whole days) from the hourly
    units in them (exact once those are: partials compose), for the series and fields
    ``predicate(parts)`` selects among the hourly units' part fields. A day has 24 hourly
    units per series and field where it has ~288 raw points (a 5-minute report) or more."""
    lines = ['import "strings"']
    for fn, parts in DAY_FROM_HOURS:
        lines.append(
            _written(
                f"{_ranges(hour_bucket, spans)} |> filter(fn: (r) => {predicate(parts)})"
                f' |> aggregateWindow(every: 1d, fn: {fn}, createEmpty: false, timeSrc: "_start")'
                f" |> to(bucket: {flux.string(target)})"
            )
            + f' |> yield(name: "1d_{fn}")'
        )
    return "\n".join(lines)


# More written series than this are selected by measurement and fields alone, and their hourly
# units named per field (see ``hours_script``).
MAX_SERIES = 64


def series_predicate(
    series: dict[tuple[str, tuple], set[str]], parts=None, max_series: int = MAX_SERIES
) -> str:
    """``filter()`` predicate for the written series (``(measurement, sorted tag items)`` →
    numeric fields written), over raw fields or (``parts``) over those fields' part fields:
    each series with its fields, or, for more series than ``max_series`` (an import),
    measurements and fields only (more series recomputed, same result, a shorter script)."""

    def names_of(names) -> list[str]:
        return sorted(names) if parts is None else sorted(part_field(n, p) for n in names for p in parts)

    if len(series) > max_series:
        by_measurement: dict[str, set[str]] = {}
        for (measurement, _tags), names in series.items():
            by_measurement.setdefault(measurement, set()).update(names)
        return " or ".join(
            f"({flux.series_predicate([m], None, names_of(names))})"
            for m, names in sorted(by_measurement.items())
        )
    return " or ".join(
        f"({flux.series_predicate([m], {k: [v] for k, v in tags}, names_of(names))})"
        for (m, tags), names in sorted(series.items())
    )


def numeric_predicate(measurement: str | None, tags, parts=None) -> str:
    """``filter()`` predicate for the numeric fields of a delete's series (a measurement and/or
    tag filters, each a list of accepted values), or (``parts``) for their part fields."""
    terms = [flux.any_of("_measurement", [measurement])] if measurement is not None else []
    terms += [flux.any_of(key, values) for key, values in (tags or {}).items()]
    if parts is None:
        return " and ".join([*terms, NUMERIC])
    suffixes = " or ".join(
        f"strings.hasSuffix(v: r._field, suffix: {flux.string(SEPARATOR + part)})" for part in parts
    )
    return " and ".join([*terms, f"({suffixes})"])


def unit_sources(
    plan: rollups.Plan, bucketing: Bucketing | None
) -> tuple[dict[int, list[rollups.Interval]], str | None]:
    """The rollup units to read for a plan, ``{step: [from, to) µs intervals}``, and the
    windows to aggregate them with when they differ from the chart's (else None).

    Each ``range()`` read costs InfluxDB a few milliseconds whatever it holds, and filtering
    rows by time in Flux costs more, so the number of intervals is what matters: the plan's
    own hours and days when they are few (a chart in UTC: the days in one interval, the hours
    at its two ends); else hours alone over the plan's whole units joined (a zone whose days
    start at 22:00 UTC: hours and days alternate at every bucket edge, but join into one
    interval). When bucket edges are off the hour (Asia/Kolkata), the hour holding each edge is
    read raw and splits the units into one interval per bucket: the hours are then read in one
    interval anyway, with windows that start after each edge's hour and end before the next
    (``period`` one hour shorter than the buckets), so those hours are left out; where that
    does not fit (edges off the hour across a change of UTC offset), one interval per bucket.
    """
    steps = {step: intervals for step, intervals in plan.rollups.items() if intervals}
    count = sum(len(intervals) for intervals in steps.values())
    if count <= MAX_RANGES:
        return steps, None
    joined: list[rollups.Interval] = []
    for start, end in sorted(i for intervals in steps.values() for i in intervals):
        if joined and joined[-1][1] == start:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    if len(joined) <= MAX_RANGES:
        return {rollups.HOUR: joined}, None
    windows = _windows_between_gaps(joined, bucketing)
    if windows is not None:
        return {rollups.HOUR: [(joined[0][0], joined[-1][1])]}, windows
    return ({rollups.HOUR: joined}, None) if len(joined) < count else (steps, None)


def _windows_between_gaps(joined: list[rollups.Interval], bucketing: Bucketing | None) -> str | None:
    """``aggregateWindow`` arguments whose windows cover exactly ``joined`` inside its span,
    when the gaps between its intervals are single hours one bucket step apart."""
    if bucketing is None or len({offset for _since, offset in bucketing.offsets}) > 1:
        return None  # a change of UTC offset moves the edges by an hour
    step = bucketing.step
    ends = [start for start, _end in joined[1:]]  # where each gap ends
    gaps_ok = all(later[0] - earlier[1] == rollups.HOUR for earlier, later in itertools.pairwise(joined))
    if not gaps_ok or step <= rollups.HOUR or any((end - ends[0]) % step for end in ends):
        return None
    offset = ends[0] % step
    return f"every: {step // 1_000_000}s, period: {(step - rollups.HOUR) // 1_000_000}s, offset: {offset // 1_000_000}s"


def partials_script(
    query_measurement: str,
    tags,
    fields: list[str],
    group_by: str | None,
    buckets: dict[int | None, str],
    bucketing: Bucketing | None,
    plan: rollups.Plan,
    parts: Iterable[str] = PARTS,
) -> str:
    """One Flux script for a chart's partials (see ``BaseBackend._rollup_partials``), only
    ``parts`` of them (a mean needs counts and sums, not minima and maxima): the
    plan's raw intervals from the raw bucket (``buckets[None]``) and its whole units from the
    rollup buckets (``buckets[step]``, as ``unit_sources`` chooses), each source windowed by the
    chart's buckets (a unit lies inside one bucket, its time is its start) and grouped
    by field (and the group-by tag). Yields ``<source>_<fn>``: ``raw_count``, ``raw_sum``,
    ``raw_min``, ``raw_max``, and per step ``1h_sum`` (of the ``count`` and ``sum`` parts),
    ``1h_min``, ``1h_max``."""
    group = f"group(columns: {flux.strings(['_field', *([group_by] if group_by else [])])})"
    keep = f"keep(columns: {flux.strings(['_time', '_value', '_field', *([group_by] if group_by else [])])})"
    window = compiler.windows(bucketing) if bucketing is not None else None

    def aggregate(fn: str, windows: str | None = None) -> str:
        if window is None:
            return f"{fn}()"
        return f'aggregateWindow({windows or window}, fn: {fn}, createEmpty: false, timeSrc: "_start")'

    wanted = set(parts)

    def regroup(fn: str) -> str:
        # Minima and maxima per series, merged by ``partials_answers``: the same selectors over
        # a regrouped stream are much slower (see ``compiler``).
        return "" if fn in ("min", "max") else f"{group} |> "

    # A source read in one range is read by each pipeline on its own: InfluxDB then pushes the
    # filter and the windows down to its storage engine. A source of several ranges is a union,
    # which it cannot push down: it is read once, shared by the pipelines (each range read has
    # a cost of its own).
    out = []

    def sources(name: str, bucket: str, intervals, predicates: dict[str, str]) -> dict[str, str]:
        if len(intervals) == 1:
            return {
                fn: f"{_ranges(bucket, intervals)} |> filter(fn: (r) => {p})" for fn, p in predicates.items()
            }
        every = " or ".join(f"({p})" for p in dict.fromkeys(predicates.values()))
        out.append(f"{name} = {_ranges(bucket, intervals)} |> filter(fn: (r) => {every})")
        return {fn: f"{name} |> filter(fn: (r) => {p})" for fn, p in predicates.items()}

    if plan.raw:
        predicate = flux.series_predicate([query_measurement], tags, fields)
        raw = sources("raw", buckets[None], plan.raw, dict.fromkeys(PARTS, predicate))
        for fn in [part for part in PARTS if part in wanted]:
            out.append(f'{raw[fn]} |> {regroup(fn)}{aggregate(fn)} |> {keep} |> yield(name: "raw_{fn}")')
    chosen, unit_windows = unit_sources(plan, bucketing)
    for step, intervals in sorted(chosen.items()):
        name = EVERY[step]
        needed = {fn: [p for p in read if p in wanted] for fn, read in DAY_FROM_HOURS}
        predicates = {
            fn: flux.series_predicate(
                [query_measurement], tags, [part_field(f, p) for f in fields for p in read]
            )
            for fn, read in needed.items()
            if read
        }
        units = sources(f"units_{name}", buckets[step], intervals, predicates)
        for fn in predicates:
            out.append(
                f"{units[fn]} |> {regroup(fn)}{aggregate(fn, unit_windows)} |> {keep}"
                f' |> yield(name: "{name}_{fn}")'
            )
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
