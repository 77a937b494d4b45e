"""InfluxDB 2.x rollups on the real server: what lands in the rollup buckets (fields, types,
tags), that users never see them, units emptied by deletes and purges, tiers, flush, a store
older than rollups, and the number of round trips a long chart costs."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.timeseries import Aggregate, ChartQuery, ReadQuery, load_backend
from fleetwatch.timeseries.backends.influxdb2 import flux
from fleetwatch.timeseries.backends.lineprotocol import HORIZON
from fleetwatch.timeseries.rollups import DAY, HOUR
from tests.timeseries.conftest import requested_backends
from tests.timeseries.helpers import at, point
from tests.timeseries.influxdb2.test_influxdb2 import buckets_of, url, with_options

pytestmark = pytest.mark.skipif(
    "influxdb2" not in requested_backends(), reason="FLEETWATCH_TEST_BACKENDS leaves InfluxDB 2.x out"
)

NAMESPACE = "fleetwatch_test_rollups"
A = {"object_id": "a"}
B = {"object_id": "b"}


@pytest.fixture
def influx(clock):
    backend = load_backend(with_options(url(), f"schema={NAMESPACE}&server_retention=false"), clock=clock)
    backend.flush()
    yield backend
    backend.flush()
    backend.close()


def stored(backend, tier="default", step=HOUR):
    """Every rollup point of a rollup bucket (the horizon's record left out): ``{(measurement,
    tags, field, time): value}``."""
    script = (
        f"from(bucket: {flux.string(backend.rollup_bucket(tier, step))})"
        f" |> range(start: {flux.MIN_TIME}, stop: {flux.MAX_TIME})"
        f" |> filter(fn: (r) => r._measurement != {flux.string(HORIZON)})"
    )
    out = {}
    for block in backend._query(script).get("_result", []):
        tag_columns = sorted(block.group - {"_measurement", "_field", "_start", "_stop"})
        for i, value in enumerate(flux.values(block, "_value")):
            tags = tuple((c, flux.values(block, c)[i]) for c in tag_columns if flux.values(block, c)[i])
            moment = datetime.fromtimestamp(flux.micros(flux.values(block, "_time")[i]) / 1e6, UTC)
            out[(flux.values(block, "_measurement")[i], tags, flux.values(block, "_field")[i], moment)] = (
                value
            )
    return out


def test_each_numeric_field_has_four_typed_partials_per_unit(influx):
    influx.write(
        [
            point("m", at(10, 5), A, n=3, v=1.5, s="x", b=True),
            point("m", at(10, 35), A, n=4, v=-2.0, s="y", b=False),
            point("m", at(11, 5), A, n=10, v=0.25),
            point("m", at(10, 5), B, n=7),
        ]
    )
    a = (("object_id", "a"),)
    b = (("object_id", "b"),)
    assert stored(influx, step=HOUR) == {
        ("m", a, "n|count", at(10)): 2,
        ("m", a, "n|sum", at(10)): 7,
        ("m", a, "n|min", at(10)): 3,
        ("m", a, "n|max", at(10)): 4,
        ("m", a, "v|count", at(10)): 2,
        ("m", a, "v|sum", at(10)): -0.5,
        ("m", a, "v|min", at(10)): -2.0,
        ("m", a, "v|max", at(10)): 1.5,
        ("m", a, "n|count", at(11)): 1,
        ("m", a, "n|sum", at(11)): 10,
        ("m", a, "n|min", at(11)): 10,
        ("m", a, "n|max", at(11)): 10,
        ("m", a, "v|count", at(11)): 1,
        ("m", a, "v|sum", at(11)): 0.25,
        ("m", a, "v|min", at(11)): 0.25,
        ("m", a, "v|max", at(11)): 0.25,
        ("m", b, "n|count", at(10)): 1,
        ("m", b, "n|sum", at(10)): 7,
        ("m", b, "n|min", at(10)): 7,
        ("m", b, "n|max", at(10)): 7,
    }
    days = stored(influx, step=DAY)
    assert days[("m", a, "n|sum", at(0))] == 17
    assert type(days[("m", a, "n|sum", at(0))]) is int
    assert days[("m", a, "v|sum", at(0))] == -0.25
    assert days[("m", a, "n|count", at(0))] == 3
    assert len(days) == 12  # (a: n, v; b: n) × 4 parts: strings and booleans are not rolled up


def test_rollups_are_never_seen_as_user_points(influx, clock):
    clock.now = at(12)  # the short tier keeps a day
    influx.write([point("m", at(10, 5), A, n=3), point("m", at(11, 5), A, n=4)], retention="short")
    influx.write([point("m", at(10, 5), B, n=5)])
    assert [(r.tags, r.fields) for r in influx.read(ReadQuery("m", retention="short"))] == [
        (A, {"n": 3}),
        (A, {"n": 4}),
    ]
    assert [(r.tags, r.fields) for r in influx.read(ReadQuery("m"))] == [(B, {"n": 5})]
    assert influx.count_points() == {"m": 3}
    assert influx.count_points("short") == {"m": 2}
    assert [tier["name"] for tier in influx.list_retention()] == ["short", "default"]
    # The 11:05 point was live when written (at 12:00): a seal rolls it up.
    influx.seal_rollups(at(14))
    # The short tier's rollups live in its own rollup buckets.
    assert {key[2:] for key in stored(influx, "short") if key[2] == "n|sum"} == {
        ("n|sum", at(10)),
        ("n|sum", at(11)),
    }
    assert {key[1] for key in stored(influx, "default")} == {(("object_id", "b"),)}


def test_a_unit_emptied_by_a_delete_loses_its_rollup_point(influx):
    influx.write(
        [point("m", at(10, 5), A, n=3), point("m", at(10, 35), A, n=4), point("m", at(12, 5), A, n=5)]
    )
    influx.delete("m", A, start=at(10), end=at(10, 40))
    hours = stored(influx, step=HOUR)
    assert {key[3] for key in hours} == {at(12)}
    assert stored(influx, step=DAY)[("m", (("object_id", "a"),), "n|sum", at(0))] == 5
    # One point of a unit: the rest of it is recomputed.
    influx.write([point("m", at(12, 10), A, n=6)])
    influx.delete("m", A, time=at(12, 5))
    assert stored(influx, step=HOUR)[("m", (("object_id", "a"),), "n|sum", at(12))] == 6
    # A whole series.
    influx.delete("m", A)
    assert stored(influx, step=HOUR) == {}
    assert stored(influx, step=DAY) == {}


def test_retention_purges_rollups_and_recomputes_the_unit_at_the_floor(influx, clock):
    influx.write(
        [point("m", at(10, 5), A, n=3), point("m", at(10, 35), A, n=4), point("m", at(11, 5), A, n=5)]
    )
    influx.write([point("m", at(10, 5, day=19), A, n=100)])
    clock.now = at(10, 30) + timedelta(hours=24)  # floor: 2026-10-20 10:30 in the default tier
    influx.ensure_retention({"default": "24h"})
    assert influx.enforce_retention() == 2
    a = (("object_id", "a"),)
    assert stored(influx, step=HOUR) == {
        ("m", a, "n|count", at(10)): 1,
        ("m", a, "n|sum", at(10)): 4,
        ("m", a, "n|min", at(10)): 4,
        ("m", a, "n|max", at(10)): 4,
        ("m", a, "n|count", at(11)): 1,
        ("m", a, "n|sum", at(11)): 5,
        ("m", a, "n|min", at(11)): 5,
        ("m", a, "n|max", at(11)): 5,
    }
    assert {key[3] for key in stored(influx, step=DAY)} == {at(0)}
    assert stored(influx, step=DAY)[("m", a, "n|sum", at(0))] == 9


def test_flush_drops_the_rollup_buckets(influx):
    influx.write([point("m", at(10, 5), A, n=3)])
    assert "fleetwatch_test_rollups:1h" in buckets_of(influx, NAMESPACE)
    influx.flush()
    assert buckets_of(influx, NAMESPACE) == {}
    influx.write([point("m", at(11, 5), A, n=4)])
    assert {key[3] for key in stored(influx)} == {at(11)}


def test_a_store_older_than_rollups_gets_them_built_once(influx, clock):
    influx.write([point("m", at(10, 5, day=day), A, n=day) for day in range(1, 20)])
    # Remove the rollup buckets, as in a store written before rollups existed.
    api = influx.client.buckets_api()
    for bucket in api.find_buckets_iter(org=influx.org):
        if bucket.name.startswith(NAMESPACE + ":"):
            api.delete_bucket(bucket)
    again = load_backend(with_options(url(), f"schema={NAMESPACE}&server_retention=false"), clock=clock)
    try:
        query = ChartQuery(
            "m", [Aggregate("sum", "n")], at(0, day=1), at(23, 59, day=19), interval="1d", tags=A
        )
        assert again.chart(query).series == {"n": list(range(1, 20))}
        assert len(stored(again, step=DAY)) == 19 * 4
    finally:
        again.close()


def test_a_year_long_chart_is_one_round_trip(influx, monkeypatch):
    start = datetime(2025, 11, 1, tzinfo=UTC)
    influx.write([point("m", start + timedelta(hours=7 * i), A, n=i, v=i / 4) for i in range(365 * 24 // 7)])
    queries = []
    original = type(influx.server).query

    def counting(self, script):
        queries.append(script)
        return original(self, script)

    monkeypatch.setattr(type(influx.server), "query", counting)
    query = ChartQuery(
        "m",
        [
            Aggregate(fn, name, f"{fn}_{name}")
            for fn in ("mean", "sum", "count", "min", "max")
            for name in ("n", "v")
        ],
        datetime(2025, 11, 2, 18, 30, tzinfo=UTC),
        datetime(2026, 10, 31, 18, 29, tzinfo=UTC),
        interval="7d",
        timezone="Asia/Kolkata",  # half-hour edges: a raw fragment on each side of each bucket
        tags=A,
    )
    rolled = influx.chart(query)
    assert len(queries) == 1
    # Whole hours from the hourly rollups (in one range, windows skipping the hour of each
    # bucket edge), the half hours at the edges from raw points.
    assert "fleetwatch_test_rollups:1h" in queries[0]
    assert '"fleetwatch_test_rollups"' in queries[0]
    assert "period: 601200s" in queries[0]
    influx.use_rollups = False
    assert influx.chart(query) == rolled


def test_a_half_hour_zone_across_a_change_of_offset(influx):
    # Adelaide is UTC+10:30 until 2026-04-05, then UTC+9:30: bucket edges are off the hour and
    # move by an hour, so the hours are read in one interval per bucket.
    start = datetime(2026, 3, 20, tzinfo=UTC)
    influx.write([point("m", start + timedelta(minutes=20 * i), A, n=i) for i in range(30 * 72)])
    query = ChartQuery(
        "m",
        [Aggregate(fn, "n", fn) for fn in ("mean", "sum", "count", "min", "max")],
        datetime(2026, 3, 21, 13, 30, tzinfo=UTC),
        datetime(2026, 4, 15, 14, 29, tzinfo=UTC),
        interval="1d",
        timezone="Australia/Adelaide",
        tags=A,
    )
    rolled = influx.chart(query)
    influx.use_rollups = False
    assert influx.chart(query) == rolled
    assert rolled.series["count"][:2] == [72, 72]


def test_an_import_of_many_series_names_its_partials_per_field(influx):
    # More than 64 series in one write: their hourly units are written field by field.
    points = [
        point("m", at(10, minute, day=day), {"object_id": f"d{s:02d}"}, n=s + minute, v=s / 2 + day)
        for s in range(70)
        for day in (19, 20)
        for minute in (5, 35)
    ]
    influx.write(points)
    a = (("object_id", "d03"),)
    hours = stored(influx, step=HOUR)
    assert len(hours) == 70 * 2 * 2 * 4
    assert [hours[("m", a, f"n|{part}", at(10))] for part in ("count", "sum", "min", "max")] == [2, 46, 8, 38]
    assert hours[("m", a, "v|sum", at(10))] == 43.0
    assert stored(influx, step=DAY)[("m", a, "n|sum", at(0, day=19))] == 46
    query = ChartQuery(
        "m",
        [Aggregate("sum", "n", "n"), Aggregate("max", "v", "v")],
        at(0, day=19),
        at(23, 59, day=20),
        interval="1d",
    )
    rolled = influx.chart(query)
    assert rolled.series == {"n": [sum(2 * s + 40 for s in range(70))] * 2, "v": [34.5 + 19, 34.5 + 20]}
    influx.use_rollups = False
    assert influx.chart(query) == rolled
