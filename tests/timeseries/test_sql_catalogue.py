"""The SQL catalogue resolves a write's series in a few statements, however many it holds.

Counted on SQLite with its trace callback (every statement the backend runs); PostgreSQL runs
the same statements (``sql/catalogue.py``), each a round trip to the server there.
"""

from datetime import UTC, datetime

from fleetwatch.timeseries import Point, ReadQuery, load_backend

NOW = datetime(2026, 10, 10, 12, 0, tzinfo=UTC)
MEASUREMENTS = ("cpu", "memory", "load", "disk", "wifi", "traffic", "signal", "uptime")


def _report(device):
    tags = {"content_type": "inventory.device", "object_id": device, "organization_id": "o1"}
    return [Point(m, {"v": float(i)}, NOW, tags) for i, m in enumerate(MEASUREMENTS)]


def _statements(backend, points):
    """The statements on fw_series and fw_series_tags that writing ``points`` runs."""
    seen = []
    conn = backend._conn()
    conn.set_trace_callback(seen.append)
    try:
        backend.write(points)
    finally:
        conn.set_trace_callback(None)
    return [s.split(" (")[0].split(" WHERE")[0] for s in seen if "fw_series" in s]


def test_a_report_of_eight_series_costs_one_lookup_and_one_insert(tmp_path):
    path = str(tmp_path / "ts.db")
    first = load_backend({"BACKEND": "sqlite", "NAME": path})
    # New series: one SELECT finds none, one INSERT … RETURNING creates all 8, and one
    # executemany inserts their 24 tag rows (3 tags × 8 series; SQLite traces each row).
    assert _statements(first, _report("d1")) == [
        "SELECT id, retention, measurement, tags FROM fw_series",
        "INSERT INTO fw_series",
        *["INSERT INTO fw_series_tags"] * 24,
    ]
    # Another process (its own cache) writing the same device's next report: one SELECT.
    second = load_backend({"BACKEND": "sqlite", "NAME": path})
    assert _statements(second, _report("d1")) == ["SELECT id, retention, measurement, tags FROM fw_series"]
    # A mix of known and new series: the known ones are not looked up again.
    mixed = _report("d1") + _report("d2")
    assert _statements(second, mixed) == [
        "SELECT id, retention, measurement, tags FROM fw_series",
        "INSERT INTO fw_series",
        *["INSERT INTO fw_series_tags"] * 24,
    ]
    # Both processes agree on every id, and the points are where they belong.
    first.catalogue.forget()
    assert _statements(first, mixed) == ["SELECT id, retention, measurement, tags FROM fw_series"]
    assert first.catalogue.series_ids == second.catalogue.series_ids
    rows = first.read(ReadQuery("wifi", tags={"object_id": "d2"}))
    assert [(r.tags["object_id"], r.fields) for r in rows] == [("d2", {"v": 4.0})]


def test_a_thousand_series_are_resolved_in_batches(tmp_path):
    backend = load_backend({"BACKEND": "sqlite", "NAME": str(tmp_path / "ts.db")})
    points = [p for device in range(125) for p in _report(f"d{device}")]  # 1,000 series
    statements = _statements(backend, points)
    assert statements.count("SELECT id, retention, measurement, tags FROM fw_series") == 4  # 300 a batch
    assert statements.count("INSERT INTO fw_series") == 4
    assert len(backend.catalogue.series_ids) == 1000


def test_the_cache_is_bounded_and_writes_stay_right(tmp_path, monkeypatch):
    from fleetwatch.timeseries.backends.sql.catalogue import Catalogue

    monkeypatch.setattr(Catalogue, "MAX_CACHED_SERIES", 20)
    monkeypatch.setattr(Catalogue, "BATCH", 8)
    backend = load_backend({"BACKEND": "sqlite", "NAME": str(tmp_path / "ts.db")})
    for _round in range(2):  # the second round finds every series in the store, few in the cache
        for device in range(30):
            backend.write(_report(f"d{device}"))
            assert len(backend.catalogue.series_ids) <= 20 + 8
    assert backend.count_points() == {m: 30 for m in MEASUREMENTS}  # each (series, time) once
    rows = backend.read(ReadQuery("signal", tags={"object_id": "d7"}))
    assert [(r.tags["object_id"], r.fields) for r in rows] == [("d7", {"v": 6.0})]
