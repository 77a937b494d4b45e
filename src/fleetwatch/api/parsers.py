"""Request-body parsers of the REST API: a body that cannot be accepted is a 400, never a 500.

DRF's own parsers let three kinds of body through to a 500: JSON nested thousands of levels
deep (Python's ``json`` raises ``RecursionError``), nesting shallow enough to parse but deep
enough to exhaust the stack later (the ORM recurses into a nested list given as a lookup
value), and text the declared charset cannot decode (``charset=punycode``). They also read
``1e400`` as infinity. These parsers turn all of that into a ``ParseError`` (400, nothing
written); ``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`` makes them the default of every view.
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# One set of JSON rules for agent reports and REST bodies (depth counted the same way).
from fleetwatch.ingest.jsonrules import MAX_DEPTH, deeper_than, finite_float

TOO_DEEP = f"JSON parse error - nested deeper than {MAX_DEPTH} levels"


def _encoding(parser_context) -> str:
    return (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


class JSONParser(parsers.JSONParser):
    """Strict JSON: finite numbers only, at most ``MAX_DEPTH`` levels of nesting."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = _encoding(parser_context)
        try:
            text = stream.read().decode(encoding)
        except LookupError:
            raise ParseError(f"JSON parse error - {encoding!r} is not a text encoding") from None
        except UnicodeError:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant, parse_float=finite_float)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if deeper_than(data, MAX_DEPTH):
            raise ParseError(TOO_DEEP)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except UnicodeError:
            raise ParseError(
                f"Form parse error - the body is not valid {_encoding(parser_context)}"
            ) from None


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except UnicodeError:
            raise ParseError(
                f"Multipart parse error - the body is not valid {_encoding(parser_context)}"
            ) from None
