"""InfluxQL of the InfluxDB 1.x rollups: the ``SELECT … INTO`` statements that recompute hourly
and daily partials from stored points, and the statements a long-range chart reads them with.

Layout (see the backend's module docstring for why):

* a tier's rollups live in a retention policy of their own, ``rollups:<tier>``, in measurements
  ``<measurement>:<tier>:1h`` and ``<measurement>:<tier>:1d`` (``:`` is refused in Fleetwatch's
  names, so they cannot clash with a user's measurement, and ``DELETE FROM`` one of them, which
  InfluxQL applies in every retention policy, reaches one tier's one step only);
* a unit is one point at its UTC start, with the series' tags as tags (``GROUP BY time(…), *``)
  and the fields ``count_<f>``, ``sum_<f>``, ``min_<f>``, ``max_<f>`` for a numeric field ``f``
  (InfluxQL's own names for ``count(*)`` …; no two fields map to one name, and a user's own
  ``count_x`` field becomes ``count_count_x``), only ``count_<f>`` for a string field. Booleans
  are not rolled up. Sums keep InfluxDB's type: ``sum()`` of an integer field is an integer.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backends.influxdb import influxql as q
from fleetwatch.timeseries.backends.influxdb.client import series_of
from fleetwatch.timeseries.backends.influxdb.compiler import Window, plan_windows
from fleetwatch.timeseries.backends.influxdb.points import convert
from fleetwatch.timeseries.buckets import Bucketing

HOUR, DAY = rollups.HOUR, rollups.DAY
NUMERIC = ("float", "integer")
# Above this many touched series a refresh recomputes the whole measurement over the touched
# units: a longer list of tag conditions costs more to parse and match than it saves.
MAX_SERIES_CONDITIONS = 100


def policy(tier: str) -> str:
    """The retention policy of a tier's rollups."""
    return f"rollups:{tier}"


def measurement(name: str, tier: str, step: int) -> str:
    """The measurement holding ``name``'s rollups of ``step`` in ``tier``."""
    return f"{name}:{tier}:{rollups.STEP_NAMES[step]}"


def tier_pattern(tier: str) -> str:
    """A regular expression source matching every rollup measurement of ``tier``."""
    escaped = "".join("\\" + c if c in ".-" else c for c in tier)
    return f"/:{escaped}:1[hd]$/"


def parts_of(kind: str | None) -> tuple[str, ...]:
    """The partials kept for a field of this kind."""
    if kind in NUMERIC:
        return rollups.PARTS
    if kind == "string":
        return ("count",)
    return ()


def series_conditions(tag_sets: Iterable[Mapping[str, str]]) -> list[str]:
    """A condition matching (at least) the given series, or none (the whole measurement) when
    they are many or one has no tags. Matching more series than written only recomputes units
    that were already right."""
    alternatives = set()
    for tags in tag_sets:
        pairs = [f"{q.ident(k)} = {q.string(v)}" for k, v in sorted(tags.items()) if v]
        if not pairs:
            return []
        alternatives.add("(" + " AND ".join(pairs) + ")")
        if len(alternatives) > MAX_SERIES_CONDITIONS:
            return []
    return ["(" + " OR ".join(sorted(alternatives)) + ")"] if alternatives else []


def _select_into(
    kinds: Mapping[str, str],
    column: Callable[[str, str], str],
    conditions: list[str],
    start: int,
    end: int,
    target: str,
    source: str,
    every: str,
) -> str | None:
    """``SELECT <partials> INTO target FROM source … GROUP BY time(every), *``, the continuous
    query's statement, over ``[start, end)`` (µs); ``None`` when no field has a partial."""
    columns = [
        f"{column(part, field)} AS {q.ident(f'{part}_{field}')}"
        for field, kind in sorted(kinds.items())
        for part in parts_of(kind)
    ]
    if not columns:
        return None
    where = q.where_clause(conditions + q.time_conditions(start, before=end))
    return (
        f"SELECT {', '.join(columns)} INTO {target} FROM {source}{where} GROUP BY time({every}), * fill(none)"
    )


def refresh_hours(
    raw_policy: str,
    tier: str,
    name: str,
    kinds: Mapping[str, str],
    conditions: list[str],
    start: int,
    end: int,
) -> str | None:
    """Recompute the hourly units in ``[start, end)`` (µs, whole hours) of the series matching
    ``conditions`` from raw points, for the fields in ``kinds``. Units (and fields) with no
    point are not written: a delete removes them first."""
    return _select_into(
        kinds,
        lambda part, field: f"{part.upper()}({q.ident(field)})",
        conditions,
        start,
        end,
        q.source(policy(tier), measurement(name, tier, HOUR)),
        q.source(raw_policy, name),
        "1h",
    )


