"""Time ranges → bucket intervals and bucket edges (pure functions, no backend)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleetwatch.timeseries import Bucketing, InvalidQuery, custom_range, interval_for_range
from fleetwatch.timeseries.buckets import interval_for_days, parse_interval, range_start

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time_range", "interval"),
    [("1d", "10m"), ("3d", "20m"), ("7d", "1h"), ("30d", "24h"), ("365d", "7d")],
)
def test_predefined_ranges_map_to_their_interval(time_range, interval):
    assert interval_for_range(time_range) == interval


@pytest.mark.parametrize(
    ("days", "interval"),
    [
        (0, "10m"),
        (1, "10m"),
        (2, "10m"),
        (3, "20m"),
        (4, "25m"),
        (5, "35m"),
        (6, "40m"),
        (7, "1h"),
        (8, "1h"),
        (10, "1h"),
        (11, "2h"),
        (17, "2h"),
        (18, "3h"),
        (24, "3h"),
        (25, "4h"),
        (27, "4h"),
        # The peer fell through to 10-minute buckets for 28 and 29 days; we continue the rule.
        (28, "4h"),
        (29, "4h"),
        (30, "24h"),
        (31, "1d"),
        (210, "1d"),
        (211, "7d"),
        (364, "7d"),
        (365, "7d"),
    ],
)
def test_custom_ranges_follow_the_reference_rules(days, interval):
    assert interval_for_days(days) == interval


def test_ranges_over_a_year_or_unknown_are_rejected():
    with pytest.raises(InvalidQuery, match="0 to 365 days"):
        interval_for_days(366)
    with pytest.raises(InvalidQuery, match="time range not supported"):
        interval_for_range("2w")


@pytest.mark.parametrize("text", ["", "10", "m", "0m", "1.5h", "7 d", "10x", "7s"])
def test_invalid_intervals_are_rejected(text):
    with pytest.raises(InvalidQuery):
        parse_interval(text)


def test_short_ranges_start_exactly_n_days_ago():
    assert range_start("1d", NOW, "UTC") == datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
    assert range_start("3d", NOW, "Europe/Rome") == datetime(2026, 10, 29, 0, 0, tzinfo=UTC)


def test_week_range_starts_at_local_midnight_six_days_ago():
    # 2026-11-01 00:00 UTC is 01:00 in Rome (CET): today is the 1st, so the range starts on
    # 2026-10-26 00:00 CET = 2026-10-25 23:00 UTC.
    assert range_start("7d", NOW, "Europe/Rome") == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)


def test_month_range_starts_at_local_midnight_thirty_days_ago():
    # 2026-10-02 00:00 CEST = 2026-10-01 22:00 UTC
    assert range_start("30d", NOW, "Europe/Rome") == datetime(2026, 10, 1, 22, 0, tzinfo=UTC)


def test_hour_buckets_on_the_autumn_dst_day_in_rome_are_25():
    start = datetime(2026, 10, 25, 0, 0, tzinfo=ROME)  # 2026-10-24 22:00 UTC
    end = datetime(2026, 10, 25, 23, 59, tzinfo=ROME)
    starts = Bucketing("1h", "Europe/Rome", start, end).starts()
    assert len(starts) == 25
    labels = [s.strftime("%H:%M") for s in starts]
    assert labels[:5] == ["00:00", "01:00", "02:00", "02:00", "03:00"]
    assert labels[-1] == "23:00"
    # The two 02:00 buckets are distinct hours of absolute time.
    assert starts[2].astimezone(UTC) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert starts[3].astimezone(UTC) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)


def test_hour_buckets_on_the_spring_dst_day_in_rome_are_23():
    start = datetime(2026, 3, 29, 0, 0, tzinfo=ROME)
    end = datetime(2026, 3, 29, 23, 59, tzinfo=ROME)
    starts = Bucketing("1h", "Europe/Rome", start, end).starts()
    assert len(starts) == 23
    assert [s.strftime("%H") for s in starts[:4]] == ["00", "01", "03", "04"]


def test_day_buckets_follow_local_midnight_across_dst():
    start = datetime(2026, 10, 24, 0, 0, tzinfo=ROME)
    end = datetime(2026, 10, 26, 12, 0, tzinfo=ROME)
    starts = [s.astimezone(UTC) for s in Bucketing("1d", "Europe/Rome", start, end).starts()]
    assert starts == [
        datetime(2026, 10, 23, 22, 0, tzinfo=UTC),  # 24th, CEST: 24 hours
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # 25th: 25 hours
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC),  # 26th, CET
    ]
    assert Bucketing("24h", "Europe/Rome", start, end).starts()[1].astimezone(UTC) == starts[1]


def test_bucket_key_puts_the_repeated_hour_in_the_25_hour_day():
    start = datetime(2026, 10, 24, 0, 0, tzinfo=ROME)
    end = datetime(2026, 10, 26, 12, 0, tzinfo=ROME)
    b = Bucketing("1d", "Europe/Rome", start, end)
    from fleetwatch.timeseries.model import to_micros

    last_minute = datetime(2026, 10, 25, 22, 59, tzinfo=UTC)  # 23:59 CET on the 25th
    first_of_26 = datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert b.key(to_micros(last_minute)) == b.first_key + 1
    assert b.key(to_micros(first_of_26)) == b.first_key + 2


def test_week_buckets_start_on_thursdays_like_influxdb():
    start = datetime(2026, 10, 25, 0, 0, tzinfo=ROME)  # a Sunday
    starts = Bucketing("7d", "Europe/Rome", start, start + timedelta(days=8)).starts()
    assert starts[0].date() == date(2026, 10, 22)
    assert starts[0].strftime("%A %H:%M") == "Thursday 00:00"
    assert starts[1].date() == date(2026, 10, 29)


def test_sub_hour_offsets_align_hour_buckets_to_local_hours():
    start = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
    starts = Bucketing("1h", "Asia/Kolkata", start, start + timedelta(hours=2)).starts()
    assert [s.strftime("%H:%M") for s in starts] == ["15:00", "16:00", "17:00"]
    assert starts[0].astimezone(UTC) == datetime(2026, 10, 20, 9, 30, tzinfo=UTC)


def test_ten_minute_buckets_start_before_an_unaligned_start():
    start = datetime(2026, 10, 20, 10, 37, 12, tzinfo=UTC)
    starts = Bucketing("10m", "UTC", start, start + timedelta(minutes=20)).starts()
    assert [s.strftime("%H:%M") for s in starts] == ["10:30", "10:40", "10:50"]


def test_custom_range_validation():
    ok = custom_range("2026-10-01 00:00:00", "2026-10-29 00:00:00", "Europe/Rome", NOW)
    assert (ok.days, ok.interval) == (28, "4h")
    assert ok.start == datetime(2026, 10, 1, 0, 0, tzinfo=ROME)
    with pytest.raises(InvalidQuery, match="after end"):
        custom_range("2026-10-02 00:00:00", "2026-10-01 00:00:00", "UTC", NOW)
    with pytest.raises(InvalidQuery, match="future"):
        custom_range("2026-10-02 00:00:00", "2026-11-05 00:00:00", "UTC", NOW)
    with pytest.raises(InvalidQuery, match="365 days"):
        custom_range("2025-01-01 00:00:00", "2026-10-01 00:00:00", "UTC", NOW)
    with pytest.raises(InvalidQuery, match="YYYY-MM-DD"):
        custom_range("2026-13-01 00:00:00", "2026-10-01 00:00:00", "UTC", NOW)
    with pytest.raises(InvalidQuery, match="unknown time zone"):
        custom_range("2026-10-01 00:00:00", "2026-10-02 00:00:00", "Mars/Olympus", NOW)
    for zone in ("America", "x" * 5000, "/etc/localtime", "UTC\x00"):  # a directory, too long…
        with pytest.raises(InvalidQuery, match="unknown time zone"):
            custom_range("2026-10-01 00:00:00", "2026-10-02 00:00:00", zone, NOW)
    with pytest.raises(InvalidQuery, match="start must not be before 1900-01-01"):
        custom_range("0001-01-01 00:00:00", "0001-01-01 23:00:00", "Etc/GMT-14", NOW)
    assert custom_range("1900-01-01 00:00:00", "1900-01-02 00:00:00", "Etc/GMT-14", NOW).days == 1
