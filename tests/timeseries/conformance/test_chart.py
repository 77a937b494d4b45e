"""Charts: every aggregate per bucket, gap filling, scale and rounding, time zones, grouping."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.timeseries import Aggregate, ChartQuery, InvalidQuery, TopFields
from tests.timeseries.helpers import at, point

A = {"object_id": "a"}
B = {"object_id": "b"}


@pytest.fixture
def data(backend):
    # Hour buckets 10:00 11:00 12:00 13:00 (UTC); 12:00 is empty.
    backend.write(
        [
            point("m", at(10, 0), A, v=1.0, n=1, s="x"),
            point("m", at(10, 20), A, v=2.0, n=5, s="y"),
            point("m", at(10, 40), A, v=6.0, n=5, s="x"),
            point("m", at(11, 10), A, v=4.0, n=2, s="z"),
            point("m", at(13, 5), A, v=-3.5, n=7, s="z"),
            point("m", at(10, 30), B, v=100.0, n=9, s="q"),
        ]
    )
    return backend


def chart(backend, *aggregates, tags=None, start=None, end=None, **kwargs):
    query = ChartQuery(
        "m",
        list(aggregates),
        start or at(10),
        end if end is not None else at(13, 30),
        tags=A if tags is None else tags,
        **kwargs,
    )
    return backend.chart(query)


def test_every_aggregate_per_bucket(data):
    result = chart(
        data,
        Aggregate("mean", "v", "mean"),
        Aggregate("sum", "v", "sum"),
        Aggregate("count", "v", "count"),
        Aggregate("count_distinct", "s", "distinct"),
        Aggregate("mode", "s", "mode"),
        Aggregate("min", "v", "min"),
        Aggregate("max", "v", "max"),
        Aggregate("last", "v", "last"),
        Aggregate("sum", "n", "sum_int"),
        Aggregate("mode", "n", "mode_int"),
    )
    assert [t.astimezone(UTC) for t in result.times] == [at(10), at(11), at(12), at(13)]
    assert result.series == {
        "mean": [3.0, 4.0, None, -3.5],
        "sum": [9.0, 4.0, None, -3.5],
        "count": [3, 1, 0, 1],
        "distinct": [2, 1, 0, 1],
        "mode": ["x", "z", None, "z"],
        "min": [1.0, 4.0, None, -3.5],
        "max": [6.0, 4.0, None, -3.5],
        "last": [6.0, 4.0, None, -3.5],
        "sum_int": [11, 2, None, 7],
        "mode_int": [5, 2, None, 7],
    }
    assert result.has_data is True


def test_mode_ties_go_to_the_value_seen_first(backend):
    backend.write(
        [
            point("m", at(10, 30), v=5),
            point("m", at(10, 10), v=7),
            point("m", at(10, 50), v=5),
            point("m", at(10, 55), v=7),
            point("m", at(11, 10), v=9),
            point("m", at(11, 5), v=3),
        ]
    )
    result = backend.chart(ChartQuery("m", [Aggregate("mode", "v")], at(10), at(11, 30)))
    assert result.series == {"v": [7, 3]}


def test_tag_filters_with_a_list_of_values(data):
    result = chart(data, Aggregate("sum", "v"), tags={"object_id": ["a", "b"]})
    assert result.series == {"v": [109.0, 4.0, None, -3.5]}
    nothing = chart(data, Aggregate("sum", "v"), tags={"object_id": "c"})
    assert nothing.series == {"v": [None, None, None, None]}
    assert nothing.has_data is False


def test_scale_and_rounding_half_away_from_zero(backend):
    backend.write(
        [
            point("m", at(10, 0), v=2.0),
            point("m", at(10, 30), v=3.0),
            point("m", at(11, 0), v=-2.0),
            point("m", at(11, 30), v=-3.0),
            point("m", at(12, 0), v=1234567891.0),
        ]
    )
    query = ChartQuery(
        "m",
        [
            Aggregate("mean", "v", "rounded", digits=0),
            Aggregate("mean", "v", "percent", scale=100),
            Aggregate("sum", "v", "gb", scale=1e-9, digits=2),
        ],
        at(10),
        at(12, 30),
    )
    assert backend.chart(query).series == {
        "rounded": [3.0, -3.0, 1234567891.0],
        "percent": [250.0, -250.0, 123456789100.0],
        "gb": [0.0, -0.0, 1.23],
    }


def test_gaps_are_filled_up_to_now_when_there_is_no_end(data, clock):
    clock.now = at(14, 30)
    query = ChartQuery("m", [Aggregate("mean", "v"), Aggregate("count", "v", "c")], at(12), tags=A)
    result = data.chart(query)
    assert [t.hour for t in result.times] == [12, 13, 14]
    assert result.series == {"v": [None, -3.5, None], "c": [0, 1, 0]}


def test_only_points_inside_the_range_count(data):
    # 10:20 starts the range: the 10:00 bucket holds only 10:20 and 10:40.
    result = chart(data, Aggregate("mean", "v"), start=at(10, 20), end=at(11, 10))
    assert [t.astimezone(UTC) for t in result.times] == [at(10), at(11)]
    assert result.series == {"v": [4.0, 4.0]}


def test_ten_minute_buckets(data):
    result = chart(data, Aggregate("count", "v"), start=at(10), end=at(10, 59), interval="10m")
    assert [t.minute for t in result.times] == [0, 10, 20, 30, 40, 50]
    assert result.series == {"v": [1, 0, 1, 0, 1, 0]}


def test_buckets_are_aligned_in_the_requested_time_zone(backend):
    # Kolkata is UTC+5:30: local hour buckets start at half past in UTC.
    backend.write([point("m", at(10, 10), v=1.0), point("m", at(10, 40), v=3.0)])
    query = ChartQuery("m", [Aggregate("sum", "v")], at(10), at(10, 59), timezone="Asia/Kolkata")
    result = backend.chart(query)
    assert [t.strftime("%H:%M") for t in result.times] == ["15:00", "16:00"]
    assert result.series == {"v": [1.0, 3.0]}


ROME_DAY_START = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 2026-10-25 00:00 CEST


@pytest.fixture
def dst_day(backend):
    # One point every 30 minutes across Rome's 25-hour day (2026-10-25), value = its index.
    backend.write(
        [point("m", ROME_DAY_START + timedelta(minutes=30 * i), v=float(i), n=1) for i in range(50)]
    )
    return backend


def test_hour_buckets_on_the_dst_day_in_rome(dst_day):
    query = ChartQuery(
        "m",
        [Aggregate("sum", "v"), Aggregate("count", "n")],
        ROME_DAY_START,
        ROME_DAY_START + timedelta(hours=24, minutes=59),
        interval="1h",
        timezone="Europe/Rome",
    )
    result = dst_day.chart(query)
    labels = [t.strftime("%H:%M") for t in result.times]
    assert len(labels) == 25
    assert labels[:5] == ["00:00", "01:00", "02:00", "02:00", "03:00"]
    assert labels[-1] == "23:00"
    # Each hour holds points 2k and 2k+1: sums 1, 5, 9, ... and two points per hour.
    assert result.series["v"] == [float(4 * k + 1) for k in range(25)]
    assert result.series["n"] == [2] * 25


def test_day_buckets_on_the_dst_day_in_rome(dst_day):
    query = ChartQuery(
        "m",
        [Aggregate("count", "n"), Aggregate("sum", "v")],
        ROME_DAY_START - timedelta(hours=2),
        ROME_DAY_START + timedelta(hours=26),
        interval="1d",
        timezone="Europe/Rome",
    )
    result = dst_day.chart(query)
    assert [t.strftime("%Y-%m-%d %H:%M") for t in result.times] == [
        "2026-10-24 00:00",
        "2026-10-25 00:00",
        "2026-10-26 00:00",
    ]
    # The 25th lasts 25 hours: all 50 points (0..49, sum 1225) fall in it.
    assert result.series == {"n": [0, 50, 0], "v": [None, 1225.0, None]}


def test_group_by_tag_with_a_running_total(backend):
    backend.write(
        [
            point("radius", at(10), {"method": "pap"}, sessions=2),
            point("radius", at(10, 30), {"method": "pap"}, sessions=1),
            point("radius", at(10, 15), {"method": "eap"}, sessions=4),
            point("radius", at(12), {"method": "eap"}, sessions=1),
            point("radius", at(12), {}, sessions=100),  # no "method" tag: not in any group
        ]
    )
    query = dict(
        measurement="radius",
        aggregates=[Aggregate("sum", "sessions")],
        start=at(10),
        end=at(12, 30),
        group_by="method",
    )
    plain = backend.chart(ChartQuery(**query))
    assert plain.series == {"eap": [4, None, 1], "pap": [3, None, None]}
    running = backend.chart(ChartQuery(**query, cumulative=True))
    assert running.series == {"eap": [4, 4, 5], "pap": [3, 3, 3]}
    assert backend.summary(ChartQuery(**query)) == {"eap": 5, "pap": 3}


def test_top_fields_by_sum(backend):
    backend.write(
        [
            point("h", at(10), f1=4.0, f2=10.0, f3=5.0, f4=-5.0, label="x"),
            point("h", at(11), f1=6.0, f2=20.0, f3=15.0, f4=0.0, label="y"),
        ]
    )
    query = ChartQuery("h", [Aggregate("sum", "*")], at(10), at(11, 30), top_fields=TopFields(2))
    assert backend.top_fields(query) == ["f2", "f3"]
    assert backend.chart(query).series == {"f2": [10.0, 20.0], "f3": [5.0, 15.0]}
    assert backend.summary(query) == {"f2": 30.0, "f3": 20.0}
    query3 = ChartQuery("h", [Aggregate("sum", "*")], at(10), at(11, 30), top_fields=TopFields(3))
    assert backend.top_fields(query3) == ["f2", "f3", "f1"]
    empty = ChartQuery("nothing", [Aggregate("sum", "*")], at(10), at(11), top_fields=TopFields(2))
    assert backend.chart(empty).series == {}


def test_query_shape_errors():
    with pytest.raises(InvalidQuery, match="exactly one aggregate"):
        ChartQuery("m", [Aggregate("sum", "a"), Aggregate("sum", "b")], at(10), group_by="t")
    with pytest.raises(InvalidQuery, match="needs a group-by tag"):
        ChartQuery("m", [Aggregate("sum", "a")], at(10), cumulative=True)
    with pytest.raises(InvalidQuery, match="only allowed together with top fields"):
        ChartQuery("m", [Aggregate("sum", "*")], at(10))
