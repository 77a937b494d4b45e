"""Backend fixtures for the conformance suite.

Every test that takes ``backend`` runs once per backend named in ``FLEETWATCH_TEST_BACKENDS``
(default: all built-in backends). A backend whose server is unreachable makes its tests fail
with the reason; it is never skipped. Narrow the run on purpose with, e.g.,
``FLEETWATCH_TEST_BACKENDS=sqlite``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from fleetwatch.timeseries import load_backend
from fleetwatch.timeseries.backend import DEFAULT_RETENTION

ALL_BACKENDS = ("sqlite", "postgresql", "influxdb", "influxdb2", "elasticsearch")
NOW = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


def requested_backends() -> list[str]:
    raw = os.environ.get("FLEETWATCH_TEST_BACKENDS", "").strip()
    names = [n.strip() for n in raw.split(",") if n.strip()] if raw else list(ALL_BACKENDS)
    unknown = set(names) - set(ALL_BACKENDS)
    if unknown:
        raise pytest.UsageError(f"FLEETWATCH_TEST_BACKENDS names unknown backends: {unknown}")
    return names


def backend_settings(name: str, tmp_path_factory) -> dict | str:
    if name == "sqlite":
        return {"BACKEND": "sqlite", "NAME": str(tmp_path_factory.mktemp("sqlite") / "ts.db")}
    variable = f"FLEETWATCH_TEST_{name.upper()}_URL"
    url = os.environ.get(variable)
    if not url:
        pytest.fail(
            f"backend {name!r} is requested but {variable} is not set: run the tests with "
            f"`make test` (which starts the server), or narrow FLEETWATCH_TEST_BACKENDS",
            pytrace=False,
        )
    return url


class Clock:
    """A controllable clock for backends: tests never sleep."""

    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session", params=requested_backends())
def session_backend(request, tmp_path_factory):
    settings = backend_settings(request.param, tmp_path_factory)
    if isinstance(settings, str):
        # Tests get their own schema so they never touch data of a running Fleetwatch.
        settings += ("&" if "?" in settings else "?") + "schema=fleetwatch_test"
        if request.param == "influxdb":
            # The suite's clock is fixed (2026-11-01) while InfluxDB's own retention follows
            # the server's clock: tiers are enforced by `enforce_retention()` here instead.
            settings += "&server_retention=false"
        elif request.param == "influxdb2":
            # Likewise for the retention rules of InfluxDB 2.x buckets.
            settings += "&server_retention=false"
    backend = load_backend(settings)
    health = backend.health()
    if not health["reachable"]:
        pytest.fail(f"{request.param} is not reachable: {health['error']}", pytrace=False)
    yield backend
    backend.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def backend(session_backend, clock):
    session_backend.clock = clock
    session_backend.config.retention = dict(DEFAULT_RETENTION)
    session_backend.flush()
    return session_backend
