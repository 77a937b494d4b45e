"""Small builders shared by the conformance tests."""

from datetime import UTC, datetime

from fleetwatch.timeseries import Point


def at(
    hour: int, minute: int = 0, second: int = 0, *, day: int = 20, month: int = 10, micro: int = 0
) -> datetime:
    """An instant of 2026 in UTC (defaults to 2026-10-20)."""
    return datetime(2026, month, day, hour, minute, second, micro, tzinfo=UTC)


def point(measurement: str, when: datetime, tags: dict | None = None, **fields) -> Point:
    return Point(measurement, fields, when, tags or {})
