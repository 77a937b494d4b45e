"""Point encoding of the Elasticsearch backend: a point as a document, with the id that makes
every write of the same point land on the same document (see ``layout`` for the mapping)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from fleetwatch.timeseries.backends.elasticsearch.compiler import es_time


def document_id(tier: str, measurement: str, series_key: str, micros: int) -> str:
    """The id of a point: the same point always lands on the same document."""
    digest = hashlib.blake2b(
        f"{tier}\x1f{measurement}\x1f{series_key}\x1f{micros}".encode(), digest_size=16
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def document(measurement: str, tags: dict, series_key: str, micros: int, values: dict) -> dict:
    """A point as stored: ``m`` measurement, ``t`` time (``date_nanos`` text), ``us`` microseconds,
    ``sk`` series key, ``k`` each field's kind (``name:s|b|i|f``), ``v`` the values as written,
    ``n`` numbers (booleans as 0/1) and ``s`` strings (the fields charts and filters read)."""
    numbers: dict[str, Any] = {}
    strings: dict[str, str] = {}
    kinds = []
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            strings[name] = value
            kinds.append(f"{name}:s")
        elif kind is bool:
            numbers[name] = 1 if value else 0
            kinds.append(f"{name}:b")
        elif kind is int:
            numbers[name] = value
            kinds.append(f"{name}:i")
        else:
            numbers[name] = value
            kinds.append(f"{name}:f")
    doc = {"m": measurement, "t": es_time(micros), "us": micros, "sk": series_key, "k": kinds, "v": values}
    if tags:
        doc["tags"] = tags
    if numbers:
        doc["n"] = numbers
    if strings:
        doc["s"] = strings
    return doc


def same_values(new: dict, stored: dict) -> bool:
    """Whether writing ``new`` over ``stored`` would change nothing (types included: 1 is
    not 1.0 and True is not 1)."""
    return new.keys() == stored.keys() and all(
        type(value) is type(stored[name]) and value == stored[name] for name, value in new.items()
    )


class Pending:
    """A point on its way to a document (points repeated in one batch are merged into one)."""

    __slots__ = ("index", "measurement", "micros", "series_key", "tags", "tier", "values")

    def __init__(self, tier, measurement, tags, series_key, micros, values):
        self.tier = tier
        self.measurement = measurement
        self.tags = tags
        self.series_key = series_key
        self.micros = micros
        self.values = values
        self.index = ""

    def source(self, values: dict | None = None) -> dict:
        return document(
            self.measurement,
            self.tags,
            self.series_key,
            self.micros,
            self.values if values is None else values,
        )
