"""InfluxDB 1.x specifics, on the real server: escaping, field types, policies, tier deletes."""

import os

import pytest

from fleetwatch.timeseries import Aggregate, ChartQuery, FieldTypeError, InvalidPoint, ReadQuery, load_backend
from tests.timeseries.conftest import requested_backends
from tests.timeseries.helpers import at, point

pytestmark = pytest.mark.skipif(
    "influxdb" not in requested_backends(), reason="FLEETWATCH_TEST_BACKENDS leaves InfluxDB out"
)


@pytest.fixture
def influx(clock):
    url = os.environ.get("FLEETWATCH_TEST_INFLUXDB_URL")
    if not url:
        pytest.fail("FLEETWATCH_TEST_INFLUXDB_URL is not set: run `make test`", pytrace=False)
    backend = load_backend(url + "?schema=fleetwatch_test_specific&server_retention=false", clock=clock)
    backend.flush()
    yield backend
    backend.flush()
    backend.close()


TRICKY = ["a,b=c d", "quote'single", 'quote"double', "back\\slash", "ünïcødé ✓", "x' OR '1'='1"]


def test_tag_and_string_values_round_trip_and_cannot_inject(influx):
    influx.write(
        [point("m", at(10, i), {"t": value}, s=value + "\nsecond line") for i, value in enumerate(TRICKY)]
    )
    rows = influx.read(ReadQuery("m"))
    assert [r.tags["t"] for r in rows] == TRICKY
    assert [r.fields["s"] for r in rows] == [v + "\nsecond line" for v in TRICKY]
    for value in TRICKY:
        assert [r.tags["t"] for r in influx.read(ReadQuery("m", tags={"t": value}))] == [value]
        assert len(influx.read(ReadQuery("m", where=[("s", "=", value + "\nsecond line")]))) == 1
    # A classic injection attempt matches nothing instead of everything.
    assert influx.read(ReadQuery("m", tags={"t": "nothing' OR 't'='t"})) == []


def test_a_tag_value_line_protocol_cannot_carry_is_refused_before_writing(influx):
    with pytest.raises(InvalidPoint, match="cannot carry"):
        influx.write([point("m", at(10), v=1.0), point("m", at(11), {"t": "ends with\\"}, v=1.0)])
    assert influx.count_points() == {}


def test_field_types_are_kept_and_converted_only_without_loss(influx):
    influx.write([point("m", at(10), v=1.5, n=2)])
    influx.write([point("m", at(11), v=3, n=4.0)])  # int into a float field, whole float into an int field
    assert [r.fields for r in influx.read(ReadQuery("m"))] == [{"v": 1.5, "n": 2}, {"v": 3.0, "n": 4}]
    assert [type(r.fields["v"]) for r in influx.read(ReadQuery("m"))] == [float, float]
    with pytest.raises(FieldTypeError, match=r"m\.n holds integer values in InfluxDB"):
        influx.write([point("m", at(12), v=1.0), point("m", at(13), n=4.5)])
    assert influx.count_points() == {"m": 2}  # nothing of the refused batch was written


def test_a_delete_limited_to_one_tier_keeps_the_other_tiers(influx):
    influx.write([point("m", at(10), {"d": "a"}, v=1.0)])
    influx.write([point("m", at(10), {"d": "a"}, v=2.0)], retention="short")
    influx.delete(measurement="m", tags={"d": "a"}, retention="short")
    assert influx.read(ReadQuery("m", retention="short")) == []
    assert [r.fields for r in influx.read(ReadQuery("m"))] == [{"v": 1.0}]


def test_tiers_are_retention_policies_with_their_durations(clock):
    url = os.environ.get("FLEETWATCH_TEST_INFLUXDB_URL")
    backend = load_backend(url + "?schema=fleetwatch_test_policies", clock=clock)
    try:
        backend.flush()
        backend.ensure_retention({"short": "24h", "default": "26280h"})
        [result] = backend.http.query("SHOW RETENTION POLICIES")
        policies = {row[0]: row[1:] for row in result["series"][0]["values"]}
        assert policies["autogen"][:3] == ["26280h0m0s", "168h0m0s", 1]
        assert policies["autogen"][3] is True  # the default policy
        assert policies["short"][:2] == ["24h0m0s", "1h0m0s"]
    finally:
        backend.flush()
        backend.close()


# ------------------------------------------------------------------ rollups


def units(backend, measurement, step="1h", tier="default"):
    """``{(tags as a sorted tuple, unit start in µs): fields}`` of stored rollup units."""
    [result] = backend.http.query(f'SELECT * FROM "rollups:{tier}"."{measurement}:{tier}:{step}" GROUP BY *')
    found = {}
    for series in result.get("series") or []:
        tags = tuple(sorted((series.get("tags") or {}).items()))
        for values in series["values"]:
            row = dict(zip(series["columns"], values, strict=True))
            moment = row.pop("time")
            found[(tags, moment)] = {k: v for k, v in row.items() if v is not None}
    return found


