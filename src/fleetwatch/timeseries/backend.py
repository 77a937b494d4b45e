"""The interface every time-series backend implements.

The public methods here validate, resolve time (the clock, retention bounds, buckets) and
shape results; the ``_``-prefixed methods are what a backend supplies. Everything that
decides what a user sees (gap filling, scale and rounding, cumulative sums, top-N ranking,
retention bounds) lives here once, so backends cannot drift apart.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.errors import ConfigurationError, InvalidInput, InvalidQuery
from fleetwatch.timeseries.model import (
    ChartQuery,
    Point,
    ReadQuery,
    Result,
    Row,
    TagFilter,
    check_query_name,
    normalise_tag_filters,
    require_aware,
    to_micros,
)
from fleetwatch.timeseries.times import from_micros

DEFAULT_RETENTION = {"short": 24 * 3600, "default": 3 * 365 * 24 * 3600}

_DURATION_RE = re.compile(r"(\d+)(w|d|h|m|s)")
_DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: str | int | float | timedelta) -> int:
    """Seconds of ``"24h"``, ``"26280h0m0s"``, ``"90d"``, ``"1w2d"``, a number or a timedelta."""
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = int(value)
    elif isinstance(value, str) and value and _DURATION_RE.sub("", value) == "":
        seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_RE.findall(value))
    else:
        raise ConfigurationError(f"invalid duration {value!r}: use e.g. '24h', '90d' or seconds")
    if seconds <= 0:
        raise ConfigurationError(f"duration {value!r} must be positive")
    return seconds


def flag(value: Any) -> bool:
    """An option's truth value: ``1``, ``true``, ``yes`` or ``on`` in any case; anything else
    (``0``, ``false``, ``no``, ``off``, ``""``) is false."""
    return str(value).lower() in ("1", "true", "yes", "on")


def mode_of(values: Iterable[tuple[int, Any]]) -> Any:
    """The ``mode`` aggregate of ``(time in µs, value)`` pairs, for backends that compute it from
    raw values: the most frequent value; ties go to the value seen first, then the smallest
    (what the SQL backends' query gives)."""
    counts: Counter = Counter()
    first: dict[Any, int] = {}
    for moment, value in values:
        counts[value] += 1
        if value not in first or moment < first[value]:
            first[value] = moment
    return min(counts, key=lambda v: (-counts[v], first[v], v))


@dataclass
class BackendConfig:
    """Normalised settings of one backend (see ``loading.configure``)."""

    backend: str
    name: str = ""
    host: str = ""
    port: int | None = None
    user: str = ""
    password: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    retention: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RETENTION))


class Features:
    """Capabilities. Kept few and coarse; each one is exercised by the conformance suite."""

    supports_point_delete = True
    supports_exact_count_distinct = True
    # Keeps hourly and daily rollups current on every write (see ``rollups``) and answers
    # ``_rollup_partials``; charts then read them where whole hours and days fit.
    supports_rollups = False
    # Rollups of live points are sealed by ``seal_rollups()`` on a schedule rather than kept by
    # each write (writes still refresh the units of late points); charts read raw points after
    # the sealed horizon (see ``rollups``).
    seals_rollups = False
    max_write_batch = 50_000
    # Whether several chart queries run side by side finish sooner than one after another.
    concurrent_reads_help = True


