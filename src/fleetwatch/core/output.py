"""How a command prints what it made: ``key: value`` lines for people (the default, unchanged
since before ``--format``), or, with ``--format json``, exactly one JSON document on stdout for
scripts (``fleetwatch device create … --format json | jq -r .key``)."""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("text", "json")


def add_format(parser) -> None:
    """Add ``--format text|json`` (default ``text``) to an argparse parser."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text: one 'key: value' line per field shown; json: one JSON document with every field",
    )


def render(data: dict[str, Any], fmt: str, text: list[str] | None = None) -> str:
    """``data`` as ``fmt``: ``json`` gives every key (values that JSON has no type for, such as
    UUIDs and times, as strings); ``text`` gives ``key: value`` lines of the keys ``text`` names
    (all when None)."""
    if fmt == "json":
        return json.dumps(data, default=str)
    return "\n".join(f"{key}: {data[key]}" for key in (list(data) if text is None else text))
