"""Writes: batching, idempotency, types, precision, back-dated and expired points."""

from datetime import timedelta

import pytest

from fleetwatch.timeseries import InvalidInput, Point, ReadQuery
from tests.timeseries.helpers import at, point


def test_it_writes_and_reads_back_every_field_type(backend):
    backend.write([point("m", at(10), {"host": "a"}, f=1.5, i=7, b=True, s="00:ee:ad:34:f5:3b")])
    [row] = backend.read(ReadQuery("m"))
    assert row.fields == {"f": 1.5, "i": 7, "b": True, "s": "00:ee:ad:34:f5:3b"}
    assert type(row.fields["i"]) is int
    assert type(row.fields["b"]) is bool
    assert row.tags == {"host": "a"}
    assert row.time == at(10)


def test_writing_the_same_point_twice_stores_it_once(backend):
    p = point("m", at(10), {"host": "a"}, v=1.0)
    assert backend.write([p]) == 1
    assert backend.write([p, p]) == 2
    assert backend.count_points() == {"m": 1}
    assert [r.fields for r in backend.read(ReadQuery("m"))] == [{"v": 1.0}]


def test_a_rewrite_replaces_values_and_adds_fields(backend):
    backend.write([point("m", at(10), v=1.0)])
    backend.write([point("m", at(10), v=2.0, w="x")])
    assert [r.fields for r in backend.read(ReadQuery("m"))] == [{"v": 2.0, "w": "x"}]


def test_tag_order_does_not_make_a_new_series(backend):
    backend.write([Point("m", {"v": 1}, at(10), {"a": "1", "b": "2"})])
    backend.write([Point("m", {"v": 2}, at(10), {"b": "2", "a": "1"})])
    assert backend.count_points() == {"m": 1}


def test_microseconds_are_kept_apart(backend):
    # The peer writes one WiFi-client point per MAC, 1 µs apart, to avoid overwrites.
    backend.write([point("w", at(10, micro=i), s=f"mac{i}") for i in range(3)])
    rows = backend.read(ReadQuery("w"))
    assert [r.time.microsecond for r in rows] == [0, 1, 2]
    assert [r.fields["s"] for r in rows] == ["mac0", "mac1", "mac2"]


def test_a_large_batch_is_written_completely(backend):
    base = at(0, day=19)
    points = [
        Point("big", {"a": float(i), "b": i, "c": "x"}, base + timedelta(seconds=i), {"s": str(i % 7)})
        for i in range(12_000)
    ]
    assert backend.write(points) == 12_000
    assert backend.count_points() == {"big": 12_000}
    # Written again (a retried batch): still 12,000 points.
    backend.write(points)
    assert backend.count_points() == {"big": 12_000}


def test_a_batch_holding_the_same_point_twice_keeps_the_last(backend):
    points = [point("m", at(10), v=float(i)) for i in range(3)]
    points += [point("m", at(11) + timedelta(seconds=i), v=1.0) for i in range(3000)]
    backend.write(points)
    first = backend.read(ReadQuery("m", limit=1))
    assert first[0].fields == {"v": 2.0}


def test_back_dated_points_are_stored_at_their_own_time(backend):
    old = backend.now() - timedelta(days=20)
    backend.write([point("m", old, v=1.0)])
    assert backend.read(ReadQuery("m"))[0].time == old


def test_points_older_than_the_tier_keeps_are_dropped_not_failed(backend):
    expired = backend.now() - timedelta(hours=25)
    fresh = backend.now() - timedelta(hours=1)
    kept = backend.write([point("m", expired, v=1.0), point("m", fresh, v=2.0)], retention="short")
    assert kept == 1
    assert backend.count_points() == {"m": 1}


def test_unknown_tier_and_non_points_are_refused(backend):
    with pytest.raises(InvalidInput, match="unknown retention tier 'weekly'"):
        backend.write([point("m", at(10), v=1.0)], retention="weekly")
    with pytest.raises(InvalidInput, match="Point objects"):
        backend.write([{"measurement": "m"}])
    assert backend.count_points() == {}


def test_a_rejected_batch_writes_nothing(backend):
    good = point("m", at(10), v=1.0)
    with pytest.raises(InvalidInput):
        backend.write([good, "not a point"])
    assert backend.count_points() == {}
