"""Statistics every benchmark prints, computed one way."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (``p`` in 0–100) of ``values``, in any order: the
    smallest value with at least ``p`` % of the values at or below it. None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, round(p / 100 * len(ordered)) - 1)]
