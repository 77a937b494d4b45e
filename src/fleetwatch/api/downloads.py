"""File downloads of the REST API: which lists a client asks for as CSV (:func:`wants_csv`,
:class:`FixedNegotiation`), and a ``Content-Disposition`` that is valid whatever the name
(:func:`attachment`).

The lists that offer CSV (the backup runs, the usage collector's answers) are JSON by default;
``?format=csv`` or an ``Accept: text/csv`` without ``application/json`` asks for CSV. The view
chooses the renderer from :func:`wants_csv`, so content negotiation never refuses (no 406).

Names come from users (a device called ``ap "lobby"``, ``Café/1`` or with a newline, which
Django refuses in a header: a 500). The header carries two forms (RFC 6266): ``filename=``,
an ASCII-only quoted string for old clients, and ``filename*=UTF-8''…`` (RFC 5987), the name
itself percent-encoded. Both lose what a file name must not hold: control characters, path
separators and leading dots.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")
_ASCII_KEPT = re.compile(r"[A-Za-z0-9 ._()-]")


def safe_filename(name: str, fallback: str = "download") -> str:
    """The name without control characters, slashes or backslashes (``_`` instead), nor
    leading dots and spaces; ``fallback`` if nothing is left."""
    cleaned = _UNSAFE.sub("_", name).lstrip(". ").rstrip()
    return cleaned or fallback


def ascii_filename(name: str) -> str:
    """Accents dropped (``é`` → ``e``), any other character outside ``A-Z a-z 0-9 space . _ ( ) -``
    replaced by ``_``."""
    out = []
    for char in unicodedata.normalize("NFKD", name):
        if unicodedata.combining(char):
            continue
        out.append(char if _ASCII_KEPT.fullmatch(char) else "_")
    return "".join(out)


def attachment(name: str, fallback: str = "download") -> str:
    """``Content-Disposition`` value offering ``name`` as a download."""
    name = safe_filename(name, fallback)
    return f"attachment; filename=\"{ascii_filename(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


class FixedNegotiation(DefaultContentNegotiation):
    """No 406: a client's ``Accept`` never refuses an answer. The view offers the renderers it
    means to use (first the one it chose, e.g. CSV when :func:`wants_csv`), and the first is
    taken whatever the ``Accept`` header says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def wants_csv(request) -> bool:
    """Whether a DRF ``request`` asks for CSV: ``?format=csv`` (``?format=json``: no), else an
    ``Accept`` header naming ``text/csv`` and not ``application/json``.

    Raises :class:`~rest_framework.exceptions.ValidationError` (a 400, under ``errors.format``)
    for another ``format`` value.
    """
    wanted = request.query_params.get("format")
    if wanted is not None:
        if wanted not in ("json", "csv"):
            raise ValidationError({"format": [f"'{wanted[:40]}' is not a format of this list: json or csv."]})
        return wanted == "csv"
    accept = request.META.get("HTTP_ACCEPT", "")
    return "text/csv" in accept and "application/json" not in accept
