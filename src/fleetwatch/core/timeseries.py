"""The project's time-series backend, built once per process from ``TIMESERIES_DATABASE``."""

from __future__ import annotations

import threading

from django.conf import settings

from fleetwatch.timeseries import BaseBackend, load_backend

_lock = threading.Lock()
_backend: BaseBackend | None = None


def get_backend() -> BaseBackend:
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                _backend = load_backend(settings.TIMESERIES_DATABASE)
    return _backend


def reset_backend() -> None:
    """Forget the backend (tests that change settings)."""
    global _backend
    with _lock:
        if _backend is not None:
            _backend.close()
        _backend = None
