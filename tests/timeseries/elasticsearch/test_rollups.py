"""Elasticsearch rollups on the real server: documents of their own that reads never see, units
recomputed (or removed) on writes, deletes and retention, built once for an older store, stale
recomputations that lose, and charts answered in one multi-search."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.timeseries import Aggregate, ChartQuery, ReadQuery, load_backend
from fleetwatch.timeseries.backends.elasticsearch import backend as es_backend
from fleetwatch.timeseries.backends.elasticsearch import downsample
from fleetwatch.timeseries.backends.elasticsearch.transport import Transport
from fleetwatch.timeseries.model import to_micros
from tests.timeseries.conftest import requested_backends
from tests.timeseries.elasticsearch.test_elasticsearch import server_url
from tests.timeseries.helpers import at, point

pytestmark = pytest.mark.skipif(
    "elasticsearch" not in requested_backends(), reason="FLEETWATCH_TEST_BACKENDS leaves Elasticsearch out"
)

NAMESPACE = "fleetwatch_test_rollups"
HOUR_MS = 3_600_000
ROLLUPS = f"{NAMESPACE}.rollups-default-m-2026.10.01"


@pytest.fixture
def es(clock):
    backend = load_backend(f"{server_url()}?schema={NAMESPACE}", clock=clock)
    backend.flush()
    yield backend
    backend.flush()
    backend.close()


def stored(es, step: str, start: datetime, tags: dict | None = None, measurement: str = "m"):
    """The stored rollup document of one series and unit (its ``_source``), or None."""
    series_key = es._series_key(tags or {})
    doc_id = downsample.document_id("default", step, measurement, series_key, int(start.timestamp() * 1000))
    found = es.client.options(ignore_status=404).get(index=ROLLUPS, id=doc_id).body
    return found["_source"] if found.get("found") else None


def unit(es, step: str, start: datetime, field: str, tags: dict | None = None, measurement: str = "m"):
    """One field's partials in a stored unit (``c``, ``k``, ``sum``, ``min``, ``max``), or None."""
    doc = stored(es, step, start, tags, measurement)
    if doc is None or field not in doc["c"]:
        return None
    found = {
        "c": doc["c"][field],
        "k": [k.rpartition(":")[2] for k in doc["k"] if k.rpartition(":")[0] == field],
    }
    found.update({part: doc[part][field] for part in ("sum", "min", "max") if field in doc.get(part, {})})
    return found


def test_units_are_documents_of_their_own_that_reads_never_see(es):
    es.write([point("m", at(10, 5), {"h": "a"}, v=1.5, n=3), point("m", at(10, 35), {"h": "a"}, v=2.5, n=4)])
    es.write([point("m", at(11), {"h": "a"}, n=10, s="x")])
    assert stored(es, "1h", at(10), {"h": "a"}) == {
        "m": "m",
        "sk": '{"h":"a"}',
        "p": "1h",
        "t": int(at(10).timestamp() * 1000),
        "tags": {"h": "a"},
        "k": ["n:i", "v:f"],
        "c": {"n": 2, "v": 2},
        "sum": {"n": 7.0, "v": 4.0},
        "min": {"n": 3.0, "v": 1.5},
        "max": {"n": 4.0, "v": 2.5},
    }
    day = unit(es, "1d", at(0), "n", {"h": "a"})
    assert (day["c"], day["k"], day["sum"], day["min"], day["max"]) == (3, ["i"], 17.0, 3.0, 10.0)
    strings = unit(es, "1d", at(0), "s", {"h": "a"})
    assert (strings["c"], strings["k"], "sum" in strings) == (1, ["s"], False)
    # Outside the namespace's point indices: no read, count or listing shows them.
    assert es.transport.list_indices(f"{NAMESPACE}-*") == [f"{NAMESPACE}-default-m-2026.10.01"]
    assert es.count_points() == {"m": 3}
    assert len(es.read(ReadQuery("m"))) == 3
    es.flush()
    assert es.transport.list_indices(downsample.pattern(NAMESPACE)) == []


