"""Long-range charts give the same answer whether rollups are read or not.

Every chart here is checked three ways: against a reference computed in Python from the points
written, against the same backend with rollups switched off (raw points only), and, on backends
that keep rollups, with the proof that they were read. Floating-point sums may differ in the
last bits (rollups add in another order), so floats compare to 1e-12 relative.
"""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.timeseries import Aggregate, ChartQuery, Point
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.times import to_micros

A = {"object_id": "a", "kind": "device"}
B = {"object_id": "b", "kind": "device"}
FIRST = datetime(2026, 9, 20, 0, 0, tzinfo=UTC)
DAYS = 40  # to 2026-10-30, across the end of summer time in Europe on 2026-10-25
COMPOSABLE = ("mean", "sum", "count", "min", "max")


def _points(tags, seed):
    """A point every 5 minutes (a float, an int and a string field), 40 days long."""
    points = []
    for i in range(DAYS * 288):
        moment = FIRST + timedelta(minutes=5 * i, seconds=seed)
        points.append(
            Point(
                "traffic",
                {"v": round((i * 7 + seed) % 101 * 0.1 - 3, 1), "n": (i * 13 + seed) % 997, "s": f"x{i % 7}"},
                moment,
                tags,
            )
        )
    return points


@pytest.fixture
def stored(backend):
    points = _points(A, 0) + _points(B, 17)
    backend.write(points)
    return backend, points


def reference(points, query: ChartQuery, floor: datetime | None = None):
    """The chart (composable aggregates only) computed from the points themselves."""
    end = query.end
    bucketing = Bucketing(query.interval, query.timezone, query.start, end)
    lower = max(query.start, floor) if floor else query.start
    groups: dict = {}
    for point in points:
        if point.measurement != query.measurement or not (lower <= point.time <= end):
            continue
        if any(point.tags.get(k) not in v for k, v in query.tags.items()):
            continue
        group = point.tags[query.group_by] if query.group_by else None
        key = bucketing.key(to_micros(point.time))
        groups.setdefault(group, {}).setdefault(key, []).append(point)
    out = {}
    for agg in [a for a in query.aggregates if a.fn in COMPOSABLE]:
        for group, buckets in groups.items():
            name = group if query.group_by else agg.alias
            series = []
            for key in bucketing.keys():
                values = [p.fields[agg.field] for p in buckets.get(key, [])]
                series.append(_aggregate(agg.fn, values))
            out[name] = series
    return out


def _aggregate(fn, values):
    if fn == "count":
        return len(values)
    if not values:
        return None
    return {
        "mean": lambda: sum(values) / len(values),
        "sum": lambda: sum(values),
        "min": lambda: min(values),
        "max": lambda: max(values),
    }[fn]()


def _same(actual, expected):
    assert actual.keys() == expected.keys()
    for name, values in expected.items():
        assert len(actual[name]) == len(values), name
        for got, want in zip(actual[name], values, strict=True):
            if isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-12, abs=1e-9), name
            else:  # counts, integer sums, min and max, empty buckets: exactly
                assert (got, type(got)) == (want, type(want)), name


def _charts(backend, query, monkeypatch):
    """(chart with rollups, chart from raw points, whether rollups were read)."""
    reads = []
    original = type(backend)._rollup_partials

    def spy(self, *args):
        reads.append(args)
        return original(self, *args)

    monkeypatch.setattr(type(backend), "_rollup_partials", spy)
    rolled = backend.chart(query)
    backend.use_rollups = False
    try:
        raw = backend.chart(query)
    finally:
        backend.use_rollups = True
    return rolled, raw, bool(reads)


def _check(backend, points, query, monkeypatch, floor=None):
    rolled, raw, read = _charts(backend, query, monkeypatch)
    expected = reference(points, query, floor)
    composable = {k: v for k, v in rolled.series.items() if k in expected}
    _same(composable, expected)
    _same({k: v for k, v in raw.series.items() if k in expected}, expected)
    assert rolled.times == raw.times
    # Aggregates that do not compose come from raw points either way: exactly equal.
    for name in rolled.series.keys() - expected.keys():
        assert rolled.series[name] == raw.series[name], name
    assert read is bool(backend.features.supports_rollups)
    return rolled


def aggregates(field="v"):
    return [Aggregate(fn, field, f"{fn}_{field}") for fn in COMPOSABLE]