def refresh_days(
    tier: str, name: str, kinds: Mapping[str, str], conditions: list[str], start: int, end: int
) -> str | None:
    """Recompute the daily units in ``[start, end)`` (µs, whole UTC days) from the hourly ones."""
    combine = {"count": "SUM", "sum": "SUM", "min": "MIN", "max": "MAX"}
    return _select_into(
        kinds,
        lambda part, field: f"{combine[part]}({q.ident(f'{part}_{field}')})",
        conditions,
        start,
        end,
        q.source(policy(tier), measurement(name, tier, DAY)),
        q.source(policy(tier), measurement(name, tier, HOUR)),
        "1d",
    )


def refresh(
    raw_policy: str,
    tier: str,
    name: str,
    kinds: Mapping[str, str],
    touched: Mapping[int, list[Mapping[str, str]]],
) -> list[str]:
    """Statements recomputing the units touched by a write: ``touched`` maps each written hour
    (µs) to the tag sets written in it. A few hours are recomputed one by one (an agent's
    report, a late point); more (an import) in one pass over their whole span."""
    statements: list[str | None] = []
    hours = sorted(touched)
    if len(hours) <= 4:
        spans = [(hour, hour + HOUR, touched[hour]) for hour in hours]
    else:
        spans = [(hours[0], hours[-1] + HOUR, [tags for hour in hours for tags in touched[hour]])]
    for start, end, tag_sets in spans:
        statements.append(
            refresh_hours(raw_policy, tier, name, kinds, series_conditions(tag_sets), start, end)
        )
    days: dict[int, list] = {}
    for hour in hours:
        days.setdefault(hour - hour % DAY, []).extend(touched[hour])
    if len(days) <= 4:
        day_spans = [(day, day + DAY, tag_sets) for day, tag_sets in sorted(days.items())]
    else:
        first, last = min(days), max(days)
        day_spans = [(first, last + DAY, [tags for tag_sets in days.values() for tags in tag_sets])]
    for start, end, tag_sets in day_spans:
        statements.append(refresh_days(tier, name, kinds, series_conditions(tag_sets), start, end))
    return [s for s in statements if s]


def after_delete(
    raw_policy: str,
    tier: str,
    name: str,
    kinds: Mapping[str, str],
    conditions: list[str],
    first: int | None,
    last: int | None,
) -> list[str]:
    """Statements bringing ``name``'s rollups in ``tier`` back in line after the raw points of
    the series matching ``conditions`` in ``[first, last]`` (µs, either open) were deleted:
    delete every unit touching the range, then recompute the units at its edges from what is
    left of them."""
    statements: list[str | None] = []
    for step in (HOUR, DAY):
        start = first - first % step if first is not None else None
        end = last - last % step + step if last is not None else None
        where = q.where_clause(conditions + q.time_conditions(start, before=end))
        statements.append(f"DELETE FROM {q.ident(measurement(name, tier, step))}{where}")
        for edge in {e for e in (start, None if end is None else end - step) if e is not None}:
            if step == HOUR:
                statements.append(refresh_hours(raw_policy, tier, name, kinds, conditions, edge, edge + HOUR))
            else:
                statements.append(refresh_days(tier, name, kinds, conditions, edge, edge + DAY))
    return [s for s in statements if s]


# ------------------------------------------------------------------ reading

COMBINE = {"count": "SUM", "sum": "SUM", "min": "MIN", "max": "MAX"}


def _grouped(
    bucketing: Bucketing | None, windows: list[Window], start: int, end: int
) -> list[tuple[int, int, str | None, int | None]]:
    """``[start, end)`` cut along the raw compiler's ``windows`` (runs of buckets of one length
    and UTC offset, and DST buckets alone, in order): ``(since, before, GROUP BY time(…) or
    None, fixed key)``, so that the server sums each bucket's share and no group crosses a
    bucket edge."""
    if bucketing is None:
        return [(start, end, None, 0)]
    out = []
    first = max(bisect_right([w.since for w in windows], start) - 1, 0)
    for window in windows[first:]:
        if window.since >= end:
            break
        since, before = max(window.since, start), min(window.before, end)
        if since >= before:
            continue
        if window.key is None:
            by_time = f"time({q.duration(bucketing.step)}, {q.duration(window.offset)})"
            out.append((since, before, by_time, None))
        else:
            out.append((since, before, None, window.key))
    return out


