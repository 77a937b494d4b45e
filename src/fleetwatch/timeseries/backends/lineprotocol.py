"""InfluxDB line protocol, as both InfluxDB backends (1.x and 2.x) write it.

Escaping (a tag value or string field can never change the line), each field's type checked
against the type the server already holds for it (converted where no value is lost, refused
otherwise), and lines built with each series' head computed once per batch.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from fleetwatch.timeseries.errors import FieldTypeError, InvalidPoint
from fleetwatch.timeseries.model import Point
from fleetwatch.timeseries.times import EPOCH, ONE_MICROSECOND

# The measurement recording a tier's sealed rollup horizon (``rollups``), in its rollup policy
# (1.x) or hourly rollup bucket (2.x): one point per seal, field ``until`` (µs). ``:`` keeps it
# apart from users' measurements, and no rollup unit's name or part field matches it.
HORIZON = "fw:horizon"


def horizon_line(until: int) -> str:
    """The line recording horizon ``until`` (µs), stamped with the wall clock in µs (inside the
    rollups' retention, which a stamp at the horizon of a store long unsealed might not be);
    readers take the largest ``until``."""
    return f"{HORIZON} until={until}i {time.time_ns() // 1000}"


class Unwritable(ValueError):
    """A tag value line protocol cannot carry (see ``escape_key``)."""


ESCAPED_IN_KEYS = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})


def escape_key(text: str) -> str:
    """Tag key, tag value or field key: ``,``, ``=`` and spaces are escaped.

    InfluxDB 1.x does not unescape backslashes here (measured on 1.6: ``a\\b`` is stored as
    written), so a backslash is kept as is, and one that would escape the next character, or
    end the value, cannot be written at all.
    """
    if "\\" in text:
        if text.endswith("\\") or any(text[i + 1] in ", =" for i, c in enumerate(text[:-1]) if c == "\\"):
            raise Unwritable(
                f"InfluxDB line protocol cannot carry {text!r}: a backslash ends it or precedes , = or a space"
            )
    return text.translate(ESCAPED_IN_KEYS)


def field_value(value) -> str:
    """A field value as line protocol writes it: ``1.5``, ``2i``, ``true``, ``"text"``."""
    kind = type(value)
    if kind is float:
        return repr(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return f"{value}i"
    # Only backslash and double quote are escaped: a raw newline inside quotes is kept as is.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line(measurement: str, tags: Mapping[str, str], fields: Mapping, micros: int) -> str:
    """One line of a point at ``micros`` (µs since the epoch; raises ``Unwritable``)."""
    return LineBuilder().line(measurement, tags, fields, micros)


class LineBuilder:
    """Lines with each series' escaped head and each field's escaped key computed once: a
    batch repeats the same few series and fields thousands of times."""

    LIMIT = 100_000

    def __init__(self):
        self._heads: dict[tuple, str] = {}
        self._keys: dict[str, str] = {}

    def head(self, measurement: str, tags: Mapping[str, str]) -> str:
        """``measurement,tag=value,…`` (raises ``Unwritable``)."""
        series = (measurement, *tags.keys(), *tags.values())  # cheaper to build than items()
        head = self._heads.get(series)
        if head is None:
            # names are letters, digits and _ . - only (model.check_name)
            head = measurement + "".join(f",{escape_key(k)}={escape_key(tags[k])}" for k in sorted(tags))
            if len(self._heads) > self.LIMIT:
                self._heads.clear()
            self._heads[series] = head
        return head

    def line(self, measurement: str, tags: Mapping[str, str], fields: Mapping, micros: int) -> str:
        head = self.head(measurement, tags)
        keys = self._keys
        parts = []
        for name, value in fields.items():
            key = keys.get(name)
            if key is None:
                key = keys[name] = escape_key(name)
            kind = type(value)
            if kind is float:
                parts.append(f"{key}={value!r}")
            elif kind is int:
                parts.append(f"{key}={value}i")
            else:
                parts.append(f"{key}={field_value(value)}")
        return f"{head} {','.join(parts)} {micros}"


# ------------------------------------------------------------------ checked lines

KIND_OF_TYPE = {float: "float", int: "integer", bool: "boolean", str: "string"}


def coerce(measurement: str, name: str, value: Any, stored: str) -> Any:
    """A field keeps one type per shard in InfluxDB: convert where no value is lost."""
    if stored == "float" and type(value) is int:
        return float(value)
    if stored == "integer" and type(value) is float and value.is_integer():
        return int(value)
    raise FieldTypeError(
        f"{measurement}.{name} holds {stored} values in InfluxDB; cannot store "
        f"{KIND_OF_TYPE[type(value)]} {value!r}"
    )


def checked_lines(
    builder: LineBuilder,
    points: list[Point],
    kinds: dict[str, dict[str, str]],
    reserved: frozenset[str] = frozenset(),
    product: str = "InfluxDB",
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Line protocol of the points in one pass, each field's type checked against ``kinds``
    (what the server holds per measurement), converted where no value is lost; ``reserved``
    names are refused for fields and tags. Returns the lines and the field kinds first seen."""
    # Types already accepted per measurement and field: the common case is one dict lookup.
    accepted: dict[str, dict[str, type]] = {m: {} for m in kinds}
    learned: dict[str, dict[str, str]] = defaultdict(dict)
    checked_tags: set[tuple[str, ...]] = set()
    build = builder.line
    lines: list[str] = []
    append = lines.append
    for point in points:
        measurement, fields, tags = point.measurement, point.fields, point.tags
        types = accepted[measurement]
        for name, value in fields.items():
            if types.get(name) is type(value):
                continue
            if name in reserved:
                raise InvalidPoint(f"field name {name!r} of {measurement!r} is reserved in {product}")
            kind = KIND_OF_TYPE[type(value)]
            stored = kinds[measurement].get(name) or learned[measurement].get(name)
            if stored is None:
                learned[measurement][name] = kind
                types[name] = type(value)
            elif stored == kind:
                types[name] = type(value)
            else:
                fields = dict(fields) if fields is point.fields else fields
                fields[name] = coerce(measurement, name, value, stored)
        if reserved and tags:
            keys = tuple(tags)
            if keys not in checked_tags:
                clash = reserved.intersection(keys)
                if clash:
                    raise InvalidPoint(
                        f"tag name {sorted(clash)[0]!r} of {measurement!r} is reserved in {product}"
                    )
                checked_tags.add(keys)
        try:
            append(build(measurement, tags, fields, (point.time - EPOCH) // ONE_MICROSECOND))
        except Unwritable as exc:
            raise InvalidPoint(str(exc)) from None
    return lines, learned
