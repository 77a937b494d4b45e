"""SQLite: one device's chart costs the same in a fleet of 400 or of 3,000 devices.

The cost is counted in SQLite virtual-machine instructions (a deterministic measure, unlike
time): the series lookup starts from the device's own tag entries, so the other devices'
series are never visited (choosing that tag reads at most ``DRIVER_LIMIT + 1`` entries of each
filter, a bound both fleets here already reach).
"""

from datetime import UTC, datetime, timedelta

from fleetwatch.timeseries import Aggregate, ChartQuery, Point, load_backend

END = datetime(2026, 10, 10, tzinfo=UTC)


def _fleet(path, devices):
    backend = load_backend({"BACKEND": "sqlite", "NAME": str(path)})
    points = []
    for device in range(devices):
        tags = {"content_type": "inventory.device", "object_id": f"d{device}", "organization_id": "o1"}
        for step in range(6):
            moment = END - timedelta(minutes=5 * step)
            points += [Point(m, {"v": float(step)}, moment, tags) for m in ("cpu", "memory", "load")]
    backend.write(points)
    return backend


def _instructions(backend, device):
    query = ChartQuery(
        "cpu",
        [Aggregate("mean", "v", "v")],
        END - timedelta(days=1),
        END,
        "10m",
        tags={"content_type": "inventory.device", "object_id": device, "organization_id": "o1"},
    )
    counted = [0]

    def tick():
        counted[0] += 1
        return 0

    conn = backend._conn()
    conn.set_progress_handler(tick, 100)
    try:
        result = backend.chart(query)
    finally:
        conn.set_progress_handler(None, 100)
    return counted[0], result.series["v"]


def test_a_device_chart_does_not_visit_other_devices_series(tmp_path):
    small = _fleet(tmp_path / "small.db", 400)
    large = _fleet(tmp_path / "large.db", 3000)
    small_cost, small_series = _instructions(small, "d42")
    large_cost, large_series = _instructions(large, "d42")
    assert small_series == large_series
    assert [v for v in large_series if v is not None] == [5.0, 3.5, 1.5, 0.0]
    # Same work within a few hundred instructions; visiting 3,000 devices' series would cost
    # tens of thousands more.
    assert abs(large_cost - small_cost) <= 3, (small_cost, large_cost)
    small.close()
    large.close()
