"""Rollups of the Elasticsearch backend: hourly and daily partials as documents of their own.

Why not Elasticsearch's own downsampling or a transform: downsampling works on time-series data
streams whose backing indices have become read-only, so a late or corrected point could never
reach it; a transform runs on a schedule and checkpoints, so right after ``write()`` returns
its output is behind the points. What a transform *runs* is a plain aggregation (series × field
× ``date_histogram`` 1 h with sum, count, min and max) whose buckets become documents; this
module runs that aggregation itself, for the hours a write, delete or retention purge touched
and only for the series it touched, then the same for the days from the hours, and bulk-indexes
the buckets as rollup documents before the call returns. Every unit is recomputed from the
points (never adjusted by a delta), so resent and corrected points leave it exact, and each
rollup document has a deterministic ``_id`` (tier, step, series, field, unit start), so a
recomputation overwrites it. A unit left without points by a delete is removed first and only
rebuilt if points remain.

Rollup documents live in indices of their own, outside the namespace's point pattern, so
``read()``, ``count_points()`` and copies never see them::

    <namespace>.rollups-<tier>-m-<yyyy.mm>.01     one calendar month (UTC) of unit starts

    m, sk, tags   the series (as in point documents)
    f             the field
    p             the step: "1h" or "1d"
    t             the unit's start (date, ms)
    c             how many points carry the field (any type)
    k             the types the field was written with in the unit (i, f, b, s)
    sum/min/max   over its numbers (absent when it holds none)
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backends.elasticsearch import compiler
from fleetwatch.timeseries.backends.elasticsearch.compiler import es_time
from fleetwatch.timeseries.backends.elasticsearch.layout import KINDS, encode_tier

STEP_NAMES = {rollups.HOUR: "1h", rollups.DAY: "1d"}
# Buckets one response may hold, sub-buckets included (search.max_buckets is 65,536).
MAX_BUCKETS = 60_000
TEMPLATE_PRIORITY = 218  # above the built-in templates, like the points' template


def prefix(namespace: str, tier: str) -> str:
    """Name prefix of a tier's rollup indices (a '.' never appears in a namespace, so these
    names never match another namespace's ``<namespace>-*``)."""
    return f"{namespace}.rollups-{encode_tier(tier)}-"


def pattern(namespace: str) -> str:
    """Every rollup index of a namespace."""
    return f"{namespace}.rollups-*"


