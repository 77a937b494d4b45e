"""Elasticsearch specifics, on the real server: documents and ids, mappings, escaping, index
layout and retention, bucket edges in any zone, paging, and agreement with SQLite."""

import os
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.timeseries import (
    Aggregate,
    BackendUnavailable,
    ChartQuery,
    ConfigurationError,
    FieldTypeError,
    Point,
    ReadQuery,
    TopFields,
    load_backend,
)
from fleetwatch.timeseries.backends.elasticsearch import backend as es_backend
from fleetwatch.timeseries.backends.elasticsearch import compiler
from fleetwatch.timeseries.backends.elasticsearch.backend import document_id
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.model import Result, to_micros
from tests.timeseries.conftest import requested_backends
from tests.timeseries.helpers import at, point

pytestmark = pytest.mark.skipif(
    "elasticsearch" not in requested_backends(), reason="FLEETWATCH_TEST_BACKENDS leaves Elasticsearch out"
)

NAMESPACE = "fleetwatch_test_specific"


def server_url() -> str:
    url = os.environ.get("FLEETWATCH_TEST_ELASTICSEARCH_URL")
    if not url:
        pytest.fail("FLEETWATCH_TEST_ELASTICSEARCH_URL is not set: run `make test`", pytrace=False)
    return url


@pytest.fixture
def es(clock):
    backend = load_backend(f"{server_url()}?schema={NAMESPACE}", clock=clock)
    backend.flush()
    yield backend
    backend.flush()
    backend.close()


def indices(es) -> list[str]:
    return es.transport.list_indices(f"{NAMESPACE}-*")


def test_a_point_is_one_document_with_a_deterministic_id_and_a_trimmed_source(es):
    es.write(
        [point("m", at(10, micro=5), {"b": "2", "a": "1"}, v=1.5, n=7, ok=True, mac="00:ee:ad:34:f5:3b")]
    )
    doc_id = document_id("default", "m", '{"a":"1","b":"2"}', to_micros(at(10, micro=5)))
    doc = es.client.get(index=f"{NAMESPACE}-default-m-2026.10.01", id=doc_id).body
    # Only what reads return is stored in _source; the typed copies are indexed, not stored.
    assert doc["_source"] == {
        "m": "m",
        "tags": {"b": "2", "a": "1"},
        "v": {"v": 1.5, "n": 7, "ok": True, "mac": "00:ee:ad:34:f5:3b"},
    }
    es.write([point("device_data", es.now(), {"pk": "a"}, data="{}")], retention="short")
    assert indices(es) == [f"{NAMESPACE}-default-m-2026.10.01", f"{NAMESPACE}-short-d-2026.11.01"]


def test_one_index_template_maps_keyword_tags_and_typed_field_copies(es):
    es.write([point("m", at(10), {"host": "a"}, v=1, s="x")])
    template = es.client.indices.get_index_template(name=NAMESPACE).body["index_templates"][0]
    assert template["index_template"]["index_patterns"] == [f"{NAMESPACE}-*"]
    mapping = es.client.indices.get_mapping(index=f"{NAMESPACE}-*").body
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["tags"]["properties"]["host"]["type"] == "keyword"
    assert properties["n"]["properties"]["v"]["type"] == "double"
    assert properties["s"]["properties"]["s"]["type"] == "keyword"
    assert properties["t"]["type"] == "date_nanos"
    assert properties["v"] == {"type": "object", "enabled": False}


def test_numbers_and_mac_strings_of_one_field_coexist(es):
    es.write([point("w", at(10), x=5), point("w", at(11), x="00:ee:ad:34:f5:3b"), point("w", at(12), x=5.5)])
    assert [r.fields["x"] for r in es.read(ReadQuery("w"))] == [5, "00:ee:ad:34:f5:3b", 5.5]
    assert es.count_distinct(ReadQuery("w"), "x") == 3
    query = ChartQuery("w", [Aggregate("count", "x"), Aggregate("last", "x", "l")], at(10), at(12))
    assert es.summary(query) == {"x": 3, "l": 5.5}
    with pytest.raises(FieldTypeError, match="holds strings"):
        es.summary(ChartQuery("w", [Aggregate("max", "x")], at(10), at(12)))


