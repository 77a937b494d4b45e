"""Values read back from InfluxDB 1.x: its JSON answers lose a value's type (``2.0`` comes back
as ``2``), and the field kinds the server reports give it back."""

from __future__ import annotations

from typing import Any


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
