"""Fixtures of the usage tests: a server that is a collector, with its per-address counts reset."""

import pytest
from django.core.cache import cache


@pytest.fixture
def collector(settings):
    """This server is a collector; the throttle's counts (in the cache) start from zero."""
    settings.FLEETWATCH_USAGE_COLLECTOR = True
    cache.clear()
    yield settings
    cache.clear()
