"""InfluxDB line protocol → parsed lines (pure: no Django, no storage).

What Telegraf and the InfluxDB clients send to ``/write`` and ``/api/v2/write``::

    measurement[,tag=value…] field=value[,field=value…] [timestamp]

Rules, as InfluxDB documents them (docs.influxdata.com, "Line protocol"):

* lines end with ``\\n`` (a trailing ``\\r`` is dropped); sections are separated by spaces; blank lines and lines whose first
  non-blank character is ``#`` (comments) are skipped; newlines cannot be escaped;
* the measurement escapes ``,`` and space with a backslash; tag keys, tag values and field keys
  escape ``,``, ``=`` and space; a backslash before any other character is kept as written;
* field values: a float (``1``, ``-1.5``, ``2e-3``), an integer ``12i``, an unsigned integer
  ``12u``, a string ``"text"`` (escaping ``"`` and ``\\``) or a boolean (``t``, ``T``, ``true``,
  ``True``, ``TRUE``, ``f``, ``F``, ``false``, ``False``, ``FALSE``);
* the timestamp is optional (``default_time`` then applies): an integer in the request's
  precision (``ns`` by default), converted here to microseconds, the storage layer's resolution
  (floored: two points 1 ns apart within the same µs are the same point).

Bounds: integers are 64-bit signed; unsigned integers above 2**63-1 are refused because no store
keeps them (InfluxDB itself accepts up to 2**64-1). Floats must be finite.

A line that does not parse raises :class:`LineError` naming its (1-based) line number and the
reason in InfluxDB's words (``line 3: invalid field format``): callers refuse the whole
request, as InfluxDB does.

Speed: most lines (no backslash, no quote) take a fast path of ``str.split``; anything it is
unsure about goes through the character scanner, which is the reference (a property test checks
both agree on generated lines).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Precision names → microseconds per unit (None: nanoseconds, divided). v2 knows the first four;
# InfluxDB 1.x's /write also n, u, m and h.
PRECISIONS_V2 = ("ns", "us", "ms", "s")
PRECISIONS_V1 = ("n", "ns", "u", "us", "ms", "s", "m", "h")
_MICROS_PER = {"us": 1, "u": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# datetime's range in µs since the epoch (years 1 to 9999): a timestamp outside it cannot be stored.
_MIN_MICROS = -62_135_596_800_000_000
_MAX_MICROS = 253_402_300_799_999_999

_FLOAT_RE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"-?[0-9]+i")
_UINT_RE = re.compile(r"[0-9]+u")
_TIME_RE = re.compile(r"-?[0-9]+")
_BOOLEANS = {
    "t": True,
    "T": True,
    "true": True,
    "True": True,
    "TRUE": True,
    "f": False,
    "F": False,
    "false": False,
    "False": False,
    "FALSE": False,
}

FieldValue = float | int | str | bool

# Errors show at most this much of the line they are about.
SHOWN = 80


class LineError(ValueError):
    """A line that is not valid line protocol: ``line`` (1-based), ``reason`` and ``text``."""

    def __init__(self, line: int, reason: str, text: str = ""):
        self.line = line
        self.reason = reason
        self.text = text
        shown = text if len(text) <= SHOWN else text[:SHOWN] + "…"
        super().__init__(f"line {line}: {reason}" + (f" ({shown!r})" if text else ""))


class Line(NamedTuple):
    """One parsed line: ``time`` is µs since the epoch, or None when the line had none. Lines of
    the same series key may share one ``tags`` dict: treat it as read-only."""

    number: int
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time: int | None


class _Bad(Exception):
    """Internal: a reason found by the scanner (the caller adds line number and text)."""


def precision_divisor(precision: str, allowed: tuple[str, ...] = PRECISIONS_V2) -> tuple[int, int]:
    """``(multiplier, divisor)`` turning a timestamp in ``precision`` into µs (ValueError naming
    the precision if it is not one of ``allowed``)."""
    if precision not in allowed:
        raise ValueError(f"invalid precision {precision!r}: use one of {', '.join(allowed)}")
    if precision in ("n", "ns"):
        return 1, 1000
    return _MICROS_PER[precision], 1


def parse(text: str, precision: str = "ns", allowed: tuple[str, ...] = PRECISIONS_V2) -> list[Line]:
    """Every line of ``text`` (blank lines and comments skipped), in order.

    Raises :class:`LineError` for the first bad line, ValueError for an unknown ``precision``.
    """
    multiplier, divisor = precision_divisor(precision, allowed)
    out: list[Line] = []
    append = out.append
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r")
        if not line or line[0] == "#":
            continue
        parsed = _fast(line) if ("\\" not in line and '"' not in line) else None
        if parsed is None:
            try:
                parsed = _scan(line)
            except _Bad as exc:
                raise LineError(number, str(exc), line) from None
        measurement, tags, fields, stamp = parsed
        moment = None
        if stamp is not None:
            value = int(stamp)
            if not INT64_MIN <= value <= INT64_MAX:
                raise LineError(number, "bad timestamp", line)
            moment = value * multiplier if divisor == 1 else value // divisor
            if not _MIN_MICROS <= moment <= _MAX_MICROS:
                raise LineError(number, "bad timestamp", line)
        append(Line(number, measurement, tags, fields, moment))
    return out


# --------------------------------------------------------------------------- values


def _value(text: str) -> FieldValue:
    """A field value that is not a string (raises _Bad with InfluxDB's reason)."""
    if not text:
        raise _Bad("missing field value")
    last = text[-1]
    if last == "i" and _INT_RE.fullmatch(text):
        value = int(text[:-1])
        if not INT64_MIN <= value <= INT64_MAX:
            raise _Bad("value out of range")
        return value
    if last == "u" and _UINT_RE.fullmatch(text):
        value = int(text[:-1])
        if value > INT64_MAX:
            raise _Bad("value out of range (unsigned integers above 9223372036854775807 cannot be stored)")
        return value
    boolean = _BOOLEANS.get(text)
    if boolean is not None:
        return boolean
    if _FLOAT_RE.fullmatch(text):
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise _Bad("value out of range")
        return value
    if text[0] in "tTfF":
        raise _Bad("invalid boolean")
    raise _Bad("invalid number")


# --------------------------------------------------------------------------- fast path

# Series keys (``measurement,tag=value…``) already split: a Telegraf sends the same few hundred
# over and over. Lines of one series key share its tags dict (read it, never change it).
HEADS_KEPT = 50_000
_heads: dict[str, tuple[str, dict[str, str]]] = {}


def _head(head: str) -> tuple[str, dict[str, str]] | None:
    names = head.split(",")
    measurement = names[0]
    if not measurement:
        return None
    tags = {}
    for pair in names[1:]:
        key, _sep, value = pair.partition("=")
        if not key or not value or "=" in value:
            return None
        tags[key] = value
    if len(tags) != len(names) - 1:
        return None  # a duplicate key: the scanner says so
    return measurement, tags


def _fast(line: str):
    """``(measurement, tags, fields, timestamp text)`` of a line without backslashes and quotes,
    or None when the line is unusual in any way (the scanner then decides)."""
    parts = line.split(" ")
    if len(parts) == 2:
        head, body = parts
        stamp = None
    elif len(parts) == 3:
        head, body, stamp = parts
        if not _TIME_RE.fullmatch(stamp):
            return None
    else:
        return None
    cached = _heads.get(head)
    if cached is None:
        cached = _head(head)
        if cached is None:
            return None
        if len(_heads) >= HEADS_KEPT:
            _heads.clear()
        _heads[head] = cached
    measurement, tags = cached
    fields = {}
    for pair in body.split(","):
        key, _sep, value = pair.partition("=")
        if not key or not value or "=" in value:
            return None
        try:
            fields[key] = _value(value)
        except _Bad:
            return None
    return measurement, tags, fields, stamp


# --------------------------------------------------------------------------- scanner


def _name(line: str, pos: int, stops: str, escapable: str) -> tuple[str, int]:
    """Read up to the first unescaped character of ``stops`` (or the end); ``\\`` before a
    character of ``escapable`` stands for that character, before any other it is kept."""
    out = []
    n = len(line)
    while pos < n:
        char = line[pos]
        if char == "\\" and pos + 1 < n and line[pos + 1] in escapable:
            out.append(line[pos + 1])
            pos += 2
            continue
        if char in stops:
            break
        out.append(char)
        pos += 1
    return "".join(out), pos


def _skip_spaces(line: str, pos: int) -> int:
    while pos < len(line) and line[pos] == " ":
        pos += 1
    return pos


def _scan(line: str):
    """``(measurement, tags, fields, timestamp text)`` of any line, or _Bad with the reason."""
    n = len(line)
    if line[0] == ",":
        raise _Bad("missing measurement")
    measurement, pos = _name(line, 0, ", ", ", ")
    if not measurement:
        raise _Bad("missing measurement")
    tags: dict[str, str] = {}
    while pos < n and line[pos] == ",":
        key, pos = _name(line, pos + 1, "=, ", ",= ")
        if not key:
            raise _Bad("missing tag key")
        if pos >= n or line[pos] != "=":
            raise _Bad("missing tag value")
        value, pos = _name(line, pos + 1, "=, ", ",= ")
        if not value:
            raise _Bad("missing tag value")
        if pos < n and line[pos] == "=":
            raise _Bad("invalid tag format")
        if key in tags:
            raise _Bad("duplicate tags")
        tags[key] = value
    pos = _skip_spaces(line, pos)
    if pos >= n:
        raise _Bad("missing fields")
    fields: dict[str, FieldValue] = {}
    while True:
        key, pos = _name(line, pos, "=, ", ",= ")
        if not key:
            raise _Bad("missing field key" if fields else "missing fields")
        if pos >= n or line[pos] != "=":
            raise _Bad("missing field value")
        pos += 1
        if pos < n and line[pos] == '"':
            text, pos = _string(line, pos + 1)
            fields[key] = text
        else:
            start = pos
            while pos < n and line[pos] not in ", ":
                pos += 1
            fields[key] = _value(line[start:pos])
        if pos >= n:
            return measurement, tags, fields, None
        if line[pos] == ",":
            pos += 1
            continue
        if line[pos] != " ":
            raise _Bad("invalid field format")
        break
    pos = _skip_spaces(line, pos)
    stamp = line[pos:]
    if not stamp:
        return measurement, tags, fields, None
    if not _TIME_RE.fullmatch(stamp):
        raise _Bad("bad timestamp")
    return measurement, tags, fields, stamp


def _string(line: str, pos: int) -> tuple[str, int]:
    """A string field value from just after its opening quote; returns it and the position after
    its closing quote (``\\"`` and ``\\\\`` are escapes; other backslashes are kept)."""
    out = []
    n = len(line)
    while pos < n:
        char = line[pos]
        if char == "\\" and pos + 1 < n and line[pos + 1] in '"\\':
            out.append(line[pos + 1])
            pos += 2
            continue
        if char == '"':
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise _Bad("unbalanced quotes")
