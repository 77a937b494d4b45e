"""InfluxQL text, escaped so that no tag or string value can change a query.

Names (measurements, tags, fields) are already restricted by ``model.check_name``; values are
arbitrary printable text and are always escaped here, never interpolated raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fleetwatch.timeseries.model import Where


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
