"""Retention tiers: configurable, and enforced (expired points neither returned nor kept)."""

from datetime import timedelta

import pytest

from fleetwatch.timeseries import Aggregate, ChartQuery, ConfigurationError, ReadQuery
from tests.timeseries.helpers import point


def test_default_tiers(backend):
    assert backend.list_retention() == [
        {"name": "short", "duration": 86400, "default": False},
        {"name": "default", "duration": 94608000, "default": True},
    ]


def test_tiers_are_configurable(backend):
    backend.ensure_retention({"short": "12h", "default": "26280h0m0s", "year": "365d"})
    assert [(t["name"], t["duration"]) for t in backend.list_retention()] == [
        ("short", 43200),
        ("default", 94608000),
        ("year", 31536000),
    ]
    with pytest.raises(ConfigurationError, match="must include 'default'"):
        backend.ensure_retention({"short": "1h"})
    with pytest.raises(ConfigurationError, match="invalid duration"):
        backend.ensure_retention({"default": "forever"})


def test_tiers_are_separate_stores(backend):
    now = backend.now()
    backend.write([point("device_data", now, {"pk": "a"}, data="{}")], retention="short")
    assert backend.read(ReadQuery("device_data")) == []
    assert len(backend.read(ReadQuery("device_data", retention="short"))) == 1


def test_expired_points_are_not_returned_then_not_kept(backend, clock):
    written_at = clock.now
    backend.write([point("c", written_at - timedelta(hours=1), v=1.0)], retention="short")
    backend.write([point("c", written_at - timedelta(hours=1), v=5.0)])
    clock.now = written_at + timedelta(hours=24)  # the short point is now 25 hours old
    assert backend.read(ReadQuery("c", retention="short")) == []
    query = ChartQuery(
        "c",
        [Aggregate("sum", "v")],
        written_at - timedelta(hours=2),
        interval="1h",
        retention="short",
    )
    assert backend.summary(query) == {"v": None}
    assert set(backend.chart(query).series["v"]) == {None}
    assert backend.count_points(retention="short") == {"c": 1}  # still on disk ...
    backend.enforce_retention()
    assert backend.count_points(retention="short") == {}  # ... until enforced
    assert backend.count_points(retention="default") == {"c": 1}
    assert backend.read(ReadQuery("c"))[0].fields == {"v": 5.0}


def test_one_write_fills_several_tiers_and_drops_what_a_tier_no_longer_keeps(backend, clock):
    now = clock.now
    kept = backend.write_tiers(
        {
            "default": [point("traffic", now, {"ifname": "eth0"}, rx=10.0)],
            "short": [
                point("device_data", now, {"pk": "a"}, data='{"n": 1}'),
                point("device_data", now - timedelta(hours=25), {"pk": "a"}, data='{"n": 0}'),
            ],
        }
    )
    assert kept == 2  # the 25-hour-old snapshot is already past the short tier
    assert [r.fields for r in backend.read(ReadQuery("traffic"))] == [{"rx": 10.0}]
    assert backend.read(ReadQuery("traffic", retention="short")) == []
    assert [r.fields for r in backend.read(ReadQuery("device_data", retention="short"))] == [
        {"data": '{"n": 1}'}
    ]
