"""InfluxDB 2.x specifics, on the real server: escaping, names, field types, buckets, deletes,
and write errors (4xx dropped or refused, 5xx retried) against a scripted stand-in server."""

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleetwatch.timeseries import (
    Aggregate,
    BackendUnavailable,
    ChartQuery,
    FieldTypeError,
    InvalidPoint,
    ReadQuery,
    TimeseriesError,
    load_backend,
)
from tests.timeseries.conftest import requested_backends
from tests.timeseries.helpers import at, point

pytestmark = pytest.mark.skipif(
    "influxdb2" not in requested_backends(), reason="FLEETWATCH_TEST_BACKENDS leaves InfluxDB 2.x out"
)


def url() -> str:
    value = os.environ.get("FLEETWATCH_TEST_INFLUXDB2_URL")
    if not value:
        pytest.fail(
            "FLEETWATCH_TEST_INFLUXDB2_URL is not set: start the server with "
            "`bash scripts/services/influxdb2.sh start`",
            pytrace=False,
        )
    return value


def with_options(base: str, options: str) -> str:
    return base + ("&" if "?" in base else "?") + options


@pytest.fixture
def influx(clock):
    backend = load_backend(
        with_options(url(), "schema=fleetwatch_test_specific&server_retention=false"), clock=clock
    )
    backend.flush()
    yield backend
    backend.flush()
    backend.close()


TRICKY = [
    "a,b=c d",
    "quote'single",
    'quote"double',
    "back\\slash",
    "ünïcødé ✓",
    "x' OR '1'='1",
    '" or r._measurement != "',
    "${r._value}",
    "and",
]


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
    # Injection attempts match nothing instead of everything.
    assert influx.read(ReadQuery("m", tags={"t": 'nothing" or r._measurement != "'})) == []
    assert influx.read(ReadQuery("m", where=[("s", "=", 'x" or true or "')])) == []
    assert influx.count_distinct(ReadQuery("m", tags={"t": '" or true or "'}), "s") == 0
    # Deletes by tag value (the delete API's own quoting) remove exactly that series.
    for value in TRICKY[:5]:
        influx.delete(measurement="m", tags={"t": value})
    assert [r.tags["t"] for r in influx.read(ReadQuery("m"))] == TRICKY[5:]


def test_a_tag_value_line_protocol_cannot_carry_is_refused_before_writing(influx):
    with pytest.raises(InvalidPoint, match="cannot carry"):
        influx.write([point("m", at(10), v=1.0), point("m", at(11), {"t": "ends with\\"}, v=1.0)])
    assert influx.count_points() == {}


@pytest.mark.parametrize(
    ("tags", "fields", "message"),
    [
        ({"_field": "x"}, {"v": 1.0}, "tag name '_field'"),
        ({"_start": "x"}, {"v": 1.0}, "tag name '_start'"),
        ({"time": "x"}, {"v": 1.0}, "tag name 'time'"),
        ({}, {"_value": 1.0}, "field name '_value'"),
        ({}, {"time": 1.0}, "field name 'time'"),
    ],
)
def test_names_flux_reserves_are_refused(influx, tags, fields, message):
    with pytest.raises(InvalidPoint, match=message):
        influx.write([point("m", at(9), v=1.0), point("m", at(10), tags, **fields)])
    assert influx.count_points() == {}


def test_field_types_are_kept_and_converted_only_without_loss(influx):
    influx.write([point("m", at(10), v=1.5, n=2, b=True, s="x")])
    influx.write([point("m", at(11), v=3, n=4.0)])  # int into a float field, whole float into an int field
    rows = influx.read(ReadQuery("m"))
    assert [r.fields for r in rows] == [{"v": 1.5, "n": 2, "b": True, "s": "x"}, {"v": 3.0, "n": 4}]
    assert [type(r.fields["v"]) for r in rows] == [float, float]
    assert [type(r.fields["n"]) for r in rows] == [int, int]
    with pytest.raises(FieldTypeError, match=r"m\.n holds integer values in InfluxDB"):
        influx.write([point("m", at(12), v=1.0), point("m", at(13), n=4.5)])
    assert influx.count_points() == {"m": 2}  # nothing of the refused batch was written


def test_a_type_conflict_found_by_the_server_is_a_field_type_error(influx, clock):
    influx.write([point("m", at(10), v=1.5)])
    other = load_backend(
        with_options(url(), "schema=fleetwatch_test_specific&server_retention=false"), clock=clock
    )
    try:
        other.write([point("m", at(11), w="text")])
        # Our cache does not know w yet: the server refuses, and says why.
        with pytest.raises(FieldTypeError, match="field type conflict"):
            influx.write([point("m", at(12), w=2.5)])
    finally:
        other.close()