class BaseBackend:
    vendor = "base"
    display_name = "base"
    features_class = Features

    def __init__(self, config: BackendConfig, clock: Callable[[], datetime] | None = None):
        self.config = config
        self.features = self.features_class()
        self.clock = clock or (lambda: datetime.now(UTC))
        if "default" not in config.retention:
            raise ConfigurationError("retention tiers must include 'default'")
        # Charts read rollups where they can; ``rollups=false`` reads raw points only (to
        # compare, or to rule rollups out when investigating a chart).
        self.use_rollups = flag(config.options.get("rollups", True))
        # Sealing backends: tier → (horizon µs, monotonic time read); see ``_sealed_until``.
        self._horizons: dict[str, tuple[int, float]] = {}

    # ------------------------------------------------------------------ time & retention

    def now(self) -> datetime:
        return self.clock()

    def retention_seconds(self, tier: str) -> int:
        try:
            return self.config.retention[tier]
        except KeyError:
            raise InvalidInput(
                f"unknown retention tier {tier!r}; configured: {', '.join(self.config.retention)}"
            ) from None

    def retention_floor(self, tier: str) -> datetime:
        """Oldest instant still kept in a tier: anything earlier is expired."""
        return self.now() - timedelta(seconds=self.retention_seconds(tier))

    def list_retention(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "duration": seconds, "default": name == "default"}
            for name, seconds in self.config.retention.items()
        ]

    def ensure_retention(self, tiers: Mapping[str, Any] | None = None) -> None:
        """Set (or change) the retention tiers; backends with server-side policies apply them."""
        if tiers is not None:
            parsed = {check_query_name(k, "retention tier"): parse_duration(v) for k, v in tiers.items()}
            if "default" not in parsed:
                raise ConfigurationError("retention tiers must include 'default'")
            self.config.retention = parsed
        self._apply_retention()

    def enforce_retention(self) -> int:
        """Remove expired points of every tier now; returns how many were removed."""
        return sum(self._purge_before(tier, self.retention_floor(tier)) for tier in self.config.retention)

    # ------------------------------------------------------------------ sealed rollups

    # A reader uses a horizon read at most this long ago (seconds): an older one only makes it
    # read more raw points, never a unit that is not complete (horizons only grow).
    HORIZON_TTL = 30.0

    def seal_rollups(self, now: datetime | None = None) -> dict[str, datetime]:
        """Roll up the live points of every tier up to ``rollups.seal_target(now)`` (the clock's
        now by default), at most ``rollups.MAX_SEAL`` per step, recording the horizon after each
        step; returns ``{tier: horizon}`` (``{}`` on backends that keep rollups on every write).

        Run on a schedule (the worker's ``seal-rollups``); if it never runs charts stay exact and
        read more raw points. Raises ``BackendUnavailable`` like any other call; a seal cut short
        keeps the horizon of its last finished step."""
        if not (self.features.supports_rollups and self.features.seals_rollups):
            return {}
        target = rollups.seal_target(to_micros(now or self.now()))
        out = {}
        for tier in self.config.retention:
            until = self._read_horizon(tier)
            while until < target:
                step_end = min(target, until + rollups.MAX_SEAL)
                self._seal(tier, until, step_end)
                self._store_horizon(tier, step_end)
                until = self._remember_horizon(tier, step_end)
            out[tier] = from_micros(until)
        return out

    def _sealed_until(self, tier: str) -> int:
        """The tier's horizon (µs): rollup units before it are complete."""
        cached = self._horizons.get(tier)
        if cached is not None and time.monotonic() - cached[1] < self.HORIZON_TTL:
            return cached[0]
        return self._read_horizon(tier)

    def _read_horizon(self, tier: str) -> int:
        """The horizon recorded in the store (µs), the tier's first one if none is, remembered."""
        until = self._stored_horizon(tier)
        if until is None:
            until = self._first_horizon(tier)
        return self._remember_horizon(tier, until)

    def _remember_horizon(self, tier: str, until: int) -> int:
        self._horizons[tier] = (until, time.monotonic())
        return until

    def _first_horizon(self, tier: str) -> int:
        """A tier without a recorded horizon (a new store, one older than sealing, or one whose
        record expired): its rollups are built from every raw point it holds, then the horizon
        recorded where a seal now would put it. Live points written meanwhile are after it."""
        until = rollups.seal_target(to_micros(self.now()))
        self._build_rollups(tier)
        self._store_horizon(tier, until)
        return until

    def _new_horizon(self, tier: str) -> None:
        """Record the first horizon of a tier created just now: every point it will hold is
        either late (refreshed by its write) or live, after the horizon; nothing to build."""
        until = rollups.seal_target(to_micros(self.now()))
        self._store_horizon(tier, until)
        self._remember_horizon(tier, until)

    def _stored_horizon(self, tier: str) -> int | None:
        """The horizon recorded in the store (µs), or None. Sealing backends implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement _stored_horizon()")

    def _store_horizon(self, tier: str, until: int) -> None:
        """Record the tier's horizon (µs) in the store, where every process reads it."""
        raise NotImplementedError(f"{type(self).__name__} must implement _store_horizon()")

    def _seal(self, tier: str, start: int, end: int) -> None:
        """Recompute every series' rollup units of ``[start, end)`` (µs, whole hours) from raw
        points, and the days holding them."""
        raise NotImplementedError(f"{type(self).__name__} must implement _seal()")

    def _build_rollups(self, tier: str) -> None:
        """Compute every rollup unit of a tier from its raw points."""
        raise NotImplementedError(f"{type(self).__name__} must implement _build_rollups()")

    def _late_points(self, points: list[Point]) -> list[Point]:
        """The points a sealing backend's write must refresh the units of (``rollups.is_late``);
        all of them on other backends."""
        if not self.features.seals_rollups:
            return points
        now_us = to_micros(self.now())
        return [point for point in points if rollups.is_late(to_micros(point.time), now_us)]

    # ------------------------------------------------------------------ writes

    def write(self, points: Iterable[Point], retention: str = "default") -> int:
        """Store points (idempotently) in a retention tier; returns how many were kept.

        Points already older than the tier keeps are dropped, as InfluxDB does, and not counted.
        The whole call is one transaction where the backend has them.
        """
        return self.write_tiers({retention: points})

    def write_tiers(self, points_by_tier: dict[str, Iterable[Point]]) -> int:
        """Like :meth:`write` for several retention tiers at once, in one transaction where the
        backend has them (one agent report writes its metrics and its raw snapshot together)."""
        batches = {}
        for retention, points in points_by_tier.items():
            floor = self.retention_floor(retention)
            batch = []
            for point in points:
                if not isinstance(point, Point):
                    raise InvalidInput(f"write() takes Point objects, got {type(point).__name__}")
                if point.time >= floor:
                    batch.append(point)
            if batch:
                batches[retention] = batch
        if batches:
            self._write_tiers(batches)
        return sum(len(batch) for batch in batches.values())

    def _write_tiers(self, batches: dict[str, list[Point]]) -> None:
        """Backends with multi-statement transactions override this to write all tiers at once."""
        for retention, batch in batches.items():
            self._write(batch, retention)

    # ------------------------------------------------------------------ reads

    def _bounds(self, query: ReadQuery) -> tuple[datetime, datetime | None]:
        floor = self.retention_floor(query.retention)
        since = max(query.since, floor) if query.since is not None else floor
        return since, query.until

    def read(self, query: ReadQuery) -> list[Row]:
        since, until = self._bounds(query)
        if until is not None and until < since:
            return []
        return self._read(query, since, until)

    def count_distinct(self, query: ReadQuery, field: str) -> int:
        """Exact number of distinct values of ``field`` among the points ``query`` selects."""
        check_query_name(field, "field")
        since, until = self._bounds(query)
        if until is not None and until < since:
            return 0
        return self._count_distinct(query, field, since, until)

    # ------------------------------------------------------------------ charts

    def _chart_range(self, query: ChartQuery) -> tuple[datetime, datetime, datetime]:
        """(start, end, lower bound of stored data considered) for a chart query."""
        end = query.end or self.now()
        floor = self.retention_floor(query.retention)
        return query.start, end, max(query.start, floor)

    def _resolve_top_fields(self, query: ChartQuery, start, end) -> ChartQuery | None:
        if query.top_fields is None:
            return query
        names = self._rank_fields(query, start, end, query.top_fields.n)
        return query.with_fields(names) if names else None

    def chart(self, query: ChartQuery) -> Result:
        """Aggregates per bucket, every bucket of the range present (gaps filled)."""
        start, end, lower = self._chart_range(query)
        bucketing = Bucketing(query.interval, query.timezone, start, end)
        concrete = self._resolve_top_fields(query, lower, end)
        if concrete is None:
            return Result(times=bucketing.starts())
        if lower > end:
            raw = {}
        else:
            rolled = self._from_rollups(concrete, bucketing, lower, end, chart=True, summary=False)
            raw = rolled[0] if rolled else self._chart(concrete, bucketing, lower, end)
        return self._shape(concrete, bucketing, raw)

    def chart_and_summary(self, query: ChartQuery) -> tuple[Result, dict[str, Any]]:
        """``(chart(query), summary(query))``, in one pass where the backend can (pages of charts
        need both)."""
        start, end, lower = self._chart_range(query)
        concrete = self._resolve_top_fields(query, lower, end)
        if concrete is None or concrete.group_by is not None:
            return self.chart(query), self.summary(query)
        bucketing = Bucketing(query.interval, query.timezone, start, end)
        if lower > end:
            raw, raw_summary = {}, {}
        else:
            rolled = self._from_rollups(concrete, bucketing, lower, end, chart=True, summary=True)
            if rolled:
                raw, raw_summary = rolled
            else:
                raw, raw_summary = self._chart_and_summary(concrete, bucketing, lower, end)
        return self._shape(concrete, bucketing, raw), self._shape_summary(concrete, raw_summary)

    def _from_rollups(
        self, query: ChartQuery, bucketing: Bucketing | None, lower, end, *, chart: bool, summary: bool
    ) -> tuple[dict, dict] | None:
        """``(raw chart, raw summary)`` answered from rollups where whole hours and days fit
        (see ``rollups``), or ``None`` when rollups cannot help this query.

        Aggregates that do not compose (distinct counts, modes, last values) are answered from
        raw points, by ``_chart``/``_summary``, in the same call.
        """
        if not (self.features.supports_rollups and self.use_rollups):
            return None
        composable = [agg for agg in query.aggregates if rollups.composable(agg)]
        if not composable:
            return None
        horizon = self._sealed_until(query.retention) if self.features.seals_rollups else None
        plan = rollups.plan(bucketing, to_micros(lower), to_micros(end), horizon=horizon)
        if not plan.uses_rollups:
            return None
        fields = sorted({agg.field for agg in composable})
        partials, raw_only = self._rollup_partials(query, fields, bucketing, plan)
        composable = [agg for agg in composable if agg.field not in raw_only]
        out: dict[str, dict[int, Any]] = {}
        totals: dict[str, Any] = {}
        for agg in composable:
            if query.group_by is None:
                groups = {agg.alias: partials.get(None, {}).get(agg.field, {})}
            else:
                groups = {group: by_field.get(agg.field, {}) for group, by_field in partials.items()}
            for name, per_key in groups.items():
                total: dict[str, Any] = {}
                for key, parts in per_key.items():
                    total = rollups.merge(total, parts)
                    value = rollups.finish(agg.fn, parts)
                    if value is None or (agg.fills_with_zero and value == 0):
                        continue
                    out.setdefault(name, {})[key] = value
                if query.group_by is None or per_key:
                    totals[name] = rollups.finish(agg.fn, total)
        rest = [agg for agg in query.aggregates if agg not in composable]
        if rest:
            others = replace(query, aggregates=rest, top_fields=None)
            if chart and bucketing is not None:
                out.update(self._chart(others, bucketing, lower, end))
            if summary:
                totals.update(self._summary(others, lower, end))
        return out, totals

    def _shape(self, concrete: ChartQuery, bucketing: Bucketing, raw: dict) -> Result:
        keys = bucketing.keys()
        result = Result(times=bucketing.starts(), has_data=any(raw.values()))
        if concrete.group_by is None:
            for agg in concrete.aggregates:
                values = raw.get(agg.alias, {})
                empty = 0 if agg.fills_with_zero else None
                result.series[agg.alias] = [agg.finish(values.get(k, empty)) for k in keys]
        else:
            agg = concrete.aggregates[0]
            empty = 0 if agg.fills_with_zero else None
            for group in sorted(raw):
                values = raw[group]
                series = [agg.finish(values.get(k, empty)) for k in keys]
                if concrete.cumulative:
                    series = _running_total(series)
                result.series[group] = series
        return result

    @staticmethod
    def _shape_summary(concrete: ChartQuery, raw: dict) -> dict[str, Any]:
        if concrete.group_by is not None:
            agg = concrete.aggregates[0]
            return {group: agg.finish(raw[group]) for group in sorted(raw)}
        return {
            agg.alias: agg.finish(raw.get(agg.alias, 0 if agg.fills_with_zero else None))
            for agg in concrete.aggregates
        }

    def summary(self, query: ChartQuery) -> dict[str, Any]:
        """Each aggregate over the whole range (per tag value when grouped)."""
        _start, end, lower = self._chart_range(query)
        concrete = self._resolve_top_fields(query, lower, end)
        if concrete is None:
            return {}
        if lower > end:
            raw = {}
        else:
            rolled = self._from_rollups(concrete, None, lower, end, chart=False, summary=True)
            raw = rolled[1] if rolled else self._summary(concrete, lower, end)
        return self._shape_summary(concrete, raw)

    def top_fields(self, query: ChartQuery) -> list[str]:
        """Names of the ``query.top_fields.n`` numeric fields with the largest sums."""
        if query.top_fields is None:
            raise InvalidQuery("the query does not ask for top fields")
        _start, end, lower = self._chart_range(query)
        return self._rank_fields(query, lower, end, query.top_fields.n)

    # ------------------------------------------------------------------ deletes

    def delete(
        self,
        measurement: str | None = None,
        tags: Mapping[str, TagFilter] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        time: datetime | None = None,
        retention: str | None = None,
    ) -> None:
        """Delete a series (measurement and/or tags), a time range of it, or one point (time).

        Tags match series carrying at least those tags. At least one criterion is required;
        ``flush()`` empties everything.
        """
        if measurement is not None:
            check_query_name(measurement, "measurement")
        tag_filters = normalise_tag_filters(tags)
        for moment, what in ((start, "start"), (end, "end"), (time, "time")):
            if moment is not None:
                require_aware(moment, what)
        if time is not None and (start is not None or end is not None):
            raise InvalidQuery("delete one point (time) or a range (start/end), not both")
        if time is not None:
            start = end = time
        if retention is not None:
            self.retention_seconds(retention)
        if measurement is None and not tag_filters and start is None and end is None:
            raise InvalidQuery("delete needs a measurement, tags or a time range (use flush())")
        self._delete(measurement, tag_filters, start, end, retention)

    # ------------------------------------------------------------------ to implement

    def _write(self, points: list[Point], retention: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _write()")

    def _read(self, query: ReadQuery, since: datetime, until: datetime | None) -> list[Row]:
        raise NotImplementedError(f"{type(self).__name__} must implement _read()")

    def _count_distinct(self, query, field, since, until) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement _count_distinct()")

    def _chart(self, query: ChartQuery, bucketing: Bucketing, lower, end) -> dict[str, dict[int, Any]]:
        """``{series name: {bucket key: raw aggregate}}`` for buckets that have data; the series
        name is the aggregate alias, or the tag value when grouped."""
        raise NotImplementedError(f"{type(self).__name__} must implement _chart()")

    def _summary(self, query: ChartQuery, lower, end) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement _summary()")

    def _chart_and_summary(self, query: ChartQuery, bucketing: Bucketing, lower, end) -> tuple[dict, dict]:
        """Raw chart and raw summary; backends that can share one scan override this."""
        return self._chart(query, bucketing, lower, end), self._summary(query, lower, end)

    def _rollup_partials(
        self, query: ChartQuery, fields: list[str], bucketing: Bucketing | None, plan: rollups.Plan
    ) -> tuple[dict[str | None, dict[str, dict[int, dict[str, Any]]]], set[str]]:
        """``(partials, raw only)``: partials ``{group: {field: {bucket key: {"count", "sum",
        "min", "max"}}}}`` of ``fields`` over the plan's raw intervals and rollup units together
        (group is ``None`` unless the query groups by a tag; key 0 when ``bucketing`` is
        ``None``), values in the type the raw aggregate would have (``sum`` of integers is an
        integer); and the fields whose aggregates the backend answers from raw points instead
        (booleans, whose sums backends type differently). Backends with ``supports_rollups``
        implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement _rollup_partials()")

    def _rank_fields(self, query: ChartQuery, lower, end, n: int) -> list[str]:
        raise NotImplementedError(f"{type(self).__name__} must implement _rank_fields()")

    def _delete(self, measurement, tags, start, end, retention) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _delete()")

    def _purge_before(self, tier: str, floor: datetime) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement _purge_before()")

    def _apply_retention(self) -> None:
        """Push retention tiers to the server (policies, buckets); nothing by default."""

    def flush(self) -> None:
        """Delete every point and series (tests and resets)."""
        raise NotImplementedError(f"{type(self).__name__} must implement flush()")

    def count_points(self, retention: str | None = None) -> dict[str, int]:
        """Points physically stored per measurement, expired or not (operations and copies)."""
        raise NotImplementedError(f"{type(self).__name__} must implement count_points()")

    def health(self) -> dict[str, Any]:
        """``{"backend", "reachable", "version", "error"}`` without raising."""
        raise NotImplementedError(f"{type(self).__name__} must implement health()")

    def close(self) -> None:
        """Release connections."""


def _running_total(values: list[Any]) -> list[Any]:
    total = None
    out = []
    for value in values:
        if value is not None:
            total = value if total is None else total + value
        out.append(total)
    return out