TRICKY = ["a*", "b?", "quote'single", 'quote"double', "back\\slash", "ünïcødé ✓", "sp ace", "a,b"]


def test_dotted_names_and_tricky_values_round_trip(es):
    # "a" and "a.b" are both leaves (no object/value clash), values are matched literally.
    es.write(
        [
            point("m", at(10, i), {"t": value, "t.sub": "x"}, **{"a": i, "a.b": float(i), "s": value})
            for i, value in enumerate(TRICKY)
        ]
    )
    rows = es.read(ReadQuery("m"))
    assert [r.tags for r in rows] == [{"t": v, "t.sub": "x"} for v in TRICKY]
    assert [r.fields for r in rows] == [{"a": i, "a.b": float(i), "s": v} for i, v in enumerate(TRICKY)]
    assert [r.fields for r in es.read(ReadQuery("m", fields=["a.b"], limit=2))] == [
        {"a.b": 0.0},
        {"a.b": 1.0},
    ]
    for value in TRICKY:
        assert [r.tags["t"] for r in es.read(ReadQuery("m", tags={"t": value}))] == [value]
        assert len(es.read(ReadQuery("m", where=[("s", "=", value)]))) == 1
    assert es.read(ReadQuery("m", tags={"t": "a"})) == []  # "a*" is no wildcard
    chart = ChartQuery("m", [Aggregate("sum", "a.b")], at(10), at(10, 59), group_by="t")
    assert es.summary(chart) == {v: float(i) for i, v in enumerate(TRICKY)}


def test_tier_names_become_valid_index_names(es):
    es.ensure_retention({"default": "90d", "Raw-Data.v2": "7d"})
    es.write([point("m", es.now(), v=1.0)], retention="Raw-Data.v2")
    assert indices(es) == [f"{NAMESPACE}-+raw+h+data.v2-d-2026.11.01"]
    assert es.count_points("Raw-Data.v2") == {"m": 1}
    assert es.read(ReadQuery("m")) == []


def test_a_retried_write_changes_nothing_and_a_rewrite_merges(es):
    p = point("m", at(10), {"h": "a"}, v=1.0, w=2)
    es.write([p])
    doc_id = document_id("default", "m", '{"h":"a"}', to_micros(at(10)))
    index = f"{NAMESPACE}-default-m-2026.10.01"
    seq_no = es.client.get(index=index, id=doc_id)["_seq_no"]
    es.write([p, p])
    assert es.client.get(index=index, id=doc_id)["_seq_no"] == seq_no  # nothing rewritten
    es.write([point("m", at(10), {"h": "a"}, v=3.0, x="new")])
    assert [r.fields for r in es.read(ReadQuery("m"))] == [{"v": 3.0, "w": 2, "x": "new"}]
    query = ChartQuery("m", [Aggregate("sum", "w"), Aggregate("count", "x", "c")], at(10), at(11))
    assert es.summary(query) == {"w": 2, "c": 1}  # the indexed copies follow the merge


def test_strings_too_long_to_index_are_still_stored_and_read(es):
    snapshot = '{"interfaces": [' + ", ".join(f'"eth{i}"' for i in range(3000)) + "]}"
    assert len(snapshot) > 20_000
    es.write([point("device_data", at(10), {"pk": "a"}, data=snapshot)])
    assert es.read(ReadQuery("device_data", fields=["data"]))[0].fields == {"data": snapshot}
    query = ChartQuery(
        "device_data", [Aggregate("count", "data"), Aggregate("last", "data", "l")], at(10), at(11)
    )
    assert es.summary(query) == {"data": 1, "l": snapshot}


def test_mode_ties_are_broken_at_the_microsecond(es):
    es.write([point("w", at(10, micro=1), mac="aa"), point("w", at(10, micro=0), mac="bb")])
    query = ChartQuery("w", [Aggregate("mode", "mac")], at(10), at(10, 59))
    assert es.summary(query) == {"mac": "bb"}
    assert es.chart(query).series == {"mac": ["bb"]}


