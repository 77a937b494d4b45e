"""Health, loading by URL, and failures surfacing as typed errors."""

import pytest

from fleetwatch.timeseries import (
    BackendUnavailable,
    ConfigurationError,
    ReadQuery,
    load_backend,
    parse_url,
)
from fleetwatch.timeseries.backend import BackendConfig, BaseBackend
from tests.timeseries.helpers import at, point


def test_health_names_the_backend_and_says_it_is_reachable(backend):
    health = backend.health()
    assert health["backend"] == backend.vendor
    assert health["reachable"] is True
    assert health["error"] is None
    assert health["version"]


def test_an_unreachable_server_is_reported_and_fails_writes(tmp_path):
    for settings in (
        "postgresql://nobody:wrong@127.0.0.1:9/nowhere?connect_timeout=2",
        {"BACKEND": "sqlite", "NAME": "/proc/fleetwatch-cannot-write-here/ts.db"},
    ):
        backend = load_backend(settings)
        health = backend.health()
        assert health["reachable"] is False
        assert health["error"]
        with pytest.raises(BackendUnavailable):
            backend.write([point("m", at(10), v=1.0)])
        with pytest.raises(BackendUnavailable):
            backend.read(ReadQuery("m"))


def test_urls_become_settings():
    assert parse_url("sqlite:///var/ts.sqlite3")["NAME"] == "var/ts.sqlite3"
    assert parse_url("sqlite:////srv/fw/ts.sqlite3")["NAME"] == "/srv/fw/ts.sqlite3"
    assert parse_url("sqlite://")["NAME"] == ":memory:"
    pg = parse_url("postgresql://fw:p%40ss@127.0.0.1:5433/metrics?schema=ts&retention_short=12h")
    assert pg == {
        "BACKEND": "postgresql",
        "HOST": "127.0.0.1",
        "PORT": 5433,
        "NAME": "metrics",
        "USER": "fw",
        "PASSWORD": "p@ss",
        "OPTIONS": {"schema": "ts"},
        "RETENTION": {"short": "12h", "default": 94608000},
    }
    with pytest.raises(ConfigurationError, match="unknown time-series URL scheme 'mysql'"):
        parse_url("mysql://x")
    with pytest.raises(ConfigurationError, match="unknown time-series backend 'oracle'"):
        load_backend({"BACKEND": "oracle"})
    with pytest.raises(ConfigurationError, match="does not export a Backend"):
        load_backend({"BACKEND": "fleetwatch.timeseries.errors"})


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("_write", ([], "default")),
        ("_read", (None, None, None)),
        ("_count_distinct", (None, None, None, None)),
        ("_chart", (None, None, None, None)),
        ("_summary", (None, None, None)),
        ("_rank_fields", (None, None, None, 1)),
        ("_delete", (None, None, None, None, None)),
        ("_purge_before", ("short", None)),
        ("flush", ()),
        ("count_points", ()),
        ("health", ()),
    ],
)
def test_the_base_class_names_what_a_backend_must_implement(method, args):
    base = BaseBackend(BackendConfig(backend="base"))
    with pytest.raises(NotImplementedError, match=f"BaseBackend must implement {method}"):
        getattr(base, method)(*args)