def test_30_days_of_local_days_across_a_dst_change(stored, monkeypatch):
    backend, points = stored
    # Local midnight in Rome to a moment in the middle of an hour: the last day is partial.
    query = ChartQuery(
        "traffic",
        [
            *aggregates("v"),
            *aggregates("n"),
            Aggregate("count_distinct", "s", "distinct"),
            Aggregate("mode", "s", "mode"),
            Aggregate("last", "v", "last"),
        ],
        start=datetime(2026, 9, 30, 22, 0, tzinfo=UTC),
        end=datetime(2026, 10, 29, 13, 37, 30, tzinfo=UTC),
        interval="1d",
        timezone="Europe/Rome",
        tags={"object_id": "a"},
    )
    result = _check(backend, points, query, monkeypatch)
    assert len(result.times) == 29
    # 2026-10-25 has 25 hours in Rome: 300 five-minute points.
    day = [t.date().isoformat() for t in result.times].index("2026-10-25")
    assert result.series["count_v"][day] == 300
    assert result.series["count_v"][day - 1] == 288
    # The last day is cut at 13:37:30 UTC: 23:00–13:35 UTC, 176 points.
    assert result.series["count_n"][-1] == 176


def test_hours_with_partial_edge_buckets(stored, monkeypatch):
    backend, points = stored
    query = ChartQuery(
        "traffic",
        aggregates("v") + aggregates("n"),
        start=datetime(2026, 10, 3, 7, 22, tzinfo=UTC),
        end=datetime(2026, 10, 5, 19, 41, tzinfo=UTC),
        interval="1h",
        tags={"object_id": ["a", "b"]},
    )
    result = _check(backend, points, query, monkeypatch)
    # The first bucket holds 07:25–07:55 (7 points per device), the last 19:00–19:40 (9).
    assert result.series["count_n"][0] == 14
    assert result.series["count_n"][-1] == 18


def test_zone_whose_midnight_is_not_on_the_hour(stored, monkeypatch):
    backend, points = stored
    query = ChartQuery(
        "traffic",
        aggregates("v"),
        start=datetime(2026, 10, 1, 18, 30, tzinfo=UTC),  # midnight in Kolkata (UTC+05:30)
        end=datetime(2026, 10, 20, 18, 29, 59, tzinfo=UTC),
        interval="1d",
        timezone="Asia/Kolkata",
        tags={"object_id": "b"},
    )
    result = _check(backend, points, query, monkeypatch)
    assert result.series["count_v"] == [288] * 19


def test_weeks_of_a_year_long_chart(stored, monkeypatch):
    backend, points = stored
    query = ChartQuery(
        "traffic",
        aggregates("n"),
        start=datetime(2025, 11, 2, 23, 0, tzinfo=UTC),
        end=datetime(2026, 10, 31, 23, 59, tzinfo=UTC),
        interval="7d",
        timezone="Europe/Rome",
        tags={"object_id": "a"},
    )
    result = _check(backend, points, query, monkeypatch)
    assert sum(result.series["count_n"]) == DAYS * 288


def test_grouped_by_tag_and_summaries(stored, monkeypatch):
    backend, points = stored
    query = ChartQuery(
        "traffic",
        [Aggregate("sum", "n", "total")],
        start=datetime(2026, 10, 1, tzinfo=UTC),
        end=datetime(2026, 10, 28, 6, 10, tzinfo=UTC),
        interval="1d",
        tags={"kind": "device"},
        group_by="object_id",
    )
    result = _check(backend, points, query, monkeypatch)
    assert set(result.series) == {"a", "b"}
    inside = [p for p in points if query.start <= p.time <= query.end]
    summary = backend.summary(query)
    assert summary == {
        tag: sum(p.fields["n"] for p in inside if p.tags["object_id"] == tag) for tag in ("a", "b")
    }
    flat = ChartQuery(
        "traffic",
        [*aggregates("v"), Aggregate("count_distinct", "s", "distinct")],
        start=query.start,
        end=query.end,
        interval="1d",
        tags={"object_id": "a"},
    )
    _chart, summary = backend.chart_and_summary(flat)
    values = [p.fields["v"] for p in inside if p.tags["object_id"] == "a"]
    assert summary["count_v"] == len(values)
    assert summary["sum_v"] == pytest.approx(sum(values), rel=1e-12)
    assert summary["mean_v"] == pytest.approx(sum(values) / len(values), rel=1e-12)
    assert (summary["min_v"], summary["max_v"]) == (min(values), max(values))
    assert summary["distinct"] == 7
    assert backend.summary(flat) == pytest.approx(summary, rel=1e-12)


