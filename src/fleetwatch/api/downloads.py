"""File downloads of the REST API: a ``Content-Disposition`` that is valid whatever the name.

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
