"""Where points live in Elasticsearch: index names, the index template and lifecycle policies.

One document per point, in time-based indices of one retention tier:

    <namespace>-<tier>-<d|m>-<yyyy.mm.dd>     d: one day, m: one calendar month (UTC), named
                                              by the period's first day

Tiers kept for up to two weeks get daily indices, longer ones monthly indices, so expiring data
is mostly a matter of dropping whole indices. Every index is created on first write from one
index template matching ``<namespace>-*``; nothing is set up per index.

Document (``_source`` keeps only what reads return: ``m``, ``tags`` and ``v``)::

    m     keyword      measurement
    t     date_nanos   time (µs precision): filters, order, date histograms
    us    long         the same instant in µs, doc values only: exact "first seen" minimums
                       (metric aggregations over date fields round to milliseconds)
    tags  keyword      one sub-field per tag (``subobjects: false``: dotted names stay flat)
    sk    keyword      the tag set as canonical JSON: tie order of reads, like the SQL backends
    k     keyword      "<field>:<kind>" per field (kind i, f, b or s): which fields a point has
                       and what types they were written with
    n     double       numeric copy of every number and boolean field (booleans as 0/1)
    s     keyword      copy of every string field (longer ones only in ``_source``)
    v     not indexed  the field values as written (ints stay ints, booleans booleans)
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from fleetwatch.timeseries.errors import ConfigurationError

# Index template priority: above the built-in templates (100) so a namespace such as "logs"
# still gets our mappings; tier templates (only with ILM) sit one above.
TEMPLATE_PRIORITY = 217
TEMPLATE_VERSION = 1
# Tiers kept at most this long get daily indices, longer ones monthly indices.
DAILY_UP_TO_SECONDS = 14 * 86400
# Strings longer than this (in characters) are kept in _source only: a keyword term may not
# exceed 32,766 bytes, and a UTF-8 character takes up to 4.
MAX_INDEXED_STRING = 8191
KINDS = ("i", "f", "b", "s")

_NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,99}$")
_INDEX_RE = re.compile(r"^(?P<head>.+)-(?P<unit>[dm])-(?P<y>\d{4})\.(?P<m>\d{2})\.(?P<d>\d{2})$")
_MICROS_PER_DAY = 86_400_000_000


def check_namespace(name: str) -> str:
    if not _NAMESPACE_RE.match(name):
        raise ConfigurationError(
            f"invalid Elasticsearch namespace {name!r}: use lowercase letters, digits and '_' "
            "(it prefixes the index names; set it with the URL's name or the 'schema' option)"
        )
    return name


def encode_tier(tier: str) -> str:
    """A tier name as an index-name part without '-' or uppercase (index names are lowercase and
    '-' separates the parts): 'A' → '+a', '-' → '+h'. Absurdly long names are hashed."""
    encoded = "".join(f"+{c.lower()}" if c.isupper() else "+h" if c == "-" else c for c in tier)
    if len(encoded) > 64:
        encoded = "+" + hashlib.blake2b(tier.encode(), digest_size=10).hexdigest()
    return encoded


def unit_for(retention_seconds: int) -> str:
    return "d" if retention_seconds <= DAILY_UP_TO_SECONDS else "m"


@dataclass(frozen=True)
class Period:
    unit: str  # "d" or "m"
    start: int  # µs since the epoch, inclusive
    end: int  # µs since the epoch, exclusive


def period_of_name(name: str) -> Period | None:
    match = _INDEX_RE.match(name)
    if not match:
        return None
    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    try:
        start = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
    start_us = calendar.timegm(start.timetuple()) * 1_000_000
    if match["unit"] == "d":
        return Period("d", start_us, start_us + _MICROS_PER_DAY)
    days = calendar.monthrange(year, month)[1]
    return Period("m", start_us, start_us + days * _MICROS_PER_DAY)


class Layout:
    """Index names of one namespace."""

    def __init__(self, namespace: str):
        self.namespace = check_namespace(namespace)
        self.all_pattern = f"{namespace}-*"
        self._tier_prefixes: dict[str, str] = {}

    def tier_prefix(self, tier: str) -> str:
        prefix = self._tier_prefixes.get(tier)
        if prefix is None:
            prefix = self._tier_prefixes[tier] = f"{self.namespace}-{encode_tier(tier)}-"
        return prefix

    def tier_pattern(self, tier: str) -> str:
        return self.tier_prefix(tier) + "*"

    def index_names(self, tier: str, micros: int) -> tuple[str, str]:
        """(daily, monthly) index names for an instant."""
        day = datetime.fromtimestamp(micros // 1_000_000, UTC)
        prefix = self.tier_prefix(tier)
        return (
            f"{prefix}d-{day.year:04d}.{day.month:02d}.{day.day:02d}",
            f"{prefix}m-{day.year:04d}.{day.month:02d}.01",
        )

    def patterns_for(self, tier: str | None, lower_us: int | None, upper_us: int | None) -> str:
        """Comma-separated index patterns covering a time range: one per month when the range
        is bounded and short (so a query touches only those indices), else the whole tier."""
        if tier is None:
            return self.all_pattern
        prefix = self.tier_prefix(tier)
        if lower_us is None or upper_us is None or upper_us < lower_us:
            return prefix + "*"
        first = datetime.fromtimestamp(lower_us // 1_000_000, UTC)
        last = datetime.fromtimestamp(upper_us // 1_000_000, UTC)
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        if months > 24:
            return prefix + "*"
        patterns = []
        year, month = first.year, first.month
        for _ in range(months):
            patterns.append(f"{prefix}*-{year:04d}.{month:02d}.*")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return ",".join(patterns)


# --------------------------------------------------------------------------- template


def mappings() -> dict:
    return {
        "dynamic": "strict",
        "_source": {"excludes": ["t", "us", "sk", "k", "n", "s"]},
        "dynamic_templates": [
            {"tags": {"path_match": "tags.*", "mapping": {"type": "keyword"}}},
            {"numbers": {"path_match": "n.*", "mapping": {"type": "double"}}},
            {
                "strings": {
                    "path_match": "s.*",
                    "mapping": {"type": "keyword", "ignore_above": MAX_INDEXED_STRING},
                }
            },
        ],
        "properties": {
            "m": {"type": "keyword"},
            "t": {"type": "date_nanos"},
            "us": {"type": "long", "index": False},
            "sk": {"type": "keyword"},
            "k": {"type": "keyword"},
            "tags": {"type": "object", "dynamic": True, "subobjects": False},
            "n": {"type": "object", "dynamic": True, "subobjects": False},
            "s": {"type": "object", "dynamic": True, "subobjects": False},
            "v": {"type": "object", "enabled": False},
        },
    }


def settings(lifecycle_policy: str | None = None) -> dict:
    result = {
        "number_of_shards": 1,
        # No replica on a single node (the index stays green), one as soon as there is a second.
        "auto_expand_replicas": "0-1",
        # Field names of every measurement of a tier share an index's mapping.
        "mapping.total_fields.limit": 10_000,
    }
    if lifecycle_policy:
        result["lifecycle.name"] = lifecycle_policy
        # The index's age counts from the period in its name, not from when it was created.
        result["lifecycle.parse_origination_date"] = True
    return result


def template(patterns: list[str], priority: int, lifecycle_policy: str | None = None) -> dict:
    return {
        "index_patterns": patterns,
        "priority": priority,
        "version": TEMPLATE_VERSION,
        "template": {"settings": settings(lifecycle_policy), "mappings": mappings()},
        "_meta": {"managed_by": "fleetwatch", "description": "Fleetwatch time series"},
    }


def lifecycle_policy(retention_seconds: int, unit: str) -> dict:
    """Delete an index once its newest possible point is past the tier's retention (its age
    counts from the period start, so a whole period is added)."""
    grace = 86_400 if unit == "d" else 31 * 86_400
    return {
        "phases": {"delete": {"min_age": f"{retention_seconds + grace}s", "actions": {"delete": {}}}},
        "_meta": {"managed_by": "fleetwatch"},
    }
