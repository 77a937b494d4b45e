"""Query parameters, checked before they reach the database: a malformed value is a 400 that
names the parameter, never a 500 from the ORM (a non-UUID compared with a UUID column) or from
PostgreSQL (a NUL character in a text comparison).

For the parameters that do not filter a list: the chart API's and dashboard's (comma-separated
slugs, UUIDs, interface names) and the web pages'. The REST API's list filters are django-filter
filtersets (``<app>/api/filtersets.py``), which validate their values the same way: a 400.

``InvalidParameter`` is Django's ``BadRequest``: web pages answer Django's 400 page, the REST
API ``{"detail": "<parameter>: …"}`` (see ``fleetwatch.api.exceptions``).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping

from django.core.exceptions import BadRequest

# More than anyone selects by hand, fewer than the database's limit of bound variables.
MAX_VALUES = 100
_SLUG = re.compile(r"[-a-zA-Z0-9_]+\Z")


class InvalidParameter(BadRequest):
    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def text(params: Mapping, name: str, default: str = "") -> str:
    """A free-text parameter, refused if it holds control characters (NUL and the like)."""
    value = params.get(name, default)
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidParameter(name, f"{_shown(value)} contains a control character")
    return value


def text_list(params: Mapping, name: str) -> list[str]:
    """``a,b,c``: the non-empty items, at most ``MAX_VALUES``."""
    items = [item for item in text(params, name).split(",") if item]
    if len(items) > MAX_VALUES:
        raise InvalidParameter(name, f"at most {MAX_VALUES} values")
    return items


def slug_list(params: Mapping, name: str) -> list[str]:
    items = text_list(params, name)
    for item in items:
        if not _SLUG.match(item):
            raise InvalidParameter(name, f"{_shown(item)} is not a slug (letters, digits, - and _)")
    return items


def slug(params: Mapping, name: str) -> str:
    value = text(params, name)
    if value and not _SLUG.match(value):
        raise InvalidParameter(name, f"{_shown(value)} is not a slug (letters, digits, - and _)")
    return value


def _uuid(name: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidParameter(name, f"{_shown(value)} is not a valid UUID") from None


def uuid_list(params: Mapping, name: str) -> list[uuid.UUID]:
    return [_uuid(name, item) for item in text_list(params, name)]


def integer(params: Mapping, name: str) -> int | None:
    """A database id: digits only, within a signed 64-bit column."""
    value = text(params, name).strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) >= 2**63:
        raise InvalidParameter(name, f"{_shown(value)} is not an id")
    return int(value)
