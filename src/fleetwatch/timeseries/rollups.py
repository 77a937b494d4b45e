"""Rollups: hourly and daily partial aggregates that answer long-range charts exactly.

A rollup row holds, for one series, one field and one whole UTC hour (or day), the partials
``count, sum, min, max`` of the values stored in it. Those four compose: the ``count``/``sum``/
``min``/``max``/``mean`` of any union of whole hours is computed from the hours' partials alone.
Distinct counts, modes and last values do not compose; they are always answered from raw points
(never approximated).

A chart is answered from three sources at once (see :func:`plan`): for every chart bucket, the
whole UTC days inside it come from the daily rollup, the whole hours left at its edges from the
hourly rollup, and the fragments left (a range that starts or ends mid-hour, a zone whose
midnight is not on the hour such as Asia/Kolkata) from raw points. Each rollup unit lies inside
one bucket, so it is bucketed by its start instant, DST days (23 or 25 hours) included. The
partials of the three sources are then merged per bucket, which gives the same answer as raw
points (floating-point sums to the last few bits: addition is done in another order).

Backends keep rollups current on every write, delete and retention purge, so late, repeated and
corrected points change them like any other point (see ``docs/backends.md``, "Rollups").

Backends whose rollup upkeep is a server-side aggregation and write-back (InfluxDB: a
``SELECT … INTO``, a Flux ``to()``) cost an agent's report tens to hundreds of milliseconds if
they kept every live write's units current. They *seal* rollups instead, as a continuous query
would, but exactly: a write refreshes only the units of its *late* points (older than
``LIVE``); live points are rolled up by ``BaseBackend.seal_rollups()``, run on a schedule, up to
``SEAL_LAG`` behind the clock, which then records how far rollups are complete, the
*horizon*. Charts read rollups only before the horizon, raw points after it (see :func:`plan`).
Why that is exact: a live point is at or after ``now − LIVE`` when written, and a seal never
moves the horizon past ``now − SEAL_LAG``, so a seal that ran before a live point landed never
covered that point's unit; and every point older than that was refreshed by its own write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.model import Aggregate
from fleetwatch.timeseries.times import MICROS, to_micros

HOUR = 3600 * MICROS
DAY = 86400 * MICROS
# Rollup units, coarsest first; each is a whole number of the next one.
STEPS = (DAY, HOUR)
STEP_NAMES = {DAY: "1d", HOUR: "1h"}

# Aggregates answered from partials, and the partials each one needs.
PARTS_OF = {
    "mean": ("sum", "count"),
    "sum": ("sum",),
    "count": ("count",),
    "min": ("min",),
    "max": ("max",),
}
PARTS = ("count", "sum", "min", "max")

Interval = tuple[int, int]  # [from, to) in µs since the epoch

# Sealing backends (see the module docstring): a point older than LIVE when written is late and
# refreshes its units itself; seals stop SEAL_LAG behind the clock, leaving LIVE of margin for
# a slow write and clocks that differ between processes; one seal covers at most MAX_SEAL.
LIVE = HOUR
SEAL_LAG = 2 * HOUR
MAX_SEAL = 7 * DAY


def is_late(micros: int, now_us: int) -> bool:
    """Whether a point at ``micros`` written at ``now_us`` (both µs) must refresh its own units
    on a sealing backend."""
    return micros < now_us - LIVE


def seal_target(now_us: int) -> int:
    """The furthest horizon (µs, a whole UTC hour) a seal at ``now_us`` may record."""
    limit = now_us - SEAL_LAG
    return limit - limit % HOUR


@dataclass
class Plan:
    """Where each part of a chart's range is read from: ``raw`` and ``rollups[step]`` are lists
    of disjoint ``[from, to)`` µs intervals, in order, together covering ``[lower, end]``."""

    raw: list[Interval] = field(default_factory=list)
    rollups: dict[int, list[Interval]] = field(default_factory=dict)

    @property
    def uses_rollups(self) -> bool:
        return any(self.rollups.values())


def composable(agg: Aggregate) -> bool:
    """Whether an aggregate can be answered from rollup partials."""
    return agg.fn in PARTS_OF


def _add(intervals: list[Interval], start: int, end: int) -> None:
    if start >= end:
        return
    if intervals and intervals[-1][1] == start:
        intervals[-1] = (intervals[-1][0], end)
    else:
        intervals.append((start, end))


def _cover(plan: Plan, start: int, end: int, steps: tuple[int, ...]) -> None:
    """Cover ``[start, end)`` with whole units of ``steps`` (coarsest first), raw elsewhere."""
    if not steps:
        _add(plan.raw, start, end)
        return
    step, finer = steps[0], steps[1:]
    first = -(-start // step) * step  # ceiling, also for instants before 1970
    last = end // step * step
    if first >= last:
        _cover(plan, start, end, finer)
        return
    _cover(plan, start, first, finer)
    _add(plan.rollups.setdefault(step, []), first, last)
    _cover(plan, last, end, finer)


def bucket_edges(bucketing: Bucketing | None, lower_us: int, end_us: int) -> list[int]:
    """Instants where a chart bucket ends inside ``(lower, end]``, in order (none for a summary)."""
    if bucketing is None:
        return []
    keys = range(bucketing.first_key + 1, bucketing.last_key + 1)
    if bucketing.interval.is_calendar:
        moments = [to_micros(bucketing.key_start(key)) for key in keys]
    else:  # fixed buckets: one offset for the whole range
        offset = bucketing.offsets[0][1]
        moments = [key * bucketing.step - offset for key in keys]
    return [moment for moment in moments if lower_us < moment <= end_us]


def plan(
    bucketing: Bucketing | None,
    lower_us: int,
    end_us: int,
    steps: tuple[int, ...] = STEPS,
    horizon: int | None = None,
) -> Plan:
    """Split the chart range ``[lower_us, end_us]`` (both inclusive, as charts are) into raw
    fragments and whole rollup units, none of which crosses a bucket edge.

    ``bucketing`` ``None`` means one bucket (a summary). Charts whose buckets are shorter than
    the finest step get an all-raw plan. ``horizon`` (µs, a sealing backend's; ``None``: no
    limit): no rollup unit ends after it, the time from it on is read raw.
    """
    result = Plan()
    if bucketing is not None and not bucketing.interval.is_calendar and bucketing.step < min(steps):
        _add(result.raw, lower_us, end_us + 1)
        return result
    start = lower_us
    for edge in [*bucket_edges(bucketing, lower_us, end_us), end_us + 1]:
        if horizon is None or edge <= horizon:
            _cover(result, start, edge, steps)
        elif start < horizon:
            _cover(result, start, horizon, steps)
            _add(result.raw, horizon, edge)
        else:
            _add(result.raw, start, edge)
        start = edge
    return result


def merge(parts: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Combine two partials ``{"count", "sum", "min", "max"}`` (missing or None = no values)."""
    out = dict(parts)
    for name, value in more.items():
        if value is None:
            continue
        current = out.get(name)
        if current is None:
            out[name] = value
        elif name in ("count", "sum"):
            out[name] = current + value
        elif name == "min":
            out[name] = min(current, value)
        else:
            out[name] = max(current, value)
    return out


def finish(fn: str, parts: dict[str, Any]) -> Any:
    """An aggregate's raw value (before scale and rounding) from its merged partials; ``None``
    when no value was seen (0 for ``count``, which ``BaseBackend`` then leaves out as empty)."""
    if fn == "count":
        return parts.get("count") or 0
    if fn == "mean":
        count = parts.get("count") or 0
        return parts["sum"] / count if count and parts.get("sum") is not None else None
    return parts.get(fn)
