"""Summaries: one aggregate over the whole range."""

from fleetwatch.timeseries import Aggregate, ChartQuery
from tests.timeseries.helpers import at, point


def test_each_aggregate_over_the_whole_range(backend):
    backend.write(
        [
            point("m", at(10), v=1.0, s="a", n=2),
            point("m", at(11), v=2.0, s="b", n=2),
            point("m", at(12), v=6.0, s="a", n=3),
            point("m", at(15), v=100.0, s="c", n=3),  # after the end
        ]
    )
    query = ChartQuery(
        "m",
        [
            Aggregate("mean", "v", "mean"),
            Aggregate("sum", "v", "sum", scale=10),
            Aggregate("count", "v", "count"),
            Aggregate("count_distinct", "s", "distinct"),
            Aggregate("mode", "s", "mode"),
            Aggregate("min", "v", "min"),
            Aggregate("max", "v", "max"),
            Aggregate("last", "s", "last"),
            Aggregate("mode", "n", "mode_n"),
            Aggregate("mean", "v", "mean_r", digits=0),
        ],
        at(10),
        at(12),
    )
    assert backend.summary(query) == {
        "mean": 3.0,
        "sum": 90.0,
        "count": 3,
        "distinct": 2,
        "mode": "a",
        "min": 1.0,
        "max": 6.0,
        "last": "a",
        "mode_n": 2,
        "mean_r": 3.0,
    }


def test_an_empty_range_gives_none_and_zero_counts(backend):
    query = ChartQuery(
        "m",
        [
            Aggregate("mean", "v"),
            Aggregate("count", "v", "c"),
            Aggregate("count_distinct", "v", "d"),
        ],
        at(10),
        at(12),
    )
    assert backend.summary(query) == {"v": None, "c": 0, "d": 0}


def test_summary_until_now_without_an_end(backend, clock):
    clock.now = at(12, 30)
    backend.write([point("m", at(10), v=1.0), point("m", at(12), v=3.0), point("m", at(13), v=9.0)])
    assert backend.summary(ChartQuery("m", [Aggregate("sum", "v")], at(9))) == {"v": 4.0}


def test_chart_and_summary_in_one_call_agree_with_separate_calls(backend):
    backend.write(
        [
            point("m", at(10, 5), v=1.5, s="a", n=2),
            point("m", at(10, 50), v=2.25, s="b", n=2),
            point("m", at(11, 10), v=6.0, s="a", n=3),
            point("m", at(12, 40), v=-4.0, s="c", n=3),
        ]
    )
    query = ChartQuery(
        "m",
        [
            Aggregate("mean", "v", "mean"),
            Aggregate("sum", "v", "sum", scale=10),
            Aggregate("count", "v", "count"),
            Aggregate("count_distinct", "s", "distinct"),
            Aggregate("mode", "n", "mode"),
            Aggregate("min", "v", "min"),
            Aggregate("max", "v", "max"),
            Aggregate("last", "s", "last"),
            Aggregate("mean", "n", "mean_r", digits=0),
        ],
        at(10),
        at(12, 59),
    )
    chart, summary = backend.chart_and_summary(query)
    assert chart == backend.chart(query)
    assert summary == backend.summary(query)
    assert summary == {
        "mean": 1.4375,
        "sum": 57.5,
        "count": 4,
        "distinct": 3,
        "mode": 2,
        "min": -4.0,
        "max": 6.0,
        "last": "c",
        "mean_r": 3.0,
    }
