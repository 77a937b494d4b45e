"""The project's time-series backend, built once per process from ``TIMESERIES_DATABASE``."""

from __future__ import annotations

import threading

from django.conf import settings

from fleetwatch.timeseries import BaseBackend, load_backend
from fleetwatch.timeseries.loading import configure

_lock = threading.Lock()
_backend: BaseBackend | None = None


def get_backend() -> BaseBackend:
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                config = configure(settings.TIMESERIES_DATABASE)
                if config.backend == "sqlite":  # one bound for every wait on a SQLite writer
                    config.options.setdefault("timeout", settings.SQLITE_LOCK_TIMEOUT)
                _backend = load_backend(config)
    return _backend


def reset_backend() -> None:
    """Forget the backend (tests that change settings)."""
    global _backend
    with _lock:
        if _backend is not None:
            _backend.close()
        _backend = None
