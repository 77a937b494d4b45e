"""`copy_points`: every point of every tier moves, verified by counts; an interrupted copy resumes."""

from datetime import timedelta

import pytest

from fleetwatch.timeseries import Aggregate, ChartQuery, ReadQuery, load_backend
from fleetwatch.timeseries.copy import copy_points
from tests.timeseries.helpers import at, point


@pytest.fixture
def fleet(backend, clock):
    """Two days of two devices in the default tier, and snapshots in the short tier."""
    points = []
    for step in range(2 * 24 * 6):  # every 10 minutes
        moment = at(0, day=19) + timedelta(minutes=10 * step)
        for device in ("a", "b"):
            tags = {"object_id": device, "ifname": "wlan0"}
            points.append(point("traffic", moment, tags, rx_bytes=step * 10, tx_bytes=step))
            points.append(point("wifi_clients", moment, tags, clients=f"mac-{step % 7}"))
    backend.write(points)
    backend.write(
        [point("device_data", clock.now - timedelta(hours=h), {"pk": "a"}, data="{}") for h in range(3)],
        retention="short",
    )
    return backend


@pytest.fixture
def destination(tmp_path, clock):
    backend = load_backend({"BACKEND": "sqlite", "NAME": str(tmp_path / "copy.db")}, clock=clock)
    yield backend
    backend.close()


def answers(backend):
    chart = ChartQuery(
        "traffic",
        [Aggregate("sum", "rx_bytes"), Aggregate("count_distinct", "tx_bytes", "d")],
        at(0, day=19),
        at(0, day=21),
        interval="1h",
        timezone="Europe/Rome",
        tags={"object_id": "a"},
    )
    clients = ChartQuery(
        "wifi_clients", [Aggregate("count_distinct", "clients")], at(0, day=19), at(0, day=21), interval="1d"
    )
    return (
        backend.chart(chart),
        backend.chart(clients),
        backend.read(ReadQuery(["traffic", "wifi_clients"], limit=50, order="desc")),
        backend.read(ReadQuery("device_data", retention="short")),
    )


def test_every_point_of_every_tier_is_copied_and_verified(fleet, destination, tmp_path):
    report = copy_points(fleet, destination, state_path=tmp_path / "state.json")
    assert report.points == 2 * 24 * 6 * 2 * 2 + 3
    assert report.counts == {
        ("default", "traffic"): (576, 576),
        ("default", "wifi_clients"): (576, 576),
        ("short", "device_data"): (3, 3),
    }
    assert report.mismatches == {}
    assert answers(destination) == answers(fleet)


def test_an_interrupted_copy_resumes_where_it_stopped(fleet, destination, tmp_path):
    state = tmp_path / "state.json"
    seen = []

    def stop_after_three(tier, measurement, step, steps, points):
        seen.append(step)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_points(
            fleet, destination, window=timedelta(hours=6), state_path=state, progress=stop_after_three
        )
    copied_before = sum(destination.count_points().values())
    assert 0 < copied_before < 2 * 576
    report = copy_points(fleet, destination, window=timedelta(hours=6), state_path=state)
    assert report.points == 2 * 576 + 3 - copied_before  # only what was left
    assert report.mismatches == {}
    assert answers(destination) == answers(fleet)
