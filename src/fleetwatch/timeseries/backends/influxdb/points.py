"""What both InfluxDB backends (1.x and 2.x) do with points on their way in and out: field
kinds, lossless type conversion, checked line protocol, and the mode of raw values."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from fleetwatch.timeseries.backends.influxdb.influxql import LineBuilder, Unwritable
from fleetwatch.timeseries.errors import FieldTypeError, InvalidPoint
from fleetwatch.timeseries.model import EPOCH, ONE_MICROSECOND, Point

KIND_OF_TYPE = {float: "float", int: "integer", bool: "boolean", str: "string"}


def flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def convert(value: Any, kind: str | None) -> Any:
    """A JSON value back in its stored type (InfluxDB's JSON writes 2.0 as 2)."""
    if value is None:
        return None
    if kind == "float":
        return float(value)
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return bool(value)
    return value


def mode_of(values: list[tuple[int, Any]]) -> Any:
    """Most frequent value; ties go to the value seen first, then the smallest (as SQL)."""
    counts: Counter = Counter()
    first: dict[Any, int] = {}
    for moment, value in values:
        counts[value] += 1
        if value not in first or moment < first[value]:
            first[value] = moment
    return min(counts, key=lambda v: (-counts[v], first[v], v))


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
