"""The project's time-series backend, built once per process from ``TIMESERIES_DATABASE``, and
the console's record of its outages (:class:`OutageWatch`)."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from fleetwatch.timeseries import BackendUnavailable, BaseBackend, load_backend
from fleetwatch.timeseries.loading import configure

_lock = threading.Lock()
_backend: BaseBackend | None = None

events = logging.getLogger("fleetwatch.events")

# The backend's public calls whose outcome tells whether the store answers.
WATCHED = (
    "write",
    "write_tiers",
    "read",
    "count_distinct",
    "chart",
    "chart_and_summary",
    "summary",
    "top_fields",
    "delete",
    "enforce_retention",
    "seal_rollups",
    "count_points",
)


class OutageWatch:
    """One console line when the time-series store becomes unavailable (a call raised
    ``BackendUnavailable``) and one when it answers again, for all the processes of one data
    directory together (web processes and worker): the first process to see the failure
    creates ``marker`` (holding the time it began) and logs the outage; the first to see a
    success after it removes the marker and logs the end with the outage's length.

    A process that saw the outage itself checks the marker on its next success; the others
    check it at most every ``recheck`` seconds (a marker left by a process that stopped)."""

    def __init__(self, marker: Path, recheck: float = 30.0):
        self.marker = marker
        self.recheck = recheck
        self.seen_down = False
        self.checked = time.monotonic()

    def failed(self, exc: BaseException) -> None:
        """A call raised ``exc`` (a ``BackendUnavailable``)."""
        self.seen_down = True
        try:
            fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another process logged this outage
        except OSError:
            fd = None  # no data directory to share: this process logs its own
        if fd is not None:
            with os.fdopen(fd, "w") as marker:
                marker.write(datetime.now(UTC).isoformat())
        events.warning("the time-series store is unavailable: %s", exc)

    def succeeded(self) -> None:
        """A call returned."""
        now = time.monotonic()
        if not self.seen_down and now - self.checked < self.recheck:
            return
        self.seen_down, self.checked = False, now
        try:
            began = datetime.fromisoformat(self.marker.read_text())
            self.marker.unlink()
        except (OSError, ValueError):
            return  # no outage recorded, or another process ended it
        seconds = (datetime.now(UTC) - began).total_seconds()
        events.info("the time-series store answers again (unavailable for %.0f s)", seconds)

    def wrap(self, backend: BaseBackend, name: str):
        """``backend``'s call ``name`` reporting its outcome here. The method is looked up on the
        class at each call, so that a class patched later (tests: a store that goes down) is used."""
        method = getattr(type(backend), name)

        @functools.wraps(method)
        def watched(*args, **kwargs):
            try:
                result = getattr(type(backend), name)(backend, *args, **kwargs)
            except BackendUnavailable as exc:
                self.failed(exc)
                raise
            self.succeeded()
            return result

        return watched


def watch(backend: BaseBackend, outages: OutageWatch) -> BaseBackend:
    """``backend`` with its :data:`WATCHED` calls reporting to ``outages`` (as instance
    attributes: the class is unchanged)."""
    for name in WATCHED:
        setattr(backend, name, outages.wrap(backend, name))
    return backend


def get_backend() -> BaseBackend:
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                config = configure(settings.TIMESERIES_DATABASE)
                if config.backend == "sqlite":  # one bound for every wait on a SQLite writer
                    config.options.setdefault("timeout", settings.SQLITE_LOCK_TIMEOUT)
                _backend = watch(load_backend(config), OutageWatch(settings.DATA_DIR / "timeseries-outage"))
    return _backend


def reset_backend() -> None:
    """Forget the backend (tests that change settings)."""
    global _backend
    with _lock:
        if _backend is not None:
            _backend.close()
        _backend = None