def test_one_point_is_deleted_and_its_neighbours_kept(influx):
    influx.write([point("m", at(10, micro=i), {"d": "a"}, v=float(i)) for i in range(3)])
    influx.delete(measurement="m", tags={"d": "a"}, time=at(10, micro=1))
    assert [r.time.microsecond for r in influx.read(ReadQuery("m"))] == [0, 2]
    influx.delete(measurement="m", start=at(10), end=at(10, micro=2))  # both ends inclusive
    assert influx.read(ReadQuery("m")) == []


def test_a_tag_filter_with_several_values_deletes_every_combination(influx):
    influx.write(
        [point("m", at(10), {"a": a, "b": b}, v=1.0) for a in ("1", "2", "3") for b in ("x", "y", "z")]
    )
    influx.delete(tags={"a": ["1", "2"], "b": ["x", "y"]})
    left = sorted((r.tags["a"], r.tags["b"]) for r in influx.read(ReadQuery("m")))
    assert left == [("1", "z"), ("2", "z"), ("3", "x"), ("3", "y"), ("3", "z")]


def test_a_delete_limited_to_one_tier_keeps_the_other_tiers(influx):
    influx.write([point("m", at(10), {"d": "a"}, v=1.0)])
    influx.write([point("m", at(10), {"d": "a"}, v=2.0)], retention="short")
    influx.delete(measurement="m", tags={"d": "a"}, retention="short")
    assert influx.read(ReadQuery("m", retention="short")) == []
    assert [r.fields for r in influx.read(ReadQuery("m"))] == [{"v": 1.0}]


def test_count_points_counts_points_not_field_values(influx):
    influx.write([point("m", at(10), {"d": "a"}, v=1.0), point("m", at(11), {"d": "a"}, w=2.0)])
    influx.write([point("m", at(11), {"d": "a"}, v=3.0), point("k", at(11), {"d": "b"}, v=1.0, w=1.0)])
    assert influx.count_points() == {"m": 2, "k": 1}


@pytest.mark.parametrize(
    ("zone", "first_day"),
    [
        ("Europe/Rome", (2026, 10, 10)),  # 25-hour day on 2026-10-25
        ("America/New_York", (2026, 10, 20)),  # 2026-11-01
        ("Australia/Lord_Howe", (2026, 9, 20)),  # half an hour forward on 2026-10-04
        ("America/Santiago", (2026, 8, 25)),  # midnight skipped on 2026-09-06
        ("Asia/Kolkata", (2026, 10, 10)),  # +05:30, no DST
    ],
)
def test_buckets_match_sqlite_across_dst_changes(influx, clock, zone, first_day):
    start = datetime(*first_day, 5, 17, tzinfo=UTC)
    points = [
        point("m", start + timedelta(minutes=30 * i), {"d": "a"}, v=float(i % 7)) for i in range(48 * 30)
    ]
    sqlite = load_backend({"BACKEND": "sqlite", "NAME": ":memory:"}, clock=clock)
    for backend in (influx, sqlite):
        backend.write(points)
    aggregates = [Aggregate("count", "v", "n"), Aggregate("sum", "v", "s"), Aggregate("max", "v", "x")]
    for interval, days in (("1d", 30), ("7d", 30), ("2d", 30), ("1h", 3), ("3h", 6)):
        for offset in (0, 12):
            begin = start + timedelta(days=offset)
            query = ChartQuery(
                "m", aggregates, begin, begin + timedelta(days=days), interval=interval, timezone=zone
            )
            assert influx.chart_and_summary(query) == sqlite.chart_and_summary(query), (interval, offset)
    sqlite.close()


def buckets_of(backend, namespace):
    api = backend.client.buckets_api()
    return {
        b.name: b
        for b in api.find_buckets_iter(org=backend.org)
        if b.name.split(":")[0] == namespace or b.name.startswith(namespace + "_")
    }


