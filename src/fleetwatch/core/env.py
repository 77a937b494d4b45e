"""Strict readers of settings from environment variables.

Every setting has a safe default for the embedded stack; a value that cannot be parsed is an
error at start-up, never a silent fallback. ``NAME_FILE`` holds a secret in a file (containers).
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def env_seconds(name: str, default: float) -> float:
    """A duration: seconds (``30``, ``0.5``) or with a unit (``30s``, ``5m``, ``2h``, ``1d``)."""
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return float(default)
    number, unit = raw.rstrip("smhd"), raw[len(raw.rstrip("smhd")) :]
    try:
        value = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ImproperlyConfigured(
            f"{name} must be a duration such as 30, 30s, 5m, 2h or 1d, not {raw!r}"
        ) from None
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]