def test_a_unit_left_without_points_loses_its_document(es):
    es.write([point("m", at(10, 5), v=1.0), point("m", at(10, 50), v=2.0), point("m", at(12), v=4.0)])
    es.delete("m", start=at(10), end=at(10, 59))
    assert unit(es, "1h", at(10), "v") is None
    assert unit(es, "1h", at(12), "v")["c"] == 1
    assert unit(es, "1d", at(0), "v")["sum"] == 4.0
    es.delete("m", time=at(12))
    assert (unit(es, "1h", at(12), "v"), unit(es, "1d", at(0), "v")) == (None, None)
    es.write([point("m", at(9), v=8.0), point("m", at(9, 30), v=9.0)])
    es.delete("m", time=at(9))  # one point of a unit: the unit is recomputed
    assert unit(es, "1h", at(9), "v")["sum"] == 9.0
    assert unit(es, "1d", at(0), "v")["c"] == 1


def test_retention_drops_whole_months_of_units_and_rebuilds_the_cut_ones(es, clock):
    es.write([point("m", at(10, day=1, month=9), v=1.0)])
    es.write([point("m", at(h, 10 * k), v=float(h)) for h in (9, 10, 11) for k in range(6)])
    assert es.transport.list_indices(downsample.pattern(NAMESPACE)) == [
        f"{NAMESPACE}.rollups-default-m-2026.09.01",
        ROLLUPS,
    ]
    clock.now = at(10, 30) + timedelta(hours=727)
    es.ensure_retention({"default": "727h"})
    assert es.enforce_retention() == 10  # September's point and 10:00–10:20, 9:00–9:50
    assert es.transport.list_indices(downsample.pattern(NAMESPACE)) == [ROLLUPS]
    assert unit(es, "1h", at(9), "v") is None
    assert (unit(es, "1h", at(10), "v")["c"], unit(es, "1h", at(11), "v")["c"]) == (3, 6)
    assert unit(es, "1d", at(0), "v")["c"] == 9


def test_rollups_are_built_once_for_a_store_written_before_them(es, clock):
    es.write([point("m", at(h), {"h": "a"}, n=h) for h in range(24)])
    # As if written by a version without rollups: no rollup template, no rollup documents.
    es.transport.delete_indices(es.transport.list_indices(downsample.pattern(NAMESPACE)))
    es.client.indices.delete_index_template(name=f"{NAMESPACE}.rollups")
    reader = load_backend(f"{server_url()}?schema={NAMESPACE}", clock=clock)
    try:
        query = ChartQuery("m", [Aggregate("sum", "n")], at(0), at(23, 59), interval="1d")
        assert reader.chart(query).series == {"n": [276]}  # read from the rebuilt daily unit
        assert unit(reader, "1d", at(0), "n", {"h": "a"})["sum"] == 276.0
        template = reader.client.indices.get_index_template(name=f"{NAMESPACE}.rollups").body
        assert template["index_templates"][0]["index_template"]["_meta"]["built"] is True
    finally:
        reader.close()
    # Rollups of an older shape (another template version) are dropped and built again.
    old = downsample.template(NAMESPACE) | {"version": downsample.TEMPLATE_VERSION - 1}
    old["_meta"]["built"] = True
    es.client.indices.put_index_template(name=f"{NAMESPACE}.rollups", body=old)
    es.client.index(index=f"{NAMESPACE}.rollups-default-m-2026.01.01", id="stale", document={"m": "m"})
    reader = load_backend(f"{server_url()}?schema={NAMESPACE}", clock=clock)
    try:
        assert reader.summary(query) == {"n": 276}
        assert reader.transport.list_indices(downsample.pattern(NAMESPACE)) == [ROLLUPS]
        template = reader.client.indices.get_index_template(name=f"{NAMESPACE}.rollups").body
        assert template["index_templates"][0]["index_template"]["version"] == downsample.TEMPLATE_VERSION
    finally:
        reader.close()


