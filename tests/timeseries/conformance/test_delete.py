"""Deletes: a whole series, a time range of it, one point."""

import pytest

from fleetwatch.timeseries import InvalidQuery, ReadQuery
from tests.timeseries.helpers import at, point

A = {"object_id": "a", "ifname": "wlan0"}
A2 = {"object_id": "a", "ifname": "eth0"}
B = {"object_id": "b", "ifname": "wlan0"}


@pytest.fixture
def data(backend):
    backend.write(
        [point("traffic", at(h), tags, rx_bytes=h) for h in (10, 11, 12) for tags in (A, A2, B)]
        + [point("cpu", at(10), A, cpu_usage=1.0)]
    )
    return backend


def stored(backend, measurement="traffic"):
    return sorted(
        (r.tags["object_id"], r.tags["ifname"], r.time.hour) for r in backend.read(ReadQuery(measurement))
    )


def test_delete_a_series_by_tags(data):
    data.delete(measurement="traffic", tags={"object_id": "a"})
    assert stored(data) == [("b", "wlan0", 10), ("b", "wlan0", 11), ("b", "wlan0", 12)]
    assert len(data.read(ReadQuery("cpu"))) == 1


def test_delete_by_tags_across_measurements(data):
    data.delete(tags={"object_id": "a"})
    assert [t[0] for t in stored(data)] == ["b", "b", "b"]
    assert data.read(ReadQuery("cpu")) == []


def test_delete_a_time_range(data):
    data.delete(measurement="traffic", tags={"ifname": "wlan0"}, start=at(11), end=at(12))
    assert stored(data) == [
        ("a", "eth0", 10),
        ("a", "eth0", 11),
        ("a", "eth0", 12),
        ("a", "wlan0", 10),
        ("b", "wlan0", 10),
    ]


def test_delete_one_point(data):
    data.delete(measurement="traffic", tags={"object_id": "b"}, time=at(11))
    assert ("b", "wlan0", 11) not in stored(data)
    assert len(stored(data)) == 8


def test_a_deleted_series_can_be_written_again(data):
    data.delete(measurement="traffic")
    assert stored(data) == []
    data.write([point("traffic", at(13), A, rx_bytes=1)])
    assert stored(data) == [("a", "wlan0", 13)]


def test_delete_refuses_to_delete_everything_by_accident(data):
    with pytest.raises(InvalidQuery, match="needs a measurement, tags or a time range"):
        data.delete()
    with pytest.raises(InvalidQuery, match="not both"):
        data.delete(measurement="traffic", time=at(10), start=at(9))
    assert len(stored(data)) == 9
