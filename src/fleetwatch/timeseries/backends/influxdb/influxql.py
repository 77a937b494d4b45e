"""Line protocol and InfluxQL text, escaped so that no tag or string value can change a query.

Names (measurements, tags, fields) are already restricted by ``model.check_name``; values are
arbitrary printable text and are always escaped here, never interpolated raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fleetwatch.timeseries.model import Where

# ------------------------------------------------------------------ line protocol


class Unwritable(ValueError):
    """A tag value line protocol cannot carry (see ``_escape_key``)."""


_ESCAPED_IN_KEYS = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})


def _escape_key(text: str) -> str:
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
    return text.translate(_ESCAPED_IN_KEYS)


def field_value(value) -> str:
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
            head = measurement + "".join(f",{_escape_key(k)}={_escape_key(tags[k])}" for k in sorted(tags))
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
                key = keys[name] = _escape_key(name)
            kind = type(value)
            if kind is float:
                parts.append(f"{key}={value!r}")
            elif kind is int:
                parts.append(f"{key}={value}i")
            else:
                parts.append(f"{key}={field_value(value)}")
        return f"{head} {','.join(parts)} {micros}"


# ------------------------------------------------------------------ InfluxQL


def ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return string(value)


def source(rp: str, measurement: str) -> str:
    return f"{ident(rp)}.{ident(measurement)}"


def sources(rp: str, measurements: Iterable[str]) -> str:
    return ", ".join(source(rp, m) for m in measurements)


def tag_conditions(tags: Mapping[str, Sequence[str]] | None) -> list[str]:
    conditions = []
    for key, values in (tags or {}).items():
        alternatives = [f"{ident(key)} = {string(v)}" for v in values]
        conditions.append(
            alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"
        )
    return conditions


def where_conditions(where: Sequence[Where]) -> list[str]:
    return [f"{ident(w.field)} {'<>' if w.op == '!=' else w.op} {literal(w.value)}" for w in where]


def time_conditions(
    since: int | None = None, until: int | None = None, before: int | None = None
) -> list[str]:
    """Microsecond bounds: ``since`` and ``until`` inclusive, ``before`` exclusive."""
    conditions = []
    if since is not None:
        conditions.append(f"time >= {since}u")
    if until is not None:
        conditions.append(f"time <= {until}u")
    if before is not None:
        conditions.append(f"time < {before}u")
    return conditions


def where_clause(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def duration(micros: int) -> str:
    """An InfluxQL duration literal; microseconds are exact whatever the interval."""
    return f"{micros}u"