def test_a_recomputation_that_read_earlier_never_overwrites_a_later_one(es, monkeypatch):
    es.write([point("m", at(10), v=1.0)])
    # A writer whose read came before the stored unit's: its result is refused, not stored.
    monkeypatch.setattr(es_backend.time, "time_ns", lambda: 1)
    es.write([point("m", at(10, 30), v=2.0)])
    assert unit(es, "1h", at(10), "v")["c"] == 1
    monkeypatch.undo()
    es.write([point("m", at(10, 45), v=4.0)])
    assert unit(es, "1h", at(10), "v")["sum"] == 7.0


def test_a_year_long_chart_is_one_multi_search(es, monkeypatch):
    es.write(
        [point("m", datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=30 * i), v=1.0) for i in range(500)]
    )
    calls = []
    for name in ("search", "msearch"):
        original = getattr(Transport, name)
        monkeypatch.setattr(
            Transport, name, lambda self, *a, _o=original, _n=name: calls.append(_n) or _o(self, *a)
        )
    query = ChartQuery(
        "m",
        [Aggregate("count", "v"), Aggregate("sum", "v", "s")],
        start=datetime(2025, 11, 1, 18, 30, tzinfo=UTC),
        end=datetime(2026, 10, 31, 18, 29, tzinfo=UTC),
        interval="7d",
        timezone="Asia/Kolkata",  # half-hour zone: raw fragments at every bucket edge
    )
    result = es.chart(query)
    assert calls == ["msearch"]
    assert sum(result.series["v"]) == 500
    assert sum(v for v in result.series["s"] if v is not None) == 500.0


def test_recomputations_and_charts_page_through_many_buckets(es, monkeypatch):
    monkeypatch.setattr(downsample, "MAX_BUCKETS", 20)  # 2 buckets a page with 1 field, 1 with 2
    points = [
        point("m", at(h, 7 * k, day=d), {"host": f"h{s}"}, n=h * k + s, v=0.5 * k)
        for d in (19, 20)
        for h in (22, 23, 0, 1)
        for k in range(3)
        for s in range(3)
    ]
    es.write(points)
    query = ChartQuery(
        "m",
        [Aggregate("sum", "n")],
        start=at(0, day=19),
        end=at(23, 59, day=20),
        interval="1d",
        group_by="host",
    )
    rolled = es.chart(query)
    es.use_rollups = False
    assert rolled.series == es.chart(query).series
    es.use_rollups = True
    expected = {f"h{s}": sum(p.fields["n"] for p in points if p.tags["host"] == f"h{s}") for s in range(3)}
    assert es.summary(query) == expected
    assert unit(es, "1d", at(0, day=20), "v", {"host": "h1"})["c"] == 12


def test_a_batch_of_scattered_hours_is_recomputed_over_their_span(es, monkeypatch):
    monkeypatch.setattr(es_backend, "MAX_RANGES", 2)
    es.write([point("m", at(h, 30), v=1.0) for h in (1, 5, 9, 13)])
    spans = []
    recompute = es_backend.ElasticsearchBackend._recompute
    monkeypatch.setattr(
        es_backend.ElasticsearchBackend,
        "_recompute",
        lambda self, tier, scope, hours, *rest: (
            spans.append(hours) or recompute(self, tier, scope, hours, *rest)
        ),
    )
    es.write([point("m", at(h), v=2.0) for h in (3, 7, 11, 15, 17)])
    assert spans == [[(to_micros(at(3)), to_micros(at(18)))]]  # 5 ranges: one span instead
    assert [unit(es, "1h", at(h), "v")["sum"] for h in (1, 3, 5, 17)] == [1.0, 2.0, 1.0, 2.0]
    assert unit(es, "1h", at(4), "v") is None
    assert unit(es, "1d", at(0), "v")["c"] == 9