def us(moment):
    return int(moment.timestamp()) * 1_000_000


def test_units_are_partials_with_the_fields_types_and_tags_as_tags(influx):
    influx.write(
        [
            point("m", at(10, 5), {"d": "a"}, v=1.5, n=2, s="x", b=True, count_v=7.0),
            point("m", at(10, 35), {"d": "a"}, v=2.0, n=5, s="y", b=False, count_v=1.0),
            point("m", at(11, 0), {"d": "a"}, v=-1.0, n=-3),
        ]
    )
    hours = units(influx, "m")
    key = ((("d", "a"),), us(at(10)))
    # count(v) and a user's own field "count_v" stay apart; booleans are not rolled up.
    assert hours[key] == {
        "count_v": 2,
        "sum_v": 3.5,
        "min_v": 1.5,
        "max_v": 2,
        "count_n": 2,
        "sum_n": 7,
        "min_n": 2,
        "max_n": 5,
        "count_s": 2,
        "count_count_v": 2,
        "sum_count_v": 8,
        "min_count_v": 1,
        "max_count_v": 7,
    }
    [(_tags, day)] = units(influx, "m", "1d").items()
    assert (day["count_v"], day["sum_v"], day["min_v"], day["count_n"], day["sum_n"]) == (3, 2.5, -1, 3, 4)
    # Integer sums stay integers in InfluxDB (and in charts read from them).
    [result] = influx.http.query('SHOW FIELD KEYS FROM "rollups:default"."m:default:1d"')
    kinds = dict(result["series"][0]["values"])
    assert (kinds["sum_n"], kinds["sum_v"], kinds["count_s"], kinds["min_n"]) == (
        "integer",
        "float",
        "integer",
        "integer",
    )


def test_rollups_are_not_points(influx):
    influx.write([point("m", at(10, 5), {"d": "a"}, v=1.5), point("m", at(11, 5), {"d": "b"}, v=2.5)])
    assert influx.count_points() == {"m": 2}
    assert [r.fields for r in influx.read(ReadQuery("m"))] == [{"v": 1.5}, {"v": 2.5}]
    assert [t["name"] for t in influx.list_retention()] == ["short", "default"]
    assert len(units(influx, "m")) == 2


def test_a_live_write_leaves_its_units_to_the_seal_which_records_its_horizon(influx, clock):
    clock.now = at(12)
    influx.write([point("m", at(10, 5), {"d": "a"}, v=1.5)])  # late: its unit now
    assert list(units(influx, "m")) == [((("d", "a"),), us(at(10)))]
    influx.write([point("m", at(11, 5), {"d": "a"}, v=2.5)])  # live: no unit yet
    assert list(units(influx, "m")) == [((("d", "a"),), us(at(10)))]
    assert influx.seal_rollups(at(14)) == {"short": at(12), "default": at(12)}
    assert units(influx, "m")[((("d", "a"),), us(at(11)))] == {
        "count_v": 1,
        "sum_v": 2.5,
        "min_v": 2.5,
        "max_v": 2.5,
    }
    # The horizon is the largest recorded, read by every process; never a measurement.
    url = (
        os.environ["FLEETWATCH_TEST_INFLUXDB_URL"] + "?schema=fleetwatch_test_specific&server_retention=false"
    )
    again = load_backend(url, clock=clock)
    try:
        assert again._stored_horizon("default") == us(at(12))
    finally:
        again.close()
    assert influx.count_points() == {"m": 2}
    assert [t["name"] for t in influx.list_retention()] == ["short", "default"]


def test_a_unit_left_without_points_by_a_delete_goes(influx):
    influx.write(
        [
            point("m", at(10, 5), {"d": "a"}, v=1.0),
            point("m", at(10, 50), {"d": "a"}, v=2.0),
            point("m", at(10, 50), {"d": "b"}, v=4.0),
            point("m", at(12, 5), {"d": "a"}, v=8.0),
        ]
    )
    influx.delete("m", {"d": "a"}, start=at(10), end=at(11, 59))
    assert units(influx, "m") == {
        ((("d", "b"),), us(at(10))): {"count_v": 1, "sum_v": 4, "min_v": 4, "max_v": 4},
        ((("d", "a"),), us(at(12))): {"count_v": 1, "sum_v": 8, "min_v": 8, "max_v": 8},
    }
    # A delete inside an hour keeps the rest of it.
    influx.delete(time=at(12, 5))
    assert units(influx, "m") == {
        ((("d", "b"),), us(at(10))): {"count_v": 1, "sum_v": 4, "min_v": 4, "max_v": 4}
    }
    assert units(influx, "m", "1d") == {
        ((("d", "b"),), us(at(0))): {"count_v": 1, "sum_v": 4, "min_v": 4, "max_v": 4}
    }