def test_late_repeated_and_corrected_points_update_rollups(stored, monkeypatch):
    backend, points = stored
    query = ChartQuery(
        "traffic",
        aggregates("n"),
        start=datetime(2026, 10, 1, tzinfo=UTC),
        end=datetime(2026, 10, 29, tzinfo=UTC),
        interval="1d",
        tags={"object_id": "a"},
    )
    _check(backend, points, query, monkeypatch)
    # A late point between two stored ones, a correction of a stored one, and a resend.
    late = Point("traffic", {"n": 5000, "v": 1.5, "s": "late"}, datetime(2026, 10, 10, 12, 2, tzinfo=UTC), A)
    index = next(
        i for i, p in enumerate(points) if p.tags == A and p.time == datetime(2026, 10, 12, 3, 5, tzinfo=UTC)
    )
    corrected = Point("traffic", {"n": -40, "v": 0.0, "s": "fixed"}, points[index].time, A)
    backend.write([late, corrected])
    backend.write([late])
    points = [*points[:index], corrected, *points[index + 1 :], late]
    result = _check(backend, points, query, monkeypatch)
    assert result.series["max_n"][9] == 5000
    assert result.series["min_n"][11] == -40


def test_deletes_and_retention_update_rollups(stored, monkeypatch, clock):
    backend, points = stored
    start, end = datetime(2026, 10, 6, 10, 12, tzinfo=UTC), datetime(2026, 10, 8, 1, 47, tzinfo=UTC)
    backend.delete("traffic", {"object_id": "a"}, start=start, end=end)
    points = [p for p in points if not (p.tags == A and start <= p.time <= end)]
    query = ChartQuery(
        "traffic",
        aggregates("v"),
        start=datetime(2026, 10, 1, tzinfo=UTC),
        end=datetime(2026, 10, 29, tzinfo=UTC),
        interval="1d",
        tags={"object_id": "a"},
    )
    result = _check(backend, points, query, monkeypatch)
    assert result.series["count_v"][6] == 0
    # Keep 727 hours: the floor falls mid-hour, at 2026-10-02 00:30.
    clock.now = datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    backend.ensure_retention({"default": "727h"})
    backend.enforce_retention()
    floor = datetime(2026, 10, 2, 0, 30, tzinfo=UTC)
    backend.ensure_retention({"default": 3 * 365 * 86400})  # the floor moves back: nothing reappears
    points = [p for p in points if p.time >= floor]
    result = _check(backend, points, query, monkeypatch)
    assert result.series["count_v"][:2] == [0, 288 - 6]


def test_live_points_are_exact_before_and_after_a_seal(backend, monkeypatch, clock):
    """An agent's reports written as they happen: on a sealing backend each write leaves its
    (live) points to the next seal, and charts read them raw until then; after the seal they
    come from rollups. Every chart equals the points' own answer at each step, and a late
    correction of a sealed hour is picked up at once."""
    now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    first = now - timedelta(hours=30)
    points = [
        Point(
            "traffic", {"v": round(i % 17 * 0.25, 2), "n": i * 3 % 101}, first + timedelta(minutes=5 * i), A
        )
        for i in range(30 * 12)
    ]
    for hour in range(30):  # an hour's reports, written a minute after the hour's last one
        batch = points[hour * 12 : (hour + 1) * 12]
        clock.now = batch[-1].time + timedelta(minutes=1)
        backend.write(batch)
    clock.now = now
    sealing = backend.features.supports_rollups and backend.features.seals_rollups
    queries = [
        ChartQuery("traffic", aggregates("v") + aggregates("n"), first, now, interval="1h", tags=A),
        ChartQuery("traffic", aggregates("n"), first, now, interval="1d", timezone="Europe/Rome", tags=A),
    ]
    for query in queries:
        rolled, raw, read = _charts(backend, query, monkeypatch)
        expected = reference(points, query)
        _same({k: v for k, v in rolled.series.items() if k in expected}, expected)
        _same({k: v for k, v in raw.series.items() if k in expected}, expected)
        # Unsealed, only the first hour (late when written) is before the horizon.
        assert read is (bool(backend.features.supports_rollups) and not sealing)

    horizons = backend.seal_rollups()
    assert horizons == (
        {"short": now - timedelta(hours=2), "default": now - timedelta(hours=2)} if sealing else {}
    )
    for query in queries:
        _check(backend, points, query, monkeypatch)

    # A correction of a sealed hour, written now (late), and a new live report.
    index = 100
    corrected = Point("traffic", {"v": -9.5, "n": 5000}, points[index].time, A)
    live = Point("traffic", {"v": 1.0, "n": 7}, now - timedelta(minutes=3), A)
    backend.write([corrected, live])
    points = [*points[:index], corrected, *points[index + 1 :], live]
    for query in queries:
        result = _check(backend, points, query, monkeypatch)
    assert max(result.series["max_n"]) == 5000
