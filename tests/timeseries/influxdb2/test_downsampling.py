"""Which rollup units an InfluxDB 2.x chart reads (``downsampling.unit_sources``): few range
reads, the same units as the plan."""

from datetime import UTC, datetime

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backends.influxdb2 import downsampling
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.rollups import DAY, HOUR
from fleetwatch.timeseries.times import to_micros


def sources(start, end, interval, zone):
    bucketing = Bucketing(interval, zone, start, end)
    plan = rollups.plan(bucketing, to_micros(start), to_micros(end))
    return plan, *downsampling.unit_sources(plan, bucketing)


def test_a_chart_in_utc_reads_the_plan_days_and_hours():
    plan, chosen, windows = sources(
        datetime(2025, 11, 1, 7, 30, tzinfo=UTC), datetime(2026, 10, 31, 18, 29, tzinfo=UTC), "1d", "UTC"
    )
    assert chosen == plan.rollups
    assert (len(chosen[DAY]), len(chosen[HOUR]), windows) == (1, 2, None)


def test_days_starting_at_22_utc_read_hours_in_one_interval():
    start, end = datetime(2025, 11, 2, 23, 0, tzinfo=UTC), datetime(2026, 10, 31, 18, 29, tzinfo=UTC)
    plan, chosen, windows = sources(start, end, "7d", "Europe/Rome")
    assert len(plan.rollups[DAY]) > 50
    assert chosen == {HOUR: [(to_micros(start), to_micros(datetime(2026, 10, 31, 18, 0, tzinfo=UTC)))]}
    assert windows is None


def test_edges_off_the_hour_read_hours_in_one_interval_with_shorter_windows():
    start, end = datetime(2025, 11, 2, 18, 30, tzinfo=UTC), datetime(2026, 10, 31, 18, 29, tzinfo=UTC)
    _plan, chosen, windows = sources(start, end, "7d", "Asia/Kolkata")
    span = (
        to_micros(datetime(2025, 11, 2, 19, 0, tzinfo=UTC)),
        to_micros(datetime(2026, 10, 31, 18, 0, tzinfo=UTC)),
    )
    assert chosen == {HOUR: [span]}
    # Weeks start on Thursdays at 00:00 in Kolkata (Wednesdays 18:30 UTC): windows start at the
    # next whole hour, Wednesdays 19:00 UTC (6 days 19 hours after the epoch's Thursday), and
    # stop before the hour of the next edge.
    assert windows == "every: 604800s, period: 601200s, offset: 586800s"


def test_edges_off_the_hour_across_a_change_of_offset_read_each_bucket_apart():
    start, end = datetime(2026, 3, 21, 13, 30, tzinfo=UTC), datetime(2026, 4, 15, 14, 29, tzinfo=UTC)
    plan, chosen, windows = sources(start, end, "1d", "Australia/Adelaide")
    assert windows is None
    assert list(chosen) == [HOUR]
    assert len(chosen[HOUR]) == 25
    covered = sorted(i for intervals in plan.rollups.values() for i in intervals)
    assert sum(b - a for a, b in covered) == sum(b - a for a, b in chosen[HOUR])
