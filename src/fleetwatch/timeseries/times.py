"""Time as the storage layer counts it: instants as microseconds since the epoch, time zones,
and bucket intervals (``"10m"``, ``"1d"``).

The lowest module of the package after ``errors``: both the model (which validates a chart's
interval and zone) and the bucket rules (which compute edges from them) build on it, so
neither has to import the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetwatch.timeseries.errors import InvalidQuery

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
MICROS = 1_000_000


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    return (moment - EPOCH) // ONE_MICROSECOND


def from_micros(micros: int, tz: ZoneInfo | None = None) -> datetime:
    moment = EPOCH + timedelta(microseconds=micros)
    return moment.astimezone(tz) if tz is not None else moment


def require_aware(moment: object, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidQuery(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidQuery(f"{what} must carry a timezone (got a naive datetime {moment})")
    return moment


def get_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        # OSError: a directory of the zone database ("America"), a name too long for a file
        raise InvalidQuery(f"unknown time zone {name!r}") from exc


_INTERVAL_RE = re.compile(r"^([1-9][0-9]{0,5})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Interval:
    text: str
    seconds: int

    @property
    def micros(self) -> int:
        return self.seconds * MICROS

    @property
    def is_calendar(self) -> bool:
        """Whole days follow the local calendar; anything shorter is fixed-length."""
        return self.seconds % 86400 == 0

    @property
    def days(self) -> int:
        return self.seconds // 86400


def parse_interval(text: str) -> Interval:
    match = _INTERVAL_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise InvalidQuery(
            f"invalid bucket interval {text!r}: use a number and a unit s, m, h, d or w (e.g. '10m')"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 60 and seconds != 0:
        # Sub-minute buckets are allowed but must divide a minute, so edges stay stable.
        if 60 % seconds:
            raise InvalidQuery(f"bucket interval {text!r} must divide a minute")
    return Interval(text, seconds)
