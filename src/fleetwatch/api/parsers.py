"""Request-body parsers of the REST API: a body that cannot be accepted is a 400, never a 500.

DRF's own parsers let three kinds of body through to a 500: JSON nested thousands of levels
deep (Python's ``json`` raises ``RecursionError``), nesting shallow enough to parse but deep
enough to exhaust the stack later (the ORM recurses into a nested list given as a lookup
value), and text the declared charset cannot decode (``charset=punycode``). They also read
``1e400`` as infinity. These parsers turn all of that into a ``ParseError`` (400, nothing
written); ``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`` makes them the default of every view.
"""

from __future__ import annotations

import io
import json

from django.conf import settings
from rest_framework import parsers, status
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


class BodyTooLarge(ParseError):
    """413: the body is above the view's limit; nothing was read past it, nothing stored."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def check_body_size(request, limit: int) -> None:
    """Raise :class:`BodyTooLarge` before reading a body whose ``Content-Length`` is above
    ``limit`` bytes (a chunked body is bounded by :class:`BoundedJSONParser` as it is read)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise BodyTooLarge(f"The body is larger than {limit} bytes; nothing was stored.")


class BoundedJSONParser(parsers.BaseParser):
    """:class:`JSONParser`'s rules on at most ``limit`` bytes (a subclass sets it): a larger
    body, with or without ``Content-Length``, is a 413. Not a ``JSONParser`` subclass on
    purpose: DRF gives those ``request.body``, which Django caps at ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    (2.5 MB) with a bare 400; this parser reads the request's stream itself."""

    media_type = "application/json"
    limit: int = 0

    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read(self.limit + 1) if stream is not None else b""
        if len(data) > self.limit:
            raise BodyTooLarge(f"The body is larger than {self.limit} bytes; nothing was stored.")
        return JSONParser().parse(io.BytesIO(data), media_type, parser_context)


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