def test_expired_indices_are_dropped_whole_and_the_straddling_one_trimmed(es, clock):
    clock.now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    times = [datetime(2026, 10, 31, 13, tzinfo=UTC), datetime(2026, 11, 1, 1, tzinfo=UTC), clock.now]
    es.write([point("c", t, v=float(i)) for i, t in enumerate(times)], retention="short")
    es.write([point("c", t, v=float(i)) for i, t in enumerate(times)])
    assert indices(es) == [
        f"{NAMESPACE}-default-m-2026.10.01",
        f"{NAMESPACE}-default-m-2026.11.01",
        f"{NAMESPACE}-short-d-2026.10.31",
        f"{NAMESPACE}-short-d-2026.11.01",
    ]
    clock.now = datetime(2026, 11, 2, 6, tzinfo=UTC)  # floor of "short": 2026-11-01 06:00
    assert es.enforce_retention() == 2
    assert indices(es) == [
        f"{NAMESPACE}-default-m-2026.10.01",
        f"{NAMESPACE}-default-m-2026.11.01",
        f"{NAMESPACE}-short-d-2026.11.01",
    ]
    assert [r.fields for r in es.read(ReadQuery("c", retention="short"))] == [{"v": 2.0}]
    assert es.count_points("default") == {"c": 3}


def test_a_point_stays_in_its_index_when_the_tier_period_changes(es):
    es.write([point("m", at(10, day=30), v=1.0)])  # "default" (3 years): monthly indices
    es.ensure_retention({"short": "24h", "default": "7d"})  # now daily
    es.write([point("m", at(10, day=30), w=2.0), point("m", at(10, day=29), v=3.0)])
    es.write([point("m", at(1, day=1, month=11), v=4.0)])
    assert indices(es) == [f"{NAMESPACE}-default-d-2026.11.01", f"{NAMESPACE}-default-m-2026.10.01"]
    assert es.count_points() == {"m": 3}
    assert [r.fields for r in es.read(ReadQuery("m"))] == [{"v": 3.0}, {"v": 1.0, "w": 2.0}, {"v": 4.0}]