def test_a_delete_limited_to_one_tier_keeps_the_other_tiers_rollups(influx):
    influx.write([point("m", at(10, 5), {"d": "a"}, v=1.0)])
    influx.write([point("m", at(10, 10), {"d": "a"}, v=2.0)], retention="short")
    influx.delete(measurement="m", tags={"d": "a"}, retention="short")
    assert units(influx, "m", tier="short") == {}
    assert units(influx, "m") == {
        ((("d", "a"),), us(at(10))): {"count_v": 1, "sum_v": 1, "min_v": 1, "max_v": 1}
    }


def test_purging_a_tier_rewrites_a_longer_tiers_points_of_the_same_range(influx, clock):
    clock.now = at(23, 30, day=21)
    influx.write(
        [point("c", at(22, 10, day=21), v=1.0), point("c", at(22, 50, day=21), v=2.0)], retention="short"
    )
    influx.write([point("c", at(22, 20, day=21), v=5.0), point("c", at(22, 40, day=21), v=7.0)])
    clock.now = at(22, 30, day=22)  # the short tier's floor: 2026-10-21 22:30
    assert influx.enforce_retention() == 1
    assert [r.fields for r in influx.read(ReadQuery("c", retention="short"))] == [{"v": 2.0}]
    assert [r.fields for r in influx.read(ReadQuery("c"))] == [{"v": 5.0}, {"v": 7.0}]
    hour = ((), us(at(22, day=21)))
    assert units(influx, "c", tier="short") == {hour: {"count_v": 1, "sum_v": 2, "min_v": 2, "max_v": 2}}
    assert units(influx, "c") == {hour: {"count_v": 2, "sum_v": 12, "min_v": 5, "max_v": 7}}


def test_a_store_written_before_rollups_gets_them_built_once(influx, clock):
    url = (
        os.environ["FLEETWATCH_TEST_INFLUXDB_URL"] + "?schema=fleetwatch_test_specific&server_retention=false"
    )
    influx.write(
        [point("m", at(10, 5), {"d": "a"}, v=1.5, n=3), point("m", at(11, 5), {"d": "a"}, v=2.5, n=4)]
    )
    influx.http.query('DROP RETENTION POLICY "rollups:default" ON "fleetwatch_test_specific"', database=False)
    later = load_backend(url, clock=clock)
    try:
        query = ChartQuery(
            "m",
            [Aggregate("sum", "n"), Aggregate("mean", "v")],
            at(0),
            at(23, 59, 59, micro=999_999),
            interval="1d",
        )
        assert later.chart(query).series == {"n": [7], "v": [2.0]}
        assert len(units(later, "m")) == 2
        assert units(later, "m", "1d") == {
            ((("d", "a"),), us(at(0))): {
                "count_v": 2,
                "sum_v": 4,
                "min_v": 1.5,
                "max_v": 2.5,
                "count_n": 2,
                "sum_n": 7,
                "min_n": 3,
                "max_n": 4,
            }
        }
    finally:
        later.close()


def test_charts_read_rollups_for_whole_units_and_raw_points_elsewhere(influx, monkeypatch):
    influx.write(
        [point("m", at(h, 5 * i), {"d": "a"}, v=float(i), s="x") for h in range(24) for i in range(12)]
    )
    statements = []
    original = influx.http.query

    def spy(text, database=True):
        statements.append(text)
        return original(text, database)

    monkeypatch.setattr(influx.http, "query", spy)
    query = ChartQuery(
        "m",
        [Aggregate("sum", "v"), Aggregate("count", "s")],
        at(7, 22),
        at(21, 41),
        interval="1d",
        tags={"d": "a"},
    )
    assert influx.chart(query).series == {
        "v": [sum(range(12)) * 13 + sum(range(5, 12)) + sum(range(9))],
        "s": [13 * 12 + 7 + 9],
    }
    [request] = [s for s in statements if isinstance(s, list) and s[0].startswith("SELECT")]
    assert [s.split(" FROM ")[1].split(" ")[0] for s in request] == [
        '"autogen"."m"',
        '"autogen"."m"',
        '"rollups:default"."m:default:1h"',
    ]
    with pytest.raises(FieldTypeError, match="holds strings"):
        influx.chart(ChartQuery("m", [Aggregate("sum", "s")], at(0), at(0, day=21), interval="1d"))
