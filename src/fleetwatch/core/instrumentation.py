"""The server's own measurements for ``GET /metrics``: request and ingest latency histograms and
the store errors counter, shared by every process of this host.

``fleetwatch serve`` runs several gunicorn processes (threads in each), and Celery workers and
``fleetwatch consume`` are processes of their own, so a value kept in one process's memory would
show a scrape one process's share at random. These metrics use ``prometheus-client``'s
multiprocess mode instead: each process adds to memory-mapped files of its own (named by its
pid) in ``FLEETWATCH_PROMETHEUS_DIR`` (default ``<data dir>/prometheus``), and a scrape sums
every file (:func:`collector`). The cost per observation is a few memory writes, no database
write and no lock between processes. Files of processes that ended stay, so counters and
histograms never go backwards; ``fleetwatch serve`` removes those of processes no longer
running when it starts (:func:`prune_dead`: one reset, which ``rate()`` handles).

Several hosts behind a load balancer each keep their own directory: scrape each host (see
docs/prometheus.md). Values in the relational database were considered and not taken: a write
per request on SQLite's one writer costs more than the request it measures.

Errors: none raised; an unusable directory disables the measurements (logged once).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path

from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

# Seconds; from a cached page (~1 ms) to a chart over years or a store timing out (30 s).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
INGEST_BUCKETS = REQUEST_BUCKETS

_lock = threading.Lock()
_metrics: dict | None = None


def directory() -> Path:
    """Where this host's processes keep their values (``FLEETWATCH_PROMETHEUS_DIR``)."""
    return Path(settings.FLEETWATCH_PROMETHEUS_DIR)


def _make() -> dict:
    """The metrics, created once per process with multiprocess values in :func:`directory`.

    prometheus-client picks its value class from ``PROMETHEUS_MULTIPROC_DIR`` when it is first
    imported, which happens before any setting is read; the metrics below are given the
    file-backed class explicitly, so the order of imports does not matter."""
    path = directory()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)  # read by the value class when it opens files
    values.ValueClass = values.MultiProcessValue()
    registry = CollectorRegistry(auto_describe=False)  # never exposed itself: the files are
    return {
        "request": Histogram(
            "fleetwatch_http_request_duration_seconds",
            "Time the server took to answer a request, by view and status class (2xx, 4xx, 5xx).",
            ["view", "status"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        ),
        "ingest": Histogram(
            "fleetwatch_ingest_duration_seconds",
            "Time taken to validate and store one report or batch, by way in (agent, consumer, …).",
            ["source"],
            buckets=INGEST_BUCKETS,
            registry=registry,
        ),
        "store_errors": Counter(
            "fleetwatch_store_errors",
            "Operations that failed because a store was unavailable (database or timeseries).",
            ["store"],
            registry=registry,
        ),
    }


def _get() -> dict | None:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                try:
                    _metrics = _make()
                except OSError as exc:
                    log.warning("server metrics disabled: %s unusable (%s)", directory(), exc)
                    _metrics = {}
    return _metrics or None


def observe_request(view: str, status: int, seconds: float) -> None:
    """Count one answered request: ``view`` a URL pattern's name (bounded), ``status`` the HTTP
    status, ``seconds`` the time taken."""
    metrics = _get()
    if metrics is not None:
        metrics["request"].labels(view, f"{status // 100}xx").observe(seconds)


def observe_ingest(source: str, seconds: float) -> None:
    """Count one stored (or refused) report or batch of ``source`` (e.g. ``"agent"``)."""
    metrics = _get()
    if metrics is not None:
        metrics["ingest"].labels(source).observe(seconds)


def store_error(store: str) -> None:
    """Count one operation failed on an unavailable store: ``"database"`` or ``"timeseries"``."""
    metrics = _get()
    if metrics is not None:
        metrics["store_errors"].labels(store).inc()


def collector(registry: CollectorRegistry) -> None:
    """Register the sum of every process's values (this host's directory) on ``registry``."""
    path = directory()
    if path.is_dir():
        MultiProcessCollector(registry, path=str(path))


_PID = re.compile(r"_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def prune_dead() -> int:
    """Remove the files of processes that are no longer running; returns how many."""
    path = directory()
    removed = 0
    if not path.is_dir():
        return 0
    for file in path.glob("*.db"):
        match = _PID.search(file.name)
        if match and not _alive(int(match.group(1))):
            file.unlink(missing_ok=True)
            removed += 1
    return removed


class RequestMetricsMiddleware:
    """Times every request into ``fleetwatch_http_request_duration_seconds``; the view label is
    the matched URL pattern's name (``unmatched`` for a 404 no pattern matched), so the series
    stay as few as the URL patterns."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None else "unmatched"
        observe_request(view, response.status_code, time.perf_counter() - start)
        return response
