"""InfluxDB 1.x specifics, on the real server: escaping, field types, policies, tier deletes."""

import os

import pytest

from fleetwatch.timeseries import FieldTypeError, InvalidPoint, ReadQuery, load_backend
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
