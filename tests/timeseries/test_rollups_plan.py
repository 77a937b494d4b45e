"""Which parts of a chart's range are read from daily and hourly rollups, and which raw."""

from datetime import UTC, datetime

from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.rollups import DAY, HOUR, LIVE, is_late, plan, seal_target
from fleetwatch.timeseries.times import to_micros


def us(*args) -> int:
    return to_micros(datetime(*args, tzinfo=UTC))


def chart_plan(interval, zone, start, end):
    return plan(Bucketing(interval, zone, start, end), to_micros(start), to_micros(end))


def test_utc_days_read_days_and_the_minutes_of_the_last_partial_one():
    result = chart_plan(
        "1d", "UTC", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 4, 13, 37, tzinfo=UTC)
    )
    assert result.rollups == {
        DAY: [(us(2026, 10, 1), us(2026, 10, 4))],
        HOUR: [(us(2026, 10, 4), us(2026, 10, 4, 13))],
    }
    assert result.raw == [(us(2026, 10, 4, 13), us(2026, 10, 4, 13, 37) + 1)]


def test_local_days_in_rome_are_whole_hours_23_or_25_of_them():
    # 2026-10-25 lasts 25 hours in Rome: 22:00 UTC on the 24th to 23:00 UTC on the 25th.
    result = chart_plan(
        "1d",
        "Europe/Rome",
        datetime(2026, 10, 24, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC),
    )
    # No whole UTC day fits in a local day of Rome: 24 (or 25) hourly units.
    assert result.rollups == {HOUR: [(us(2026, 10, 24, 22), us(2026, 10, 25, 22))]}
    assert result.raw == [(us(2026, 10, 25, 22), us(2026, 10, 25, 22, 59, 59) + 1)]


def test_a_half_hour_zone_reads_two_raw_half_hours_per_day():
    result = chart_plan(
        "1d",
        "Asia/Kolkata",
        datetime(2026, 10, 1, 18, 30, tzinfo=UTC),
        datetime(2026, 10, 3, 18, 29, tzinfo=UTC),
    )
    assert result.raw == [
        (us(2026, 10, 1, 18, 30), us(2026, 10, 1, 19)),
        (us(2026, 10, 2, 18), us(2026, 10, 2, 19)),
        (us(2026, 10, 3, 18), us(2026, 10, 3, 18, 29) + 1),
    ]
    assert result.rollups == {
        HOUR: [(us(2026, 10, 1, 19), us(2026, 10, 2, 18)), (us(2026, 10, 2, 19), us(2026, 10, 3, 18))]
    }


def test_buckets_shorter_than_an_hour_read_raw_points_only():
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
    result = chart_plan("10m", "UTC", start, end)
    assert (result.raw, result.rollups, result.uses_rollups) == (
        [(us(2026, 10, 1), us(2026, 10, 2) + 1)],
        {},
        False,
    )


def test_a_summary_is_one_bucket():
    result = plan(None, us(2026, 10, 1, 7, 30), us(2026, 10, 5, 2, 15))
    assert result.raw == [
        (us(2026, 10, 1, 7, 30), us(2026, 10, 1, 8)),
        (us(2026, 10, 5, 2), us(2026, 10, 5, 2, 15) + 1),
    ]
    assert result.rollups == {
        HOUR: [(us(2026, 10, 1, 8), us(2026, 10, 2)), (us(2026, 10, 5), us(2026, 10, 5, 2))],
        DAY: [(us(2026, 10, 2), us(2026, 10, 5))],
    }


def test_a_horizon_leaves_the_time_after_it_to_raw_points():
    # Sealed up to 2026-10-03 05:00: that day's hours before it from the hourly rollup, the rest
    # raw, even the whole hours and the whole day after it.
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 4, 13, 37, tzinfo=UTC)
    result = plan(
        Bucketing("1d", "UTC", start, end), us(2026, 10, 1), to_micros(end), horizon=us(2026, 10, 3, 5)
    )
    assert result.rollups == {
        DAY: [(us(2026, 10, 1), us(2026, 10, 3))],
        HOUR: [(us(2026, 10, 3), us(2026, 10, 3, 5))],
    }
    assert result.raw == [(us(2026, 10, 3, 5), to_micros(end) + 1)]
    # A horizon on a bucket edge, before the range, after it.
    on_edge = plan(
        Bucketing("1d", "UTC", start, end), us(2026, 10, 1), to_micros(end), horizon=us(2026, 10, 2)
    )
    assert on_edge.rollups == {DAY: [(us(2026, 10, 1), us(2026, 10, 2))]}
    assert on_edge.raw == [(us(2026, 10, 2), to_micros(end) + 1)]
    before = plan(Bucketing("1d", "UTC", start, end), us(2026, 10, 1), to_micros(end), horizon=us(2026, 9, 1))
    assert not before.uses_rollups
    assert before.raw == [(us(2026, 10, 1), to_micros(end) + 1)]
    after = plan(Bucketing("1d", "UTC", start, end), us(2026, 10, 1), to_micros(end), horizon=us(2027, 1, 1))
    assert after == plan(Bucketing("1d", "UTC", start, end), us(2026, 10, 1), to_micros(end))


def test_a_seal_never_covers_the_unit_of_a_live_point():
    # The exactness argument of sealing (rollups' docstring): at any moment, the last unit a
    # seal may cover ends at or before the oldest instant a live point may have.
    for seconds in range(0, 2 * 86400, 397):
        now = us(2026, 11, 1) + seconds * 1_000_000
        target = seal_target(now)
        assert target % HOUR == 0
        assert target <= now - LIVE
        assert not is_late(now - LIVE, now)
        assert is_late(now - LIVE - 1, now)
