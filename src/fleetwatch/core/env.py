"""Strict readers of settings from environment variables.

Every setting has a safe default for the embedded stack; a value that cannot be parsed is an
error at start-up, never a silent fallback. Each error is a :class:`SettingsError` whose message
names the variable, the accepted form and the value given, e.g.
``FLEETWATCH_CHECK_INTERVAL must be a number of seconds, e.g. 300 for five minutes, not '5m'``.

An unset or blank variable means "use the default". ``NAME_FILE`` holds the value in a file
instead (secrets in containers); it wins over ``NAME``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


class SettingsError(ImproperlyConfigured):
    """A ``FLEETWATCH_*`` variable holds a value Fleetwatch cannot use. The message names the
    variable and says what it accepts; ``fleetwatch`` prints it alone, without a traceback."""


def _given(name: str) -> str | None:
    """The variable's text as given (a file's without its final line break), or None."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n")
        except OSError as exc:
            raise SettingsError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None
    return os.environ.get(name)


def _raw(name: str) -> str | None:
    """The variable's text, stripped, or None when unset or blank."""
    value = (_given(name) or "").strip()
    return value or None


def env_str(name: str, default: str = "") -> str:
    """The text as given (spaces kept: a password may have them), or ``default`` when unset or
    blank."""
    return default if _raw(name) is None else _given(name)


def env_bool(name: str, default: bool = False) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); anything else is an error."""
    raw = _raw(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false (or 1/0, yes/no, on/off), not {raw!r}")


def _bounded(name: str, value: float, raw: str, minimum: float | None, maximum: float | None, unit: str):
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g}{unit}, not {raw!r}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum:g}{unit}, not {raw!r}")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A decimal integer within ``[minimum, maximum]`` (either bound optional)."""
    raw = _raw(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[+-]?\d+", raw):
        raise SettingsError(f"{name} must be an integer, not {raw!r}")
    return _bounded(name, int(raw), raw, minimum, maximum, "")


def env_optional_int(name: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """Like :func:`env_int`, but None when unset (for "no override")."""
    return None if _raw(name) is None else env_int(name, 0, minimum=minimum, maximum=maximum)


# A duration is a plain number of seconds: the variables' documented unit. A unit suffix such as
# "5m" is refused (naming the variable and the form) rather than guessed at: "m" reads as minutes
# to some and months to others, and a value that silently means something else is worse than a
# refusal at start-up (issue 12's acceptance: FLEETWATCH_CHECK_INTERVAL=5m fails, naming it).
_SECONDS = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def env_seconds(
    name: str, default: float, *, minimum: float = 0, positive: bool = False, maximum: float | None = None
) -> float:
    """A duration as a number of seconds (``300``, ``0.5``); a unit suffix (``5m``) is refused.
    ``positive``: zero is refused too. Raises :class:`SettingsError` naming ``name``."""
    raw = _raw(name)
    if raw is None:
        return float(default)
    if not _SECONDS.fullmatch(raw):
        raise SettingsError(f"{name} must be a number of seconds, e.g. 300 for five minutes, not {raw!r}")
    value = float(raw)
    if positive and value <= 0:
        raise SettingsError(f"{name} must be a duration longer than 0 seconds, not {raw!r}")
    return _bounded(name, value, raw, minimum, maximum, " seconds")


def env_choice(name: str, default: str, choices: Collection[str]) -> str:
    """One of ``choices`` (compared case-insensitively, returned as spelled in ``choices``)."""
    raw = _raw(name)
    if raw is None:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")


def env_url(name: str, default: str, schemes: Collection[str], *, need_host: bool = True) -> str:
    """A URL whose scheme is one of ``schemes``; with ``need_host`` it must name a host.
    The URL is returned as given (credentials included): never log it."""
    raw = _raw(name)
    if raw is None:
        return default
    forms = ", ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise SettingsError(f"{name} must be a URL starting with {forms}, not {_safe(raw)!r}") from None
    if parts.scheme not in schemes or "://" not in raw:
        raise SettingsError(f"{name} must be a URL starting with {forms}, not {_safe(raw)!r}")
    if need_host and not parts.hostname:
        raise SettingsError(f"{name} must name a host ({parts.scheme}://host…), not {_safe(raw)!r}")
    return raw


def _safe(url: str) -> str:
    """The URL with any password replaced, for error messages."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def env_list(name: str, default: list[str]) -> list[str]:
    """Comma-separated items, each stripped; empty items dropped."""
    raw = _raw(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_json(name: str, default: Any, check: Callable[[Any], bool], form: str) -> Any:
    """A JSON value that ``check`` accepts; ``form`` describes it (with an example) in errors."""
    raw = _raw(name)
    if raw is None:
        return default
    error = SettingsError(f"{name} must be JSON: {form}, not {raw!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        raise error from None
    if not check(value):
        raise error
    return value
