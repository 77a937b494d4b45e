"""Suite-wide hooks and fixtures: a per-backend tally of the conformance suite at the end of every
run, ``browser``, Debian's Chromium driven by Playwright (every browser test uses it), and the
fixtures several folders share (organizations, users, devices, ``collector``)."""

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

# A test run never reports usage metrics (fleetwatch.usage.sender): pytest-django has loaded the
# settings before this file, so the setting is switched off here, and the variable for the
# servers and workers tests start as subprocesses. Tests of the sender switch it on, against a
# receiver of their own on 127.0.0.1.
os.environ["FLEETWATCH_USAGE_METRICS"] = "false"
settings.FLEETWATCH_USAGE_METRICS = False
# Nor does a page ask for map tiles (the fleet page's map, FLEETWATCH_MAP_TILES): tests make no
# request beyond 127.0.0.1; the map's markers are drawn on a blank map.
os.environ["FLEETWATCH_MAP_TILES"] = "none"
settings.FLEETWATCH_MAP_TILES = ""

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def load(monkeypatch, tmp_path):
    """``load(**env)``: settings.py run afresh (not the one Django uses) with only these
    FLEETWATCH_* variables set; returns its globals."""
    from tests.settings_env import load_settings

    return lambda **env: load_settings(monkeypatch, tmp_path, env)


@pytest.fixture
def browser(monkeypatch):
    """A headless Chromium (``playwright.sync_api.Browser``), closed after the test.

    Playwright's sync API runs an event loop on this thread; the ORM calls of the test itself
    are still synchronous, so Django's guard against async contexts does not apply here."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert Path(CHROMIUM).exists(), "Chromium is missing: `make test` installs Debian's chromium package"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield instance
        finally:
            instance.close()


_BACKEND_ID = re.compile(r"\[(sqlite|postgresql|influxdb2|influxdb|elasticsearch)(?:[-\]])")
_tally: dict[str, Counter] = {}


def pytest_runtest_logreport(report):
    match = _BACKEND_ID.search(report.nodeid)
    if not match or "/conformance/" not in report.nodeid:
        return
    if report.when == "call":
        outcome = report.outcome
    elif report.outcome == "failed":
        outcome = "error"  # setup or teardown failed, e.g. the server is unreachable
    elif report.outcome == "skipped":
        outcome = "skipped"
    else:
        return
    _tally.setdefault(match.group(1), Counter())[outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _tally:
        return
    terminalreporter.section("conformance suite per backend")
    for backend, counts in sorted(_tally.items()):
        total = sum(counts.values())
        detail = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        terminalreporter.write_line(f"{backend:<12} {total} tests: {detail}")


# --------------------------------------------------------------------------- CI partition
# scripts/ci/run.sh selects tests by these markers: a job per backend runs `-m backend` with
# FLEETWATCH_TEST_BACKENDS naming it, the browser job `-m browser`, the SQLite job `-m "not
# browser"` (docs/ci.md). Tests tied to one backend are the parametrised ones (their id names it,
# as in the tally above) and the modules of one server's own tests.
_BACKEND_MODULES = {
    "tests/timeseries/influxdb/": "influxdb",
    "tests/timeseries/influxdb2/": "influxdb2",
    "tests/timeseries/elasticsearch/": "elasticsearch",
    "tests/monitoring/test_copy_fleet.py": "influxdb",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives Chromium (uses the browser fixture); tagged at collection"
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        match = _BACKEND_ID.search(item.nodeid)
        backend = match.group(1) if match else None
        for prefix, name in _BACKEND_MODULES.items():
            if item.nodeid.startswith(prefix):
                backend = name
        if backend:
            item.add_marker(pytest.mark.backend(backend))


# --------------------------------------------------------------------------- Django personas
import pytest  # noqa: E402

from fleetwatch.celery import app as celery_app  # noqa: E402

# Tasks run inline in tests (their effects are asserted right after); tests/tasks/ covers the
# real brokers with real workers.
celery_app.conf.task_always_eager = True


@pytest.fixture
def timeseries(tmp_path, settings):
    """A fresh SQLite time-series store for one test."""
    from fleetwatch.core.timeseries import get_backend, reset_backend

    settings.TIMESERIES_DATABASE = {"BACKEND": "sqlite", "NAME": str(tmp_path / "ts.db")}
    reset_backend()
    yield get_backend()
    reset_backend()


@pytest.fixture
def collector(settings):
    """This server is a usage collector (``FLEETWATCH_USAGE_COLLECTOR``); the collect
    endpoint's per-address counts (in the cache) start from zero. Yields ``settings``."""
    from django.core.cache import cache

    settings.FLEETWATCH_USAGE_COLLECTOR = True
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def orgs(db):
    from fleetwatch.inventory.models import Organization

    return Organization.objects.create(name="Org A", slug="org-a"), Organization.objects.create(
        name="Org B", slug="org-b"
    )


def _user(username, org, role):
    from django.contrib.auth import get_user_model

    from fleetwatch.inventory.models import Membership

    user = get_user_model().objects.create_user(username, password="pw")
    Membership.objects.create(user=user, organization=org, role=role)
    return user


@pytest.fixture
def alice(orgs):
    """Administrator of organization A."""
    return _user("alice", orgs[0], "admin")


@pytest.fixture
def bob(orgs):
    """Member (read-only) of organization A."""
    return _user("bob", orgs[0], "member")


@pytest.fixture
def charlie(orgs):
    """Administrator of organization B: an outsider to A."""
    return _user("charlie", orgs[1], "admin")


@pytest.fixture
def device_a(orgs):
    from fleetwatch.inventory.models import Device

    return Device.objects.create(organization=orgs[0], name="ap-lobby", mac_address="44:d1:fa:4b:38:43")


@pytest.fixture
def device_b(orgs):
    from fleetwatch.inventory.models import Device

    return Device.objects.create(organization=orgs[1], name="ap-b", mac_address="44:d1:fa:4b:38:44")


# --------------------------------------------------------------------------- the project's store
def _requested_backends():
    from tests.timeseries.conftest import requested_backends

    return requested_backends()


@pytest.fixture(params=_requested_backends())
def store(request, settings, tmp_path):
    """The project's time-series backend (``TIMESERIES_DATABASE``) on each backend the run
    covers, on its real server (as the conformance suite), emptied before and after the test."""
    from fleetwatch.core.timeseries import get_backend, reset_backend
    from tests.monitoring.test_every_backend import settings_for

    settings.TIMESERIES_DATABASE = settings_for(request.param, tmp_path)
    reset_backend()
    backend = get_backend()
    backend.flush()
    yield backend
    backend.flush()
    reset_backend()