def partial_statements(
    raw_policy: str,
    tier: str,
    name: str,
    parts: Mapping[str, tuple[str, ...]],
    tag_conditions: list[str],
    group_by: str | None,
    bucketing: Bucketing | None,
    plan: rollups.Plan,
) -> tuple[list[str], list[int | list[rollups.Interval] | None]]:
    """The statements reading the partials ``parts`` (``{field: ("count", "sum", …)}``) over a
    plan: for each raw interval and each run of rollup units, one per window of the chart's
    buckets it crosses (usually one), each bucket's share summed by the server.

    Returns them with, for each, the bucket key of all its rows (``None``: the key of each
    row's time, the start of its group; a list of intervals: the key of each row's time, rows
    outside the intervals left out)."""
    group = q.ident(group_by) if group_by else None
    raw_columns = ", ".join(
        f"{part.upper()}({q.ident(field)}) AS {q.ident(f'{part}_{field}')}"
        for field, names in parts.items()
        for part in names
    )
    unit_columns = ", ".join(
        f"{COMBINE[part]}({q.ident(f'{part}_{field}')}) AS {q.ident(f'{part}_{field}')}"
        for field, names in parts.items()
        for part in names
    )
    sources = [(raw_columns, q.source(raw_policy, name), plan.raw)]
    for step, intervals in plan.rollups.items():
        sources.append((unit_columns, q.source(policy(tier), measurement(name, tier, step)), intervals))
    bounds = [i for _c, _s, intervals in sources for i in intervals]
    windows = []
    if bucketing is not None and bounds:
        windows = plan_windows(bucketing, min(a for a, _b in bounds), max(b for _a, b in bounds) - 1)
    statements: list[str] = []
    keys: list[int | list[rollups.Interval] | None] = []
    for step, (columns, source, intervals) in zip((None, *plan.rollups), sources, strict=True):
        if step is not None and len(intervals) > 1:
            span = intervals[-1][1] - intervals[0][0]
            if 2 * sum(b - a for a, b in intervals) >= span:
                # Runs of units that cover most of their span (the hours of every bucket in a
                # zone whose midnight is not on the hour): one statement reads every unit of
                # the span, and those outside the runs are left out here.
                where = q.where_clause(
                    tag_conditions + q.time_conditions(intervals[0][0], before=intervals[-1][1])
                )
                by = f"time({rollups.STEP_NAMES[step]})" + (f", {group}" if group else "")
                statements.append(f"SELECT {columns} FROM {source}{where} GROUP BY {by} fill(none)")
                keys.append(intervals)
                continue
        for start, end in intervals:
            for since, before, by_time, key in _grouped(bucketing, windows, start, end):
                where = q.where_clause(tag_conditions + q.time_conditions(since, before=before))
                clause = ", ".join(x for x in (by_time, group) if x)
                statements.append(
                    f"SELECT {columns} FROM {source}{where}"
                    + (f" GROUP BY {clause}" if clause else "")
                    + (" fill(none)" if by_time else "")
                )
                keys.append(key)
    return statements, keys


def partial_answers(
    results: list[dict[str, Any]],
    keys: list[int | list[rollups.Interval] | None],
    kinds: Mapping[str, str],
    group_by: str | None,
    bucketing: Bucketing | None,
) -> dict[str | None, dict[str, dict[int, dict[str, Any]]]]:
    """``{group: {field: {bucket key: partials}}}`` from the answers to ``partial_statements``."""
    out: dict[str | None, dict[str, dict[int, dict[str, Any]]]] = {}
    for result, fixed in zip(results, keys, strict=True):
        inside = None
        if isinstance(fixed, list):
            inside, fixed = fixed, (None if bucketing is not None else 0)
            starts = [a for a, _b in inside]
        for series in series_of(result):
            group = None
            if group_by is not None:
                group = (series.get("tags") or {}).get(group_by) or None
                if group is None:
                    continue
            columns = []
            for column in series["columns"][1:]:
                part, _, field = column.partition("_")
                kind = "count" if part == "count" else kinds.get(field)
                columns.append((part, field, COMBINE[part], kind))
            by_field = out.setdefault(group, {})
            for values in series.get("values", []):
                moment = values[0]
                if inside is not None:
                    at = bisect_right(starts, moment) - 1
                    if at < 0 or moment >= inside[at][1]:
                        continue
                key = fixed if fixed is not None else bucketing.key(moment)
                for (part, field, how, kind), value in zip(columns, values[1:], strict=True):
                    if value is None:
                        continue
                    value = int(value) if kind in ("count", "integer") else convert(value, kind)
                    slot = by_field.setdefault(field, {}).setdefault(key, {})
                    current = slot.get(part)
                    if current is None:
                        slot[part] = value
                    elif how == "SUM":
                        slot[part] = current + value
                    elif how == "MIN":
                        slot[part] = value if value < current else current
                    else:
                        slot[part] = value if value > current else current
    return {group: by_field for group, by_field in out.items() if by_field}