def index_name(namespace: str, tier: str, unit_ms: int) -> str:
    day = datetime.fromtimestamp(unit_ms // 1000, UTC)
    return f"{prefix(namespace, tier)}m-{day.year:04d}.{day.month:02d}.01"


def document_id(tier: str, step: str, measurement: str, series_key: str, field: str, unit_ms: int) -> str:
    digest = hashlib.blake2b(
        f"{tier}\x1f{step}\x1f{measurement}\x1f{series_key}\x1f{field}\x1f{unit_ms}".encode(), digest_size=16
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def template(namespace: str) -> dict:
    return {
        "index_patterns": [pattern(namespace)],
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
            "mappings": {
                "dynamic": "strict",
                "dynamic_templates": [{"tags": {"path_match": "tags.*", "mapping": {"type": "keyword"}}}],
                "properties": {
                    "m": {"type": "keyword"},
                    "sk": {"type": "keyword"},
                    "tags": {"type": "object", "dynamic": True, "subobjects": False},
                    "f": {"type": "keyword"},
                    "p": {"type": "keyword"},
                    "t": {"type": "date", "format": "epoch_millis"},
                    "c": {"type": "long"},
                    "k": {"type": "keyword"},
                    "sum": {"type": "double"},
                    "min": {"type": "double"},
                    "max": {"type": "double"},
                },
            },
        },
        "_meta": {"managed_by": "fleetwatch", "description": "Fleetwatch rollups (hourly, daily)"},
    }


def month_ms(unit_ms: int) -> int:
    day = datetime.fromtimestamp(unit_ms // 1000, UTC)
    return calendar.timegm((day.year, day.month, 1, 0, 0, 0)) * 1000


# --------------------------------------------------------------------------- recomputing


def page_size(fields: int) -> int:
    """Composite buckets per page when each carries a kind count (4 sub-buckets) per field."""
    return max(1, min(compiler.COMPOSITE_PAGE, MAX_BUCKETS // (1 + len(KINDS) * max(fields, 1))))


def unit_ranges(units: Iterable[int], step: int) -> list[tuple[int, int]]:
    """Sorted unit starts (µs) as merged ``[from, to)`` µs ranges."""
    ranges: list[tuple[int, int]] = []
    for start in sorted(set(units)):
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], start + step)
        else:
            ranges.append((start, start + step))
    return ranges


def raw_time_filter(ranges: list[tuple[int, int]]) -> dict:
    """Points in any of the ``[from, to)`` µs ranges (``t`` is ``date_nanos``)."""
    return any_of([{"range": {"t": {"gte": es_time(max(a, 0)), "lt": es_time(b)}}} for a, b in ranges])


def unit_time_filter(ranges: list[tuple[int, int]]) -> dict:
    """Rollup units starting in any of the ``[from, to)`` µs ranges."""
    return any_of([{"range": {"t": {"gte": a // 1000, "lt": -(-b // 1000)}}} for a, b in ranges])


def any_of(filters: list[dict]) -> dict:
    if len(filters) == 1:
        return filters[0]
    return {"bool": {"should": filters, "minimum_should_match": 1}}


def hours_body(filters: list[dict], fields: list[str]) -> dict:
    """Partials per series, field and UTC hour of the points ``filters`` select."""
    aggs: dict[str, dict] = {}
    for j, name in enumerate(fields):
        aggs[f"st{j}"] = {"stats": {"field": f"n.{name}"}}
        aggs[f"k{j}"] = {"filters": {"filters": {kind: {"term": {"k": f"{name}:{kind}"}} for kind in KINDS}}}
    sources = [
        {"m": {"terms": {"field": "m"}}},
        {"sk": {"terms": {"field": "sk"}}},
        {"u": {"date_histogram": {"field": "t", "fixed_interval": "1h"}}},
    ]
    return _composite_body(filters, sources, aggs, page_size(len(fields)))


def hour_documents(tier: str, fields: list[str], bucket: dict) -> Iterable[tuple[str, dict]]:
    """``(id, source)`` of the hourly rollups of one bucket of :func:`hours_body`."""
    key = bucket["key"]
    for j, name in enumerate(fields):
        counts = bucket[f"k{j}"]["buckets"]
        kinds = [kind for kind in KINDS if counts[kind]["doc_count"]]
        if not kinds:
            continue
        stats = bucket[f"st{j}"]
        numbers = {"sum": stats["sum"], "min": stats["min"], "max": stats["max"]} if stats["count"] else {}
        count = sum(counts[kind]["doc_count"] for kind in kinds)
        yield _document(tier, "1h", key["m"], key["sk"], name, int(key["u"]), count, kinds, numbers)


def days_body(filters: list[dict]) -> dict:
    """Daily partials from the hourly rollups ``filters`` select."""
    aggs = {
        "c": {"sum": {"field": "c"}},
        "sn": {"value_count": {"field": "sum"}},
        "sum": {"sum": {"field": "sum"}},
        "min": {"min": {"field": "min"}},
        "max": {"max": {"field": "max"}},
        "k": {"terms": {"field": "k", "size": len(KINDS)}},
    }
    sources = [
        {"m": {"terms": {"field": "m"}}},
        {"sk": {"terms": {"field": "sk"}}},
        {"f": {"terms": {"field": "f"}}},
        {"u": {"date_histogram": {"field": "t", "fixed_interval": "1d"}}},
    ]
    return _composite_body([{"term": {"p": "1h"}}, *filters], sources, aggs, page_size(1))


def day_document(tier: str, bucket: dict) -> tuple[str, dict]:
    key = bucket["key"]
    kinds = sorted(b["key"] for b in bucket["k"]["buckets"])
    numbers = {}
    if bucket["sn"]["value"]:
        numbers = {name: bucket[name]["value"] for name in ("sum", "min", "max")}
    count = int(bucket["c"]["value"])
    return _document(tier, "1d", key["m"], key["sk"], key["f"], int(key["u"]), count, kinds, numbers)


def _document(tier, step, measurement, series_key, field, unit_ms, count, kinds, numbers) -> tuple[str, dict]:
    source: dict[str, Any] = {"m": measurement, "sk": series_key, "f": field, "p": step, "t": unit_ms}
    tags = json.loads(series_key)  # the series key is the tag set as canonical JSON
    if tags:
        source["tags"] = tags
    source.update(c=count, k=kinds, **numbers)
    return document_id(tier, step, measurement, series_key, field, unit_ms), source


def _composite_body(filters: list[dict], sources: list[dict], aggs: dict, page: int) -> dict:
    return {
        "query": {"bool": {"filter": filters}},
        "size": 0,
        "track_total_hits": False,
        "aggs": {"p": {"composite": {"size": page, "sources": sources}, "aggs": aggs}},
    }


# --------------------------------------------------------------------------- charts


def partial_aggs(fields: list[str], from_points: bool) -> dict:
    """Sub-aggregations giving count, sum, min, max and the types written of each field."""
    aggs: dict[str, dict] = {}
    for j, name in enumerate(fields):
        if from_points:
            aggs[f"st{j}"] = {"stats": {"field": f"n.{name}"}}
            aggs[f"k{j}"] = {
                "filters": {"filters": {kind: {"term": {"k": f"{name}:{kind}"}} for kind in KINDS}}
            }
    if not from_points:
        aggs = {
            "c": {"sum": {"field": "c"}},
            "sn": {"value_count": {"field": "sum"}},
            "sum": {"sum": {"field": "sum"}},
            "min": {"min": {"field": "min"}},
            "max": {"max": {"field": "max"}},
            "k": {"terms": {"field": "k", "size": len(KINDS)}},
        }
    return aggs


def point_partials(fields: list[str], bucket: dict) -> Iterable[tuple[str, dict, set[str]]]:
    """``(field, partials, kinds)`` of a bucket aggregated with ``partial_aggs(…, True)``."""
    for j, name in enumerate(fields):
        counts = bucket[f"k{j}"]["buckets"]
        kinds = {kind for kind in KINDS if counts[kind]["doc_count"]}
        if not kinds:
            continue
        stats = bucket[f"st{j}"]
        parts: dict[str, Any] = {"count": sum(counts[kind]["doc_count"] for kind in kinds)}
        if stats["count"]:
            parts.update(sum=stats["sum"], min=stats["min"], max=stats["max"])
        yield name, parts, kinds


def unit_partials(bucket: dict) -> tuple[dict, set[str]]:
    """``(partials, kinds)`` of a bucket aggregated with ``partial_aggs(…, False)``."""
    parts: dict[str, Any] = {"count": int(bucket["c"]["value"])}
    if bucket["sn"]["value"]:
        parts.update(sum=bucket["sum"]["value"], min=bucket["min"]["value"], max=bucket["max"]["value"])
    return parts, {b["key"] for b in bucket["k"]["buckets"]}
