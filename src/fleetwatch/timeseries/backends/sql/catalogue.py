"""The catalogue of the SQL backends: series (tier, measurement, tags) and fields (measurement,
name, kind) each get an id once, and samples refer to them; also values read back in the type
they were written with.

Ids are immutable once created, so they are cached across threads; the caches are forgotten
when a transaction rolls back (ids it created do not exist) and on flush.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from fleetwatch.timeseries.model import Point
from fleetwatch.timeseries.times import EPOCH, ONE_MICROSECOND

KIND_OF_TYPE = {float: "f", int: "i", bool: "b", str: "s"}


def typed(num: float | None, txt: str | None, kinds: set[str] | str) -> Any:
    """A stored value back in the type it was written with."""
    if txt is not None:
        return txt
    if num is None:
        return None
    if kinds == "i" or kinds == {"i"}:
        return int(num)
    if kinds == "b" or kinds == {"b"}:
        return bool(num)
    return float(num)


def aggregate_value(fn: str, value: Any, kinds: set[str] | None) -> Any:
    """A chart aggregate's value in its type: counts as int, means as float, others as the field."""
    if fn in ("count", "count_distinct"):
        return int(value)
    if fn == "mean":
        return float(value)
    return typed(float(value), None, kinds or set())


class CatalogueMiss(Exception):
    """A write needs a series or field id that is not cached yet."""


