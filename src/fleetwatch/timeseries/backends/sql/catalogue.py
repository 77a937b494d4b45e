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

    def series_id(self, cur, retention: str, measurement: str, tag_items: tuple) -> int:
        tags_json = json.dumps(dict(tag_items), sort_keys=True, separators=(",", ":"))
        cur.execute(
            self.sql(
                "INSERT INTO fw_series (retention, measurement, tags) VALUES (?, ?, ?) "
                "ON CONFLICT (retention, measurement, tags) DO NOTHING"
            ),
            [retention, measurement, tags_json],
        )
        cur.execute(
            self.sql("SELECT id FROM fw_series WHERE retention = ? AND measurement = ? AND tags = ?"),
            [retention, measurement, tags_json],
        )
        series_id = cur.fetchone()[0]
        if tag_items:
            cur.executemany(
                self.sql(
                    "INSERT INTO fw_series_tags (key, value, series_id) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING"
                ),
                [[key, value, series_id] for key, value in tag_items],
            )
        return series_id

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
        rows: list[tuple] = []
        append = rows.append
        for point in points:
            measurement = point.measurement
            tags = point.tags
            tag_items = tuple(sorted(tags.items())) if tags else ()
            skey = (retention, measurement, tag_items)
            series_id = series_ids.get(skey)
            if series_id is None:
                if cur is None:
                    raise CatalogueMiss
                series_id = series_ids[skey] = self.series_id(cur, retention, measurement, tag_items)
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
