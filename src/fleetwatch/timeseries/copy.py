"""Copy every point from one backend to another: leave an old InfluxDB 1.x for any backend.

The copy walks each tier and measurement in time windows (reads of the source, idempotent
writes to the destination), records each finished window in a state file, and so resumes where
an interrupted run stopped; rewriting a window twice is harmless. At the end it counts the
points of every measurement on both sides over the copied range.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from fleetwatch.timeseries.backend import BaseBackend
from fleetwatch.timeseries.errors import ConfigurationError
from fleetwatch.timeseries.model import ONE_MICROSECOND, Point, ReadQuery

Progress = Callable[[str, str, int, int, int], None]  # tier, measurement, step, steps, points so far


@dataclass
class CopyReport:
    points: int = 0
    # (tier, measurement) → (points in the source, points in the destination) over the range
    counts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    @property
    def mismatches(self) -> dict[tuple[str, str], tuple[int, int]]:
        return {key: pair for key, pair in self.counts.items() if pair[0] != pair[1]}


def _span(backend: BaseBackend, tier: str, measurement: str, since: datetime | None):
    first = backend.read(ReadQuery(measurement, since=since, retention=tier, limit=1))
    last = backend.read(ReadQuery(measurement, since=since, retention=tier, order="desc", limit=1))
    return (first[0].time, last[0].time) if first else None


def _windows(first: datetime, last: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` windows covering ``[first, last]``."""
    windows = []
    start = first
    while start <= last:
        windows.append((start, start + size))
        start += size
    return windows


class CopyState:
    """Finished windows, kept in a JSON file written atomically after each window."""

    def __init__(self, path: Path | None, identity: dict):
        self.path = path
        self.identity = identity
        self.done: dict[str, str] = {}
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            if saved.get("identity") != identity:
                raise ConfigurationError(
                    f"{path} belongs to another copy ({saved.get('identity')}); remove it or choose --state"
                )
            self.done = saved.get("done", {})

    def finished(self, tier: str, measurement: str, window_end: datetime) -> bool:
        mark = self.done.get(f"{tier}|{measurement}")
        return mark is not None and datetime.fromisoformat(mark) >= window_end

    def mark(self, tier: str, measurement: str, window_end: datetime) -> None:
        self.done[f"{tier}|{measurement}"] = window_end.isoformat()
        if self.path is not None:
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"identity": self.identity, "done": self.done}))
            os.replace(temporary, self.path)


def copy_points(
    source: BaseBackend,
    destination: BaseBackend,
    since: datetime | None = None,
    window: timedelta = timedelta(hours=6),
    state_path: Path | None = None,
    identity: dict | None = None,
    progress: Progress | None = None,
) -> CopyReport:
    missing = set(source.config.retention) - set(destination.config.retention)
    if missing:
        raise ConfigurationError(f"the destination has no retention tier {', '.join(sorted(missing))}")
    state = CopyState(state_path, identity or {})
    report = CopyReport()
    plan = []
    for tier in source.config.retention:
        for measurement in sorted(source.count_points(retention=tier)):
            span = _span(source, tier, measurement, since)
            if span is not None:
                plan.append((tier, measurement, _windows(span[0], span[1], window)))
    steps = sum(len(windows) for _tier, _measurement, windows in plan)
    step = 0
    for tier, measurement, windows in plan:
        for start, end in windows:
            step += 1
            if state.finished(tier, measurement, end):
                continue
            rows = source.read(
                ReadQuery(measurement, since=start, until=end - ONE_MICROSECOND, retention=tier)
            )
            if rows:
                destination.write(
                    [Point(r.measurement, r.fields, r.time, r.tags) for r in rows], retention=tier
                )
                report.points += len(rows)
            state.mark(tier, measurement, end)
            if progress is not None:
                progress(tier, measurement, step, steps, report.points)
    for tier, measurement, windows in plan:
        report.counts[(tier, measurement)] = (
            _count(source, tier, measurement, windows),
            _count(destination, tier, measurement, windows),
        )
    return report


def _count(backend: BaseBackend, tier: str, measurement: str, windows) -> int:
    """Points over the windows, one window in memory at a time."""
    return sum(
        len(backend.read(ReadQuery(measurement, since=start, until=end - ONE_MICROSECOND, retention=tier)))
        for start, end in windows
    )