class Catalogue:
    """Ids of series and fields, cached; ``sql`` turns ``?`` placeholders into the dialect's."""

    def __init__(self, sql: Callable[[str], str]):
        self.sql = sql
        self.lock = threading.Lock()
        self.series_ids: dict[tuple, int] = {}
        self.field_ids: dict[tuple, int] = {}
        self.series_info: dict[int, tuple[str, dict[str, str]]] = {}  # id → (measurement, tags)
        self.field_info: dict[int, tuple[str, str]] = {}  # id → (name, kind)

    def forget(self) -> None:
        with self.lock:
            self.series_ids.clear()
            self.field_ids.clear()
            self.series_info.clear()
            self.field_info.clear()

    # Series keys per statement when ids are resolved in batches: 3 parameters each, well under
    # SQLite's and PostgreSQL's parameter limits.
    BATCH = 300

    # Series ids cached per process at most (plus one batch): past it the cache starts again (a
    # report then costs one batched SELECT more). Without a bound, 100,000 devices × 8 series grew each web
    # process by hundreds of megabytes (performance.md, "Scale run").
    MAX_CACHED_SERIES = 100_000

    def resolve_series(self, cur, retention: str, points: list[Point]) -> dict[tuple, int]:
        """Cache the ids of every series of ``points`` not cached yet, in a few round trips
        whatever their number: one ``SELECT`` for those that exist, one ``INSERT … RETURNING``
        for the others (and their tag rows), and a last ``SELECT`` for any another process
        created meanwhile. Before, each series cost three round trips, and a report of 8 series
        24 the first time a process saw its device. Returns ``{cache key: id}`` of the series
        resolved (the cache itself may have been started again meanwhile)."""
        wanted: dict[tuple, tuple] = {}  # (retention, measurement, tags JSON) → cache key
        seen: set[tuple] = set()
        series_ids = self.series_ids
        for point in points:
            tags = point.tags
            key = (retention, point.measurement, tuple(sorted(tags.items())) if tags else ())
            # The first point's series always: the caller found it missing (the cache may have
            # been started again by another thread since).
            if key not in seen and (not seen or key not in series_ids):
                seen.add(key)
                tags_json = json.dumps(tags or {}, sort_keys=True, separators=(",", ":"))
                wanted[(retention, point.measurement, tags_json)] = key
        missing = list(wanted)
        resolved: dict[tuple, int] = {}
        for start in range(0, len(missing), self.BATCH):
            found = self._select_series(cur, missing[start : start + self.BATCH])
            new = [k for k in missing[start : start + self.BATCH] if k not in found]
            if new:
                created = self._insert_series(cur, new)
                tag_rows = [
                    [tag, value, series_id] for k, series_id in created.items() for tag, value in wanted[k][2]
                ]
                if tag_rows:
                    cur.executemany(
                        self.sql(
                            "INSERT INTO fw_series_tags (key, value, series_id) VALUES (?, ?, ?) "
                            "ON CONFLICT DO NOTHING"
                        ),
                        tag_rows,
                    )
                found.update(created)
                raced = [k for k in new if k not in found]
                if raced:
                    found.update(self._select_series(cur, raced))
            if len(series_ids) + len(found) > self.MAX_CACHED_SERIES:
                series_ids.clear()
            for k, series_id in found.items():
                series_ids[wanted[k]] = resolved[wanted[k]] = series_id
        return resolved

    def _select_series(self, cur, keys: list[tuple]) -> dict[tuple, int]:
        values = ", ".join(["(?, ?, ?)"] * len(keys))
        cur.execute(
            self.sql(
                "SELECT id, retention, measurement, tags FROM fw_series "
                f"WHERE (retention, measurement, tags) IN (VALUES {values})"
            ),
            [part for key in keys for part in key],
        )
        return {(r, m, t): series_id for series_id, r, m, t in cur.fetchall()}

    def _insert_series(self, cur, keys: list[tuple]) -> dict[tuple, int]:
        values = ", ".join(["(?, ?, ?)"] * len(keys))
        cur.execute(
            self.sql(
                f"INSERT INTO fw_series (retention, measurement, tags) VALUES {values} "
                "ON CONFLICT (retention, measurement, tags) DO NOTHING RETURNING id, retention, measurement, tags"
            ),
            [part for key in keys for part in key],
        )
        return {(r, m, t): series_id for series_id, r, m, t in cur.fetchall()}

    def field_id(self, cur, measurement: str, name: str, kind: str) -> int:
        cur.execute(
            self.sql(
                "INSERT INTO fw_fields (measurement, name, kind) VALUES (?, ?, ?) "
                "ON CONFLICT (measurement, name, kind) DO NOTHING"
            ),
            [measurement, name, kind],
        )
        cur.execute(
            self.sql("SELECT id FROM fw_fields WHERE measurement = ? AND name = ? AND kind = ?"),
            [measurement, name, kind],
        )
        return cur.fetchone()[0]

    def rows(self, cur, points: list[Point], retention: str) -> list[tuple]:
        """Points → ``(series_id, field_id, ts, num, txt)`` rows, creating catalogue entries
        (without a cursor, a series or field not yet known raises ``CatalogueMiss``).

        This loop is the write path's hot spot: keep it flat and allocation-light.
        """
        series_ids, field_ids = self.series_ids, self.field_ids
        resolved: dict[tuple, int] = {}  # resolved by this call (the cache may be restarted)
        rows: list[tuple] = []
        append = rows.append
        for index, point in enumerate(points):
            measurement = point.measurement
            tags = point.tags
            tag_items = tuple(sorted(tags.items())) if tags else ()
            skey = (retention, measurement, tag_items)
            series_id = series_ids.get(skey) or resolved.get(skey)
            if series_id is None:
                if cur is None:
                    raise CatalogueMiss
                # Every series of the rest of the batch at once.
                resolved.update(self.resolve_series(cur, retention, points[index:]))
                series_id = resolved[skey]
            ts = (point.time - EPOCH) // ONE_MICROSECOND
            for name, value in point.fields.items():
                value_type = type(value)
                fkey = (measurement, name, value_type)
                field_id = field_ids.get(fkey)
                if field_id is None:
                    if cur is None:
                        raise CatalogueMiss
                    kind = KIND_OF_TYPE[value_type]
                    field_id = field_ids[fkey] = self.field_id(cur, measurement, name, kind)
                if value_type is str:
                    append((series_id, field_id, ts, None, value))
                else:
                    append((series_id, field_id, ts, float(value), None))
        return rows
