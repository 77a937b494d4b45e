"""SQL backends: a store written before rollups existed gets them built on its next start."""

from datetime import UTC, datetime, timedelta

from fleetwatch.timeseries import Aggregate, ChartQuery, Point, load_backend
from tests.timeseries.conformance.test_rollups import reference


def test_a_store_without_rollups_gets_them_built_once(tmp_path):
    settings = {"BACKEND": "sqlite", "NAME": str(tmp_path / "ts.db")}
    start = datetime(2026, 10, 1, tzinfo=UTC)
    points = [
        Point("load", {"v": i % 17}, start + timedelta(minutes=5 * i), {"object_id": "a"})
        for i in range(2000)
    ]
    backend = load_backend(settings)
    backend.write(points)
    conn = backend._conn()
    # What a store of the previous release looks like: no rollup rows, no marker.
    for statement in ("DELETE FROM fw_rollups_1h", "DELETE FROM fw_rollups_1d", "DELETE FROM fw_meta"):
        conn.execute(statement)
    backend.close()

    reopened = load_backend(settings)
    hours, days = (
        reopened._query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("fw_rollups_1h", "fw_rollups_1d")
    )
    assert (hours, days) == (167, 7)  # 2,000 five-minute points: 166.7 hours over 7 days
    query = ChartQuery(
        "load",
        [Aggregate("sum", "v", "sum_v")],
        start,
        start + timedelta(days=8),
        "1d",
        tags={"object_id": "a"},
    )
    assert reopened.chart(query).series == reference(points, query)
    reopened.close()


def test_rollups_can_be_switched_off_by_url(tmp_path, monkeypatch):
    backend = load_backend(f"sqlite:///{tmp_path}/ts.db?rollups=false")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    points = [
        Point("load", {"v": i}, start + timedelta(minutes=5 * i), {"object_id": "a"}) for i in range(600)
    ]
    backend.write(points)

    def refuse(*args):
        raise AssertionError("rollups read although switched off")

    monkeypatch.setattr(type(backend), "_rollup_partials", refuse)
    query = ChartQuery("load", [Aggregate("max", "v", "max_v")], start, start + timedelta(days=3), "1d")
    assert backend.use_rollups is False
    assert backend.chart(query).series == {"max_v": [287, 575, 599, None]}
    # Still kept current while switched off: 600 points span 50 hours.
    assert backend._query("SELECT COUNT(*) FROM fw_rollups_1h")[0][0] == 50
    backend.close()
