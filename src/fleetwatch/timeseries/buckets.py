"""Time ranges → bucket intervals, and bucket edges that are right in any time zone.

Two kinds of buckets:

* **Fixed** intervals shorter than a day (``10m``, ``20m``, ``1h``, ``3h`` …) are equal lengths
  of absolute time, aligned to the epoch shifted by the zone's UTC offset at the start of the
  range. Across a DST change they keep their length, so the repeated hour of an autumn night
  is two buckets (both labelled ``02:00`` in Europe/Rome), never one merged bucket.
* **Calendar** intervals (whole days: ``1d``, ``24h``, ``7d``) start at local midnight and
  span whole local days, so a day bucket lasts 23 or 25 hours across a DST change. N-day
  buckets are aligned to local day 0 (1970-01-01), like InfluxDB's ``GROUP BY time(7d)``.

In both cases a bucket is found by ``(t + offset(t)) // step`` in microseconds, where
``offset`` is constant for fixed buckets and piecewise constant (changing at the zone's
transitions inside the range) for calendar buckets. Backends compile that into plain
integer arithmetic, and ``Bucketing.starts()`` lists every bucket of the range for gap filling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from fleetwatch.timeseries.errors import InvalidQuery
from fleetwatch.timeseries.times import (
    EPOCH,
    MICROS,
    from_micros,
    get_zone,
    parse_interval,
    require_aware,
    to_micros,
)

DAY_MICROS = 86_400 * MICROS

# The chart time ranges users pick, and the bucket interval each one uses.
PREDEFINED_RANGES: dict[str, str] = {
    "1d": "10m",
    "3d": "20m",
    "7d": "1h",
    "30d": "24h",
    "365d": "7d",
}
DEFAULT_RANGE = "7d"
MAX_CUSTOM_DAYS = 365
EARLIEST_YEAR = 1900


def _round_half_up(value: float) -> int:
    return int(value + 0.5)


def interval_for_days(days: int) -> str:
    """Bucket interval of a custom range of ``days`` whole days.

    1–2 days: 10m; 3–6: 20m, 25m, 35m, 40m; 7–29: about a seventh of the days in hours (the
    peer's 28–29-day gap, which fell back to 10-minute buckets, is closed here); 30–210: 1d;
    211–365: 7d. Predefined ranges keep their own interval.
    """
    if days < 0 or days > MAX_CUSTOM_DAYS:
        raise InvalidQuery(f"a chart range must be from 0 to {MAX_CUSTOM_DAYS} days, not {days}")
    days = max(days, 1)
    predefined = PREDEFINED_RANGES.get(f"{days}d")
    if predefined:
        return predefined
    if days <= 2:
        return "10m"
    if days <= 6:
        return f"{5 * _round_half_up(days / 3 * 20 / 5)}m"
    if days < 30:
        return f"{_round_half_up(days / 7)}h"
    if days <= 210:
        return "1d"
    return "7d"


def interval_for_range(time_range: str) -> str:
    """Interval of a range given as ``"<N>d"`` (predefined or custom)."""
    if time_range in PREDEFINED_RANGES:
        return PREDEFINED_RANGES[time_range]
    match = re.match(r"^([0-9]{1,3})d$", time_range or "")
    if not match:
        raise InvalidQuery(
            f"time range not supported: {time_range!r}; use one of "
            f"{', '.join(PREDEFINED_RANGES)} or a custom start and end"
        )
    return interval_for_days(int(match.group(1)))


def range_start(time_range: str, now: datetime, timezone: str) -> datetime:
    """Start of a predefined range ending now.

    Ranges of more than 3 days start at local midnight, so day and week buckets are whole;
    ``7d`` covers today and the 6 days before it.
    """
    if time_range not in PREDEFINED_RANGES:
        raise InvalidQuery(
            f"time range not supported: {time_range!r}; use one of {', '.join(PREDEFINED_RANGES)}"
        )
    require_aware(now, "now")
    zone = get_zone(timezone)
    days = int(time_range[:-1])
    if days <= 3:
        return (now - timedelta(days=days)).astimezone(zone)
    if time_range == "7d":
        days -= 1
    local_date = now.astimezone(zone).date() - timedelta(days=days)
    return local_midnight(local_date, zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local calendar day (also where midnight falls into a DST gap)."""
    naive = datetime(day.year, day.month, day.day)
    moment = naive.replace(tzinfo=zone, fold=0)
    # In a gap, fold=0 maps to the instant the clocks jumped; round-tripping gives its local time.
    return moment.astimezone(EPOCH.tzinfo).astimezone(zone)


def parse_local(value: str | datetime, zone: ZoneInfo, what: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    try:
        naive = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except (ValueError, AttributeError):
        try:
            naive = datetime.strptime(value.strip(), "%Y-%m-%d")
        except (ValueError, AttributeError):
            raise InvalidQuery(f"{what} must look like 'YYYY-MM-DD HH:MM:SS', got {value!r}") from None
    return naive.replace(tzinfo=zone)


@dataclass(frozen=True)
class CustomRange:
    start: datetime
    end: datetime
    days: int
    interval: str


def custom_range(start: str | datetime, end: str | datetime, timezone: str, now: datetime) -> CustomRange:
    """Validate a user-chosen range (local times of ``timezone``) and pick its interval."""
    zone = get_zone(timezone)
    start_at = parse_local(start, zone, "start")
    end_at = parse_local(end, zone, "end")
    if start_at.year < EARLIEST_YEAR:
        # Bucket arithmetic near datetime.min overflows (year 1 in a zone east of UTC).
        raise InvalidQuery(f"start must not be before {EARLIEST_YEAR}-01-01")
    if start_at > end_at:
        raise InvalidQuery("start must not be after end")
    if start_at > now or end_at > now:
        raise InvalidQuery("start and end must not be in the future")
    days = (end_at - start_at).days
    if days > MAX_CUSTOM_DAYS:
        raise InvalidQuery(f"a custom range must not exceed {MAX_CUSTOM_DAYS} days")
    return CustomRange(start_at, end_at, days, interval_for_days(days))


# --------------------------------------------------------------------------- bucket edges


def zone_transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[int, int]]:
    """UTC-offset segments covering [start, end]: ``[(from_micros, offset_micros), ...]``.

    The first segment starts at ``start``; each later one at a transition of the zone.
    Transitions are found by sampling every 12 hours and bisecting to the second.
    """

    def offset(moment: datetime) -> int:
        return int(moment.astimezone(zone).utcoffset().total_seconds()) * MICROS

    segments = [(to_micros(start), offset(start))]
    step = timedelta(hours=12)
    left = start
    while left < end:
        right = min(left + step, end)
        if offset(right) != offset(left):
            lo, hi = left, right  # offset(lo) != offset(hi): bisect to one second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if offset(mid) == offset(lo):
                    lo = mid
                else:
                    hi = mid
            hi = hi.replace(microsecond=0) if hi.microsecond else hi
            segments.append((to_micros(hi), offset(hi)))
        left = right
    return segments


class Bucketing:
    """The buckets of one chart: ``key(t) = (t + offset(t)) // step`` with edges as described
    in the module docstring, from the bucket holding ``start`` to the one holding ``end``."""

    def __init__(self, interval: str, timezone: str, start: datetime, end: datetime):
        self.interval = parse_interval(interval)
        self.zone = get_zone(timezone)
        self.start = require_aware(start, "start")
        self.end = require_aware(end, "end")
        if self.end < self.start:
            raise InvalidQuery("end is before start")
        self.step = self.interval.micros

    @cached_property
    def offsets(self) -> list[tuple[int, int]]:
        """Offset segments ``(from_micros, offset_micros)`` used to compute keys."""
        if not self.interval.is_calendar:
            base = int(self.start.astimezone(self.zone).utcoffset().total_seconds()) * MICROS
            return [(to_micros(self.start), base)]
        # A calendar bucket may begin before `start`, so cover a step earlier too.
        early = self.start - timedelta(days=self.interval.days)
        return zone_transitions(self.zone, early, self.end + timedelta(days=1))

    def offset_at(self, micros: int) -> int:
        result = self.offsets[0][1]
        for since, offset in self.offsets:
            if micros >= since:
                result = offset
            else:
                break
        return result

    def key(self, micros: int) -> int:
        return (micros + self.offset_at(micros)) // self.step

    def key_start(self, key: int) -> datetime:
        """Start instant of bucket ``key``, as an aware datetime in the chart's zone."""
        local_micros = key * self.step
        if self.interval.is_calendar:
            day = date(1970, 1, 1) + timedelta(days=local_micros // DAY_MICROS)
            return local_midnight(day, self.zone)
        return from_micros(local_micros - self.offsets[0][1], self.zone)

    @cached_property
    def first_key(self) -> int:
        return self.key(to_micros(self.start))

    @cached_property
    def last_key(self) -> int:
        return self.key(to_micros(self.end))

    def keys(self) -> range:
        return range(self.first_key, self.last_key + 1)

    def starts(self) -> list[datetime]:
        """Every bucket start from the one holding ``start`` to the one holding ``end``."""
        return [self.key_start(key) for key in self.keys()]

    def offset_segments(self) -> list[tuple[int | None, int]]:
        """Offsets for compilers: ``[(until_micros or None, offset_micros), ...]`` in order,
        each applying to instants before ``until`` (the last one to everything after)."""
        segs = self.offsets
        return [
            (segs[i + 1][0] if i + 1 < len(segs) else None, offset) for i, (_since, offset) in enumerate(segs)
        ]