def test_points_of_one_batch_are_routed_by_their_utc_day(es, clock):
    clock.now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    last = datetime(2026, 10, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    first = datetime(2026, 11, 1, tzinfo=UTC)
    es.write([point("d", t, {"k": str(i)}, v=i) for i, t in enumerate([first, last, first, last])], "short")
    es.write([point("d", last, {"k": "9"}, v=9), point("d", clock.now, {"k": "9"}, v=9)], "short")
    assert indices(es) == [f"{NAMESPACE}-short-d-2026.10.31", f"{NAMESPACE}-short-d-2026.11.01"]
    for tags, t in [('{"k":"0"}', first), ('{"k":"1"}', last), ('{"k":"9"}', last), ('{"k":"9"}', clock.now)]:
        doc_id = document_id("short", "d", tags, to_micros(t))
        assert es.client.exists(index=f"{NAMESPACE}-short-d-{t:%Y.%m.%d}", id=doc_id)
    assert es.count_points("short") == {"d": 6}


@pytest.mark.parametrize("zone", ["Europe/Rome", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_bucket_edges_match_bucketing_across_dst_changes(es, clock, zone):
    # Every 7 minutes (µs offsets included) over 13 days holding Rome's and New York's DST ends.
    clock.now = datetime(2026, 11, 5, tzinfo=UTC)
    first = datetime(2026, 10, 22, 0, 3, tzinfo=UTC)
    times = [first + timedelta(minutes=7 * i, microseconds=i % 3) for i in range(13 * 24 * 60 // 7)]
    es.write([point("m", t, v=1) for t in times])
    start, end = datetime(2026, 10, 22, 5, tzinfo=UTC), datetime(2026, 11, 3, 17, 59, tzinfo=UTC)
    for interval in ("10m", "1h", "3h", "1d", "7d"):
        bucketing = Bucketing(interval, zone, start, end)
        expected = Counter(bucketing.key(to_micros(t)) for t in times if start <= t <= end)
        query = ChartQuery("m", [Aggregate("count", "v")], start, end, interval=interval, timezone=zone)
        assert es.chart(query).series["v"] == [expected.get(k, 0) for k in bucketing.keys()], interval


def _fleet(seed: int, n: int) -> list[Point]:
    rnd = random.Random(seed)
    base = datetime(2026, 10, 20, tzinfo=UTC)
    points = []
    for _ in range(n):
        when = base + timedelta(seconds=rnd.randrange(10 * 86400), microseconds=rnd.choice([0, 0, 1]))
        tags = {"dev": rnd.choice("abc")}
        if rnd.random() < 0.7:
            tags["grp"] = rnd.choice(["x", "y", "zz"])
        fields = {"f": rnd.choice([0.5, 1.25, -2.0, 3.0, round(rnd.uniform(-100, 100), 3)])}
        if rnd.random() < 0.8:
            fields["i"] = rnd.randrange(-5, 20)
        if rnd.random() < 0.5:
            fields["b"] = rnd.random() < 0.5
        if rnd.random() < 0.6:
            fields["s"] = rnd.choice(["aa", "bb", "cc", "00:11:22:33:44:55"])
        points.append(Point(rnd.choice(["m1", "m1", "m2"]), fields, when, tags))
    return points


def _close(a, b) -> bool:
    """Equal, types included; floats up to summation order (engines add in different orders)."""
    if isinstance(a, Result):
        return isinstance(b, Result) and _close(
            (a.times, a.series, a.has_data), (b.times, b.series, b.has_data)
        )
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-9)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if hasattr(a, "fields"):
        return (a.time, a.measurement, a.tags) == (b.time, b.measurement, b.tags) and _close(
            a.fields, b.fields
        )
    return a == b


def _queries():
    base = datetime(2026, 10, 20, tzinfo=UTC)
    every = [
        Aggregate(fn, name, f"{fn}_{name}")
        for name in ("f", "i", "b", "s")
        for fn in ("mean", "sum", "count", "count_distinct", "mode", "min", "max", "last")
        if not (name == "s" and fn in ("mean", "sum", "min", "max"))
    ]
    ranges = [
        ("1h", base + timedelta(days=1, hours=5), base + timedelta(days=2, hours=7)),
        ("10m", base + timedelta(days=4, hours=3), base + timedelta(days=4, hours=9)),
        ("1d", base, base + timedelta(days=10)),
        ("7d", base - timedelta(days=3), base + timedelta(days=12)),
    ]
    for zone in ("UTC", "Europe/Rome"):
        for interval, start, end in ranges:
            for tags in (None, {"dev": ["a", "b"]}):
                yield ChartQuery("m1", every, start, end, interval=interval, timezone=zone, tags=tags)
                for agg in every[::3]:
                    yield ChartQuery(
                        "m1", [agg], start, end, interval=interval, timezone=zone, group_by="grp"
                    )
                yield ChartQuery(
                    "m1", [Aggregate("sum", "*")], start, end, interval, zone, top_fields=TopFields(2)
                )


def _reads():
    base = datetime(2026, 10, 20, tzinfo=UTC)
    for measurements in (["m1"], ["m1", "m2"]):
        for fields in ("*", ["s"], ["f", "b"]):
            for where in ((), [("f", ">", 1.0)], [("s", "!=", "aa")], [("b", "=", True), ("i", "<=", 3)]):
                for order, limit in (("asc", None), ("desc", 7)):
                    yield ReadQuery(
                        measurements,
                        fields=fields,
                        where=where,
                        order=order,
                        limit=limit,
                        since=base + timedelta(days=2),
                        until=base + timedelta(days=8),
                    )


def _compare(es, sqlite):
    for query in _queries():
        chart, summary = es.chart(query), es.summary(query)
        assert _close(chart, sqlite.chart(query)), query
        assert _close(summary, sqlite.summary(query)), query
        # (Not compared with SQL's chart_and_summary: it sums per-bucket sums of booleans,
        # True + True = 2, where its summary() says True.) Float totals up to summation order:
        # from rollups, a summary adds whole days and a chart's total adds its buckets.
        assert _close(es.chart_and_summary(query), (chart, summary)), query
    for query in _reads():
        assert _close(es.read(query), sqlite.read(query)), query
        for name in ("f", "i", "b", "s"):
            assert es.count_distinct(query, name) == sqlite.count_distinct(query, name), (query, name)
    assert es.count_points() == sqlite.count_points()


@pytest.fixture
def es_and_sqlite(es, clock, tmp_path):
    clock.now = datetime(2026, 11, 5, tzinfo=UTC)
    sqlite = load_backend({"BACKEND": "sqlite", "NAME": str(tmp_path / "ts.db")}, clock=clock)
    points = _fleet(seed=7, n=1500)
    for backend in (es, sqlite):
        backend.write(points)
    yield es, sqlite
    sqlite.close()


def test_every_query_shape_agrees_with_sqlite(es_and_sqlite):
    es, sqlite = es_and_sqlite
    _compare(es, sqlite)
    for backend in (es, sqlite):
        backend.delete(measurement="m1", tags={"dev": "a"}, start=at(0, day=23), end=at(0, day=26))
        backend.delete(tags={"grp": "x"})
    _compare(es, sqlite)


def test_results_larger_than_one_response_are_paged(es_and_sqlite, monkeypatch):
    es, sqlite = es_and_sqlite
    monkeypatch.setattr(compiler, "COMPOSITE_PAGE", 40)
    monkeypatch.setattr(compiler, "MAX_HISTOGRAM_BUCKETS", 3)  # composite buckets, no histogram
    monkeypatch.setattr(es_backend, "READ_PAGE", 30)
    _compare(es, sqlite)


def test_an_unreachable_server_is_reported_and_fails_writes():
    backend = load_backend("elasticsearch://127.0.0.1:9/nowhere?timeout=2")
    health = backend.health()
    assert health["reachable"] is False
    assert "127.0.0.1:9" in health["error"]
    with pytest.raises(BackendUnavailable):
        backend.write([point("m", at(10), v=1.0)])
    with pytest.raises(BackendUnavailable):
        backend.read(ReadQuery("m"))


def test_settings_are_checked(clock):
    with pytest.raises(ConfigurationError, match="invalid Elasticsearch namespace 'Fleet-Watch'"):
        load_backend("elasticsearch://127.0.0.1:9200/Fleet-Watch")
    backend = load_backend(f"{server_url()}?schema={NAMESPACE}&ilm=true", clock=clock)
    if not any(m.get("name") == "x-pack-ilm" for m in backend.transport.node().get("modules", [])):
        with pytest.raises(ConfigurationError, match="no ILM"):
            backend.write([point("m", at(10), v=1.0)])
    backend.close()


def test_reads_side_by_side_right_after_a_write_all_see_it(es):
    """A chart page runs its queries on several threads: each must see the report just written,
    even when another thread's refresh is still in flight."""
    from concurrent.futures import ThreadPoolExecutor

    from fleetwatch.timeseries import ReadQuery

    with ThreadPoolExecutor(4) as pool:
        for round_ in range(15):
            moment = at(10, round_)
            es.write([point(f"m{i}", moment, {"host": "a"}, v=float(round_)) for i in range(4)])
            seen = list(pool.map(lambda i, since=moment: es.read(ReadQuery(f"m{i}", since=since)), range(4)))
            assert [len(rows) for rows in seen] == [1, 1, 1, 1], f"round {round_}"


def test_a_retention_reaching_before_1970_still_reads_and_earlier_points_are_refused(es):
    from datetime import UTC, datetime

    from fleetwatch.timeseries import InvalidPoint, ReadQuery

    es.ensure_retention({"default": "36500d", "short": "24h"})  # a century: the floor is in 1926
    es.write([point("m", at(10), v=1.0)])
    assert [r.fields for r in es.read(ReadQuery("m"))] == [{"v": 1.0}]
    assert es.enforce_retention() == 0
    with pytest.raises(InvalidPoint, match="from 1970-01-01 on"):
        es.write([point("m", datetime(1969, 12, 31, tzinfo=UTC), v=1.0)])