def test_tiers_are_buckets_with_retention_rules(clock):
    backend = load_backend(with_options(url(), "schema=fleetwatch_test_buckets"), clock=clock)
    try:
        backend.flush()
        backend.ensure_retention({"short": "24h", "default": "26280h", "year": "365d"})
        buckets = buckets_of(backend, "fleetwatch_test_buckets")
        # Each tier has a bucket and two rollup buckets (hourly, daily), which keep a day more.
        every = {name: bucket.retention_rules[0].every_seconds for name, bucket in buckets.items()}
        assert every == {
            "fleetwatch_test_buckets": 26280 * 3600,
            "fleetwatch_test_buckets:1h": 26280 * 3600 + 86400,
            "fleetwatch_test_buckets:1d": 26280 * 3600 + 86400,
            "fleetwatch_test_buckets_short": 86400,
            "fleetwatch_test_buckets_short:1h": 2 * 86400,
            "fleetwatch_test_buckets_short:1d": 2 * 86400,
            "fleetwatch_test_buckets_year": 365 * 86400,
            "fleetwatch_test_buckets_year:1h": 366 * 86400,
            "fleetwatch_test_buckets_year:1d": 366 * 86400,
        }
        # A changed duration is applied to the existing buckets.
        backend.ensure_retention({"short": "12h", "default": "26280h"})
        buckets = buckets_of(backend, "fleetwatch_test_buckets")
        assert buckets["fleetwatch_test_buckets_short"].retention_rules[0].every_seconds == 43200
        assert buckets["fleetwatch_test_buckets_short:1d"].retention_rules[0].every_seconds == 43200 + 86400
        # flush() removes every bucket of the namespace, including a tier no longer configured.
        backend.flush()
        assert buckets_of(backend, "fleetwatch_test_buckets") == {}
    finally:
        backend.flush()
        backend.close()


def test_without_server_retention_buckets_keep_data_forever(influx):
    influx.ensure_retention({"short": "24h", "default": "26280h"})
    buckets = buckets_of(influx, "fleetwatch_test_specific")
    assert {b.retention_rules[0].every_seconds for b in buckets.values()} == {0}


def test_points_the_server_expires_are_dropped_without_failing():
    # Our clock runs three hours behind the server's: to us the point is fresh, to the
    # server (short tier of one hour) it is two hours old and outside retention.
    real_now = datetime.now(UTC)
    backend = load_backend(
        with_options(url(), "schema=fleetwatch_test_expiry&retention_short=1h"),
        clock=lambda: real_now - timedelta(hours=3),
    )
    try:
        backend.flush()
        kept = backend.write(
            [point("m", real_now - timedelta(hours=2), v=1.0), point("m", real_now, v=2.0)], retention="short"
        )
        assert kept == 2  # both passed our own floor
        assert backend.count_points(retention="short") == {"m": 1}  # the server kept the fresh one
    finally:
        backend.flush()
        backend.close()


def test_an_unreachable_server_is_reported_and_fails_writes():
    backend = load_backend("influxdb2://token@127.0.0.1:9/fleetwatch?org=fleetwatch&timeout=2")
    health = backend.health()
    assert health["reachable"] is False
    assert "unreachable" in health["error"]
    with pytest.raises(BackendUnavailable):
        backend.write([point("m", at(10), v=1.0)])
    with pytest.raises(BackendUnavailable):
        backend.read(ReadQuery("m"))
    backend.close()


# ------------------------------------------------------------------ write errors, scripted


class Scripted(BaseHTTPRequestHandler):
    """Answers each POST /api/v2/write with the next scripted (status, message)."""

    script: list[tuple[int, str]] = []
    writes: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).writes.append(body)
        status, message = type(self).script.pop(0) if type(self).script else (204, "")
        payload = json.dumps({"code": "x", "message": message}).encode() if status != 204 else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Scripted.script, Scripted.writes = [], []
    backend = load_backend(
        f"influxdb2://token@127.0.0.1:{server.server_port}/b?org=o&retry_interval=0.01&write_retries=2"
    )
    backend.server._org_id = "0123456789abcdef"  # no organization lookup: only writes reach this server
    yield backend, Scripted
    backend.close()
    server.shutdown()
    server.server_close()


def test_a_5xx_answer_is_retried(scripted):
    backend, server = scripted
    server.script = [(503, "busy"), (500, "internal error")]
    backend._post("b", b"m v=1 1")
    assert server.writes == [b"m v=1 1"] * 3


def test_a_5xx_answer_that_persists_is_backend_unavailable(scripted):
    backend, server = scripted
    server.script = [(503, "busy")] * 3
    with pytest.raises(BackendUnavailable, match="503 to a write 3 times: busy"):
        backend._post("b", b"m v=1 1")
    assert len(server.writes) == 3


def test_points_outside_retention_are_dropped_and_other_4xx_refused(scripted):
    backend, server = scripted
    server.script = [(422, "partial write: dropped 1 points outside retention policy of duration 1h0m0s")]
    backend._post("b", b"m v=1 1")
    server.script = [(400, "unable to parse 'm v=': missing field value")]
    with pytest.raises(TimeseriesError, match="refused the write \\(400\\): unable to parse"):
        backend._post("b", b"m v=")
    assert len(server.writes) == 2  # neither was retried
