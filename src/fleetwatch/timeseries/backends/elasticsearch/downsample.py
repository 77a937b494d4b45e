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
``read()``, ``count_points()`` and copies never see them; one document holds every field of one
series in one unit (one per field would multiply the documents a write indexes)::

    <namespace>.rollups-<tier>-m-<yyyy.mm>.01     one calendar month (UTC) of unit starts

    m, sk, tags   the series (as in point documents)
    p             the step: "1h" or "1d"
    t             the unit's start (date, ms)
    k             "<field>:<kind>" per type each field was written with in the unit (i, f, b, s)
    c.<field>     how many points carry the field (any type)
    sum.<field>, min.<field>, max.<field>
                  over its numbers (absent when it holds none)
"""

from __future__ import annotations

import base64
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
# The rollup documents' shape: rollups of another version are dropped and built again.
TEMPLATE_VERSION = 2


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


def document_id(tier: str, step: str, measurement: str, series_key: str, unit_ms: int) -> str:
    digest = hashlib.blake2b(
        f"{tier}\x1f{step}\x1f{measurement}\x1f{series_key}\x1f{unit_ms}".encode(), digest_size=16
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def template(namespace: str) -> dict:
    return {
        "index_patterns": [pattern(namespace)],
        "priority": TEMPLATE_PRIORITY,
        "version": TEMPLATE_VERSION,
        "template": {
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
            "mappings": {
                "dynamic": "strict",
                "dynamic_templates": [
                    {"tags": {"path_match": "tags.*", "mapping": {"type": "keyword"}}},
                    {"counts": {"path_match": "c.*", "mapping": {"type": "long"}}},
                    {"sums": {"path_match": "sum.*", "mapping": {"type": "double"}}},
                    {"minima": {"path_match": "min.*", "mapping": {"type": "double"}}},
                    {"maxima": {"path_match": "max.*", "mapping": {"type": "double"}}},
                ],
                "properties": {
                    "m": {"type": "keyword"},
                    "sk": {"type": "keyword"},
                    "tags": {"type": "object", "dynamic": True, "subobjects": False},
                    "p": {"type": "keyword"},
                    "t": {"type": "date", "format": "epoch_millis"},
                    "k": {"type": "keyword"},
                    **{
                        name: {"type": "object", "dynamic": True, "subobjects": False}
                        for name in ("c", "sum", "min", "max")
                    },
                },
            },
        },
        "_meta": {"managed_by": "fleetwatch", "description": "Fleetwatch rollups (hourly, daily)"},
    }


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
    """Partials per series and UTC hour of the points ``filters`` select."""
    sources = [
        {"m": {"terms": {"field": "m"}}},
        {"sk": {"terms": {"field": "sk"}}},
        {"u": {"date_histogram": {"field": "t", "fixed_interval": "1h"}}},
    ]
    return _composite_body(filters, sources, partial_aggs(fields, True), page_size(len(fields)))


def days_body(filters: list[dict], fields: list[str]) -> dict:
    """Daily partials per series from the hourly rollups ``filters`` select."""
    sources = [
        {"m": {"terms": {"field": "m"}}},
        {"sk": {"terms": {"field": "sk"}}},
        {"u": {"date_histogram": {"field": "t", "fixed_interval": "1d"}}},
    ]
    aggs = partial_aggs(fields, False)
    return _composite_body([{"term": {"p": "1h"}}, *filters], sources, aggs, page_size(len(fields)))


def unit_document(tier: str, step: str, fields: list[str], bucket: dict, from_points: bool):
    """``(id, source)`` of the rollup of one bucket of :func:`hours_body` (``from_points``) or
    :func:`days_body`; None when no field has a value in it."""
    key = bucket["key"]
    found = point_partials(fields, bucket) if from_points else unit_partials(fields, bucket)
    source: dict[str, Any] = {"m": key["m"], "sk": key["sk"], "p": step, "t": int(key["u"])}
    tags = json.loads(key["sk"])  # the series key is the tag set as canonical JSON
    if tags:
        source["tags"] = tags
    kinds: list[str] = []
    parts: dict[str, dict] = {"c": {}, "sum": {}, "min": {}, "max": {}}
    for name, partials, seen in found:
        kinds += [f"{name}:{kind}" for kind in sorted(seen)]
        parts["c"][name] = partials["count"]
        for part in ("sum", "min", "max"):
            if part in partials:
                parts[part][name] = partials[part]
    if not kinds:
        return None
    source["k"] = kinds
    source.update({name: values for name, values in parts.items() if values})
    return document_id(tier, step, key["m"], key["sk"], source["t"]), source


def _composite_body(filters: list[dict], sources: list[dict], aggs: dict, page: int) -> dict:
    return {
        "query": {"bool": {"filter": filters}},
        "size": 0,
        "track_total_hits": False,
        "aggs": {"p": {"composite": {"size": page, "sources": sources}, "aggs": aggs}},
    }


def kinds_body(filters: list[dict]) -> dict:
    """The ``<field>:<kind>`` values of ``k`` in the points or rollups ``filters`` select."""
    return {
        "query": {"bool": {"filter": filters}},
        "size": 0,
        "track_total_hits": False,
        "aggs": {"k": {"terms": {"field": "k", "size": compiler.COMPOSITE_PAGE}}},
    }


# --------------------------------------------------------------------------- charts


def partial_aggs(fields: list[str], from_points: bool) -> dict:
    """Sub-aggregations giving count, sum, min, max and the types written of each field, from
    points or from rollups."""
    aggs: dict[str, dict] = {}
    for j, name in enumerate(fields):
        aggs[f"k{j}"] = {"filters": {"filters": {kind: {"term": {"k": f"{name}:{kind}"}} for kind in KINDS}}}
        if from_points:
            aggs[f"st{j}"] = {"stats": {"field": f"n.{name}"}}
        else:
            aggs[f"c{j}"] = {"sum": {"field": f"c.{name}"}}
            aggs[f"sn{j}"] = {"value_count": {"field": f"sum.{name}"}}
            aggs[f"sum{j}"] = {"sum": {"field": f"sum.{name}"}}
            aggs[f"min{j}"] = {"min": {"field": f"min.{name}"}}
            aggs[f"max{j}"] = {"max": {"field": f"max.{name}"}}
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


def unit_partials(fields: list[str], bucket: dict) -> Iterable[tuple[str, dict, set[str]]]:
    """``(field, partials, kinds)`` of a bucket aggregated with ``partial_aggs(…, False)``."""
    for j, name in enumerate(fields):
        counts = bucket[f"k{j}"]["buckets"]
        kinds = {kind for kind in KINDS if counts[kind]["doc_count"]}
        if not kinds:
            continue
        parts: dict[str, Any] = {"count": int(bucket[f"c{j}"]["value"])}
        if bucket[f"sn{j}"]["value"]:
            parts.update(
                sum=bucket[f"sum{j}"]["value"], min=bucket[f"min{j}"]["value"], max=bucket[f"max{j}"]["value"]
            )
        yield name, parts, kinds
