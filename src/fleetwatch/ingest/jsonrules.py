"""The rules every JSON body Fleetwatch accepts obeys, agent reports and REST bodies alike.

Pure Python (no Django): ``fleetwatch.ingest.netjson`` applies them to agent reports and
``fleetwatch.api.parsers`` to every REST body, so both refuse exactly the same bodies.

- **Depth**: the top-level object or array is level 1, a container inside it level 2, and so
  on; at most :data:`MAX_DEPTH` levels. Deeper bodies exhaust the stack later (Python's ``json``
  itself, the ORM recursing into a nested lookup value), so they are refused up front.
- **Numbers**: finite only. ``NaN`` and ``±Infinity`` are not JSON, and ``1e400`` (beyond
  double range) would be read as infinity, which no store keeps.
"""

from __future__ import annotations

import math

# The deepest structure the agent sends is interfaces/N/wireless/clients/N/rrm/N (7 levels).
MAX_DEPTH = 32
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


def deeper_than(data: object, limit: int = MAX_DEPTH) -> bool:
    """Whether dicts/lists nest more than ``limit`` levels, the outermost being level 1.

    Iterative (a body nested thousands deep costs no recursion). ``[]`` is 1 level, ``[[1]]``
    2, a scalar 0."""
    if type(data) is not dict and type(data) is not list:
        return False
    pending = [(data, 1)]  # containers only: scalars cost one type check each
    while pending:
        node, level = pending.pop()
        if level > limit:
            return True
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict or kind is list:
                pending.append((child, level + 1))
    return False


def finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent → float; ``ValueError`` when beyond double
    range (``1e400``). Meant as ``json.loads(parse_float=…)``."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value
