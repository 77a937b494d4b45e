"""Flux text and annotated CSV: every value escaped, never interpolated raw.

Names (measurements, tags, fields) are already restricted by ``model.check_name``; tag values,
string field values and zone names are arbitrary text and always go through ``string()``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fleetwatch.timeseries.errors import TimeseriesError
from fleetwatch.timeseries.model import Where

# The widest range Flux and the delete API accept (int64 nanoseconds).
MIN_TIME = "1677-09-21T00:12:43.145224194Z"
MAX_TIME = "2262-04-11T23:47:16.854775806Z"

# ------------------------------------------------------------------ literals

_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'[\\"$\x00-\x1f\x7f]')


def _escape_char(match: re.Match) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\x{ord(char):02x}"


def string(value: str) -> str:
    """A Flux string literal: quotes, backslashes, ``${`` (interpolation) and control characters
    escaped."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'


def strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(string(v) for v in values) + "]"


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = frozenset(
    "and or not empty in import package return option builtin test testcase if then else exists".split()
)


def column(name: str) -> str:
    """``r.name``, or ``r["name"]`` for names Flux would not read as an identifier."""
    if _IDENT.match(name) and name not in _KEYWORDS:
        return f"r.{name}"
    return f"r[{string(name)}]"


def number(value: int | float | bool) -> str:
    if isinstance(value, bool):
        return "1.0" if value else "0.0"
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    # Flux float literals have no exponent: parse those from a string, exactly.
    return text if "e" not in text and "n" not in text else f'float(v: "{text}")'


_EPOCH_DATE = date(1970, 1, 1)


def time(micros: int) -> str:
    """An RFC 3339 time literal with microseconds."""
    seconds, us = divmod(micros, 1_000_000)
    days, rest = divmod(seconds, 86400)
    day = _EPOCH_DATE + timedelta(days=days)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{day.isoformat()}T{hours:02d}:{minutes:02d}:{secs:02d}.{us:06d}Z"


_DAY_SECONDS: dict[str, int] = {}


def micros(text: str) -> int:
    """Microseconds since the epoch of an RFC 3339 UTC time as Flux prints it (``…Z``, 0 to 9
    fractional digits, truncated to microseconds)."""
    day = _DAY_SECONDS.get(text[:10])
    if day is None:
        day = (date.fromisoformat(text[:10]) - _EPOCH_DATE).days * 86400
        if len(_DAY_SECONDS) < 100_000:
            _DAY_SECONDS[text[:10]] = day
    seconds = day + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
    fraction = text[20:-1] if text[19] == "." else ""
    return seconds * 1_000_000 + (int(fraction[:6].ljust(6, "0")) if fraction else 0)


# ------------------------------------------------------------------ predicates


def any_of(name: str, values: Sequence[str]) -> str:
    ref = column(name)
    alternatives = [f"{ref} == {string(v)}" for v in values]
    return alternatives[0] if len(alternatives) == 1 else "(" + " or ".join(alternatives) + ")"


def series_predicate(
    measurements: Sequence[str],
    tags: Mapping[str, Sequence[str]] | None = None,
    fields: Sequence[str] | None = None,
) -> str:
    """Measurements, tag filters (a list of values is an OR) and fields, for ``filter()``: the
    form InfluxDB pushes down to its storage engine."""
    parts = [any_of("_measurement", measurements)]
    parts += [any_of(key, values) for key, values in (tags or {}).items()]
    if fields is not None:
        parts.append(any_of("_field", fields) if fields else "false")
    return " and ".join(parts)


FLUX_OPS = {"=": "==", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_COMPARE = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def where_condition(where: Where, kind: str | None) -> str:
    """One comparison on a pivoted row, typed after the field's stored kind (Flux refuses to
    compare a string with a number): a value of the wrong kind matches nothing, as in SQL."""
    ref = column(where.field)
    value = where.value
    if kind is None:
        return "false"
    if kind == "string":
        return f"{ref} {FLUX_OPS[where.op]} {string(value)}" if isinstance(value, str) else "false"
    if isinstance(value, str):
        return "false"
    if kind == "boolean":
        # Booleans compare as 1 and 0 (as the SQL backends store them).
        matching = [b for b in (False, True) if _COMPARE[where.op](float(b), float(value))]
        if len(matching) == 2:
            return f"exists {ref}"
        if matching:
            return f"{ref} == {'true' if matching[0] else 'false'}"
        return "false"
    return f"{ref} {FLUX_OPS[where.op]} {number(value)}"


# ------------------------------------------------------------------ delete predicates


def _predicate_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def delete_predicate(measurement: str | None, tags: Iterable[tuple[str, str]]) -> str:
    """The delete API's predicate: ``"key"="value" AND …`` (no OR: one call per combination)."""
    parts = [f'"_measurement"={_predicate_quote(measurement)}'] if measurement else []
    parts += [f"{_predicate_quote(key)}={_predicate_quote(value)}" for key, value in tags]
    return " AND ".join(parts)


# ------------------------------------------------------------------ annotated CSV


@dataclass
class Block:
    """Rows sharing one schema in Flux's annotated CSV (one or more tables of one result)."""

    result: str
    columns: dict[str, int]  # name → position in each row
    types: dict[str, str]
    group: frozenset[str]
    rows: list[list[str]] = field(default_factory=list)

    def index(self, name: str) -> int | None:
        return self.columns.get(name)


_CONVERT = {
    "double": float,
    "long": int,
    "unsignedLong": int,
    "boolean": lambda text: text == "true",
}


def converter(kind: str):
    """Text → Python value for a CSV data type (strings and times stay text)."""
    return _CONVERT.get(kind)


def parse(text: str) -> list[Block]:
    """Split Flux's annotated CSV into blocks; an error table raises ``TimeseriesError``."""
    blocks: list[Block] = []
    datatypes: list[str] = []
    groups: list[str] = []
    defaults: list[str] = []
    block: Block | None = None
    for row in csv.reader(io.StringIO(text, newline="")):
        if not row or row == [""]:
            block = None
            continue
        first = row[0]
        if first == "#datatype":
            datatypes, block = row, None
            continue
        if first == "#group":
            groups = row
            continue
        if first == "#default":
            defaults = row
            continue
        if block is None:
            if row[1:3] == ["error", "reference"]:
                block = Block("error", {"error": 1, "reference": 2}, {}, frozenset())
                blocks.append(block)
                continue
            # Columns 0-2 are the annotation column, "result" and "table"; a tag or field may
            # carry either name too, so columns are found by position from 3 on.
            columns = {name: i for i, name in enumerate(row) if i >= 3}
            types = {name: datatypes[i] if i < len(datatypes) else "string" for name, i in columns.items()}
            group = frozenset(name for name, i in columns.items() if i < len(groups) and groups[i] == "true")
            result = defaults[1] if len(defaults) > 1 else ""
            block = Block(result, columns, types, group)
            blocks.append(block)
            continue
        if block.result == "error":
            raise TimeseriesError(f"InfluxDB failed the query: {row[1] if len(row) > 1 else row}")
        if len(row) > 1 and row[1] and row[1] != block.result:
            # A result named on the row itself (no #default): split the block.
            block = Block(row[1], block.columns, block.types, block.group)
            blocks.append(block)
        block.rows.append(row)
    return blocks


def by_result(blocks: list[Block]) -> dict[str, list[Block]]:
    results: dict[str, list[Block]] = {}
    for block in blocks:
        if block.rows:
            results.setdefault(block.result, []).append(block)
    return results


def values(block: Block, name: str, empty_string: str | None = "") -> list[Any]:
    """The typed values of one column: None where empty, except for strings, whose empty cells
    are ``empty_string`` (annotated CSV writes "" and null alike)."""
    position = block.columns.get(name)
    if position is None:
        return [None] * len(block.rows)
    convert = _CONVERT.get(block.types.get(name, "string"))
    if convert is None:
        # InfluxDB writes its CSV with CRLF line ends, a newline inside a value included (and
        # drops carriage returns of values): "\r\n" in a cell is a newline of the value.
        cells = [row[position] for row in block.rows]
        cells = [c.replace("\r\n", "\n") if "\r" in c else c for c in cells]
        return cells if empty_string == "" else [c or empty_string for c in cells]
    return [convert(row[position]) if row[position] != "" else None for row in block.rows]
