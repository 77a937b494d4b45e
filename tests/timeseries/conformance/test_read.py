"""Raw reads: fields, measurements, tags, time bounds, comparisons, order, limit, distinct."""

import pytest

from fleetwatch.timeseries import ReadQuery, Where
from tests.timeseries.helpers import at, point

A = {"object_id": "a", "ifname": "wlan0"}
B = {"object_id": "b", "ifname": "wlan0"}


@pytest.fixture
def data(backend):
    backend.write(
        [
            point("ping", at(10), A, reachable=1, loss=0.0),
            point("ping", at(11), A, reachable=0, loss=100.0),
            point("ping", at(12), A, reachable=1, loss=20.0),
            point("ping", at(13), A, reachable=1, loss=40.0),
            point("ping", at(11), B, reachable=1, loss=5.0),
            point("cpu", at(11, 30), A, cpu_usage=12.5, load_1=0.25),
            point("wifi", at(10), A, clients="aa"),
            point("wifi", at(10, micro=1), A, clients="bb"),
            point("wifi", at(11), A, clients="aa"),
            point("wifi", at(12), B, clients="cc"),
        ]
    )
    return backend


def times(rows):
    return [(r.time.hour, r.time.minute) for r in rows]


def test_all_fields_of_a_measurement(data):
    rows = data.read(ReadQuery("ping", tags={"object_id": "a"}))
    assert times(rows) == [(10, 0), (11, 0), (12, 0), (13, 0)]
    assert rows[1].fields == {"reachable": 0, "loss": 100.0}
    assert rows[1]["loss"] == 100.0
    assert rows[1].measurement == "ping"


def test_selected_fields_only(data):
    rows = data.read(ReadQuery("cpu", fields=["load_1"]))
    assert [r.fields for r in rows] == [{"load_1": 0.25}]
    assert data.read(ReadQuery("cpu", fields=["missing"])) == []


def test_several_measurements_at_once(data):
    rows = data.read(ReadQuery(["cpu", "ping"], tags={"object_id": "a"}, since=at(11), until=at(12)))
    assert [(r.measurement, r.time.hour, r.time.minute) for r in rows] == [
        ("ping", 11, 0),
        ("cpu", 11, 30),
        ("ping", 12, 0),
    ]


def test_tag_filters_take_a_value_or_a_list(data):
    assert len(data.read(ReadQuery("ping", tags={"object_id": "b"}))) == 1
    assert len(data.read(ReadQuery("ping", tags={"object_id": ["a", "b"]}))) == 5
    assert len(data.read(ReadQuery("ping", tags={"object_id": "a", "ifname": "eth0"}))) == 0
    assert len(data.read(ReadQuery("ping", tags={"nosuchtag": "x"}))) == 0


def test_since_and_until_are_inclusive(data):
    rows = data.read(ReadQuery("ping", tags={"object_id": "a"}, since=at(11), until=at(12)))
    assert times(rows) == [(11, 0), (12, 0)]


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("=", 20.0, [12]),
        ("!=", 20.0, [10, 11, 13]),
        ("<", 20.0, [10]),
        (">", 20.0, [11, 13]),
        ("<=", 20.0, [10, 12]),
        (">=", 40, [11, 13]),
    ],
)
def test_where_comparisons(data, op, value, expected):
    rows = data.read(ReadQuery("ping", tags={"object_id": "a"}, where=[Where("loss", op, value)]))
    assert [r.time.hour for r in rows] == expected


def test_where_on_strings_and_several_conditions(data):
    rows = data.read(ReadQuery("wifi", where=[("clients", "=", "aa")]))
    assert times(rows) == [(10, 0), (11, 0)]
    rows = data.read(ReadQuery("wifi", where=[("clients", "!=", "aa")]))
    assert [r.fields["clients"] for r in rows] == ["bb", "cc"]
    rows = data.read(
        ReadQuery("ping", tags={"object_id": "a"}, where=[("loss", ">", 10), ("reachable", "=", 1)])
    )
    assert [r.time.hour for r in rows] == [12, 13]


def test_order_and_limit(data):
    newest = data.read(ReadQuery("ping", tags={"object_id": "a"}, order="desc", limit=2))
    assert [r.time.hour for r in newest] == [13, 12]
    oldest = data.read(ReadQuery("ping", tags={"object_id": "a"}, order="asc", limit=1))
    assert [r.time.hour for r in oldest] == [10]


def test_threshold_evaluation_pattern_is_bounded(data):
    # "two points since 11:00 where loss > 10, oldest first": what tolerant alerts ask.
    rows = data.read(
        ReadQuery("ping", tags={"object_id": "a"}, since=at(11), where=[("loss", ">", 10)], limit=2)
    )
    assert [r.time.hour for r in rows] == [11, 12]


def test_ties_in_time_are_ordered_by_measurement_then_tags(data):
    rows = data.read(ReadQuery("ping", since=at(11), until=at(11)))
    assert [r.tags["object_id"] for r in rows] == ["a", "b"]
    rows = data.read(ReadQuery("ping", since=at(11), until=at(11), order="desc"))
    assert [r.tags["object_id"] for r in rows] == ["b", "a"]


def test_count_distinct_is_exact(data):
    assert data.count_distinct(ReadQuery("wifi"), "clients") == 3
    assert data.count_distinct(ReadQuery("wifi", tags={"object_id": "a"}), "clients") == 2
    assert data.count_distinct(ReadQuery("wifi", since=at(10, 30)), "clients") == 2
    assert data.count_distinct(ReadQuery("ping", where=[("loss", "<", 30)]), "loss") == 3
    assert data.count_distinct(ReadQuery("wifi"), "nosuchfield") == 0


def test_count_distinct_of_many_values(backend):
    backend.write(
        [point("w", at(10, micro=i), mac=f"02:00:00:00:{i // 256:02x}:{i % 256:02x}") for i in range(5000)]
    )
    backend.write(
        [point("w", at(11, micro=i), mac=f"02:00:00:00:{i // 256:02x}:{i % 256:02x}") for i in range(100)]
    )
    assert backend.count_distinct(ReadQuery("w"), "mac") == 5000


def test_nothing_to_read(backend):
    assert backend.read(ReadQuery("nothing")) == []
    assert backend.count_distinct(ReadQuery("nothing"), "x") == 0


def test_a_consistent_read_sees_what_another_process_wrote(backend):
    """Another process (here another instance on its own connections) wrote a point and had it
    acknowledged: a ``consistent`` read sees it at once (ingestion places late readings so)."""
    from fleetwatch.timeseries import load_backend

    other = load_backend(backend.config, clock=backend.clock)
    try:
        backend.read(ReadQuery("traffic", tags=A))  # this instance has nothing of its own to refresh
        other.write([point("traffic", at(10), A, rx_counter=5, rx_bytes=5)])
        rows = backend.read(
            ReadQuery("traffic", tags=A, until=at(11), order="desc", limit=1, consistent=True)
        )
        assert [(r.time, r.fields) for r in rows] == [(at(10), {"rx_counter": 5, "rx_bytes": 5})]
    finally:
        other.close()
