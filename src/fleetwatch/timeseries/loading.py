"""Backend selection: one settings dict (or one URL) names the backend and its connection.

    TIMESERIES_DATABASE = {"BACKEND": "postgresql", "HOST": "127.0.0.1", "PORT": 5432,
                           "NAME": "fleetwatch", "USER": "...", "PASSWORD": "...",
                           "OPTIONS": {...}, "RETENTION": {"short": "24h", "default": "26280h"}}

or, from the environment, ``FLEETWATCH_TIMESERIES=postgresql://user:pass@127.0.0.1:5432/db``.
``BACKEND`` is a built-in short name or the dotted path of a package exporting ``Backend``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fleetwatch.timeseries.backend import (
    DEFAULT_RETENTION,
    BackendConfig,
    BaseBackend,
    parse_duration,
)
from fleetwatch.timeseries.errors import ConfigurationError

BUILTIN_BACKENDS: dict[str, str] = {
    "sqlite": "fleetwatch.timeseries.backends.sqlite",
    "postgresql": "fleetwatch.timeseries.backends.postgresql",
    "influxdb": "fleetwatch.timeseries.backends.influxdb",
    "influxdb2": "fleetwatch.timeseries.backends.influxdb2",
    "elasticsearch": "fleetwatch.timeseries.backends.elasticsearch",
}
URL_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "influxdb": "influxdb",
    "influxdb2": "influxdb2",
    "elasticsearch": "elasticsearch",
}


def parse_url(url: str) -> dict[str, Any]:
    """``scheme://user:password@host:port/name?option=value`` → settings dict.

    SQLite follows SQLAlchemy: ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db``,
    ``sqlite://`` (in memory). Query parameters become OPTIONS; ``retention_<tier>=<duration>``
    sets a retention tier.
    """
    parts = urlsplit(url)
    scheme = URL_SCHEMES.get(parts.scheme)
    if scheme is None:
        known = ", ".join(sorted(URL_SCHEMES))
        raise ConfigurationError(f"unknown time-series URL scheme {parts.scheme!r}; use one of {known}")
    options = dict(parse_qsl(parts.query))
    retention = {k[len("retention_") :]: v for k, v in options.items() if k.startswith("retention_")}
    options = {k: v for k, v in options.items() if not k.startswith("retention_")}
    settings: dict[str, Any] = {"BACKEND": scheme, "OPTIONS": options}
    if retention:
        settings["RETENTION"] = {**DEFAULT_RETENTION, **retention}
    if scheme == "sqlite":
        path = unquote(parts.path)
        settings["NAME"] = path[1:] if path.startswith("/") else path
        if not settings["NAME"]:
            settings["NAME"] = ":memory:"
        return settings
    settings.update(
        HOST=parts.hostname or "",
        PORT=parts.port,
        NAME=unquote(parts.path.lstrip("/")),
        USER=unquote(parts.username or ""),
        PASSWORD=unquote(parts.password or ""),
    )
    return settings


def configure(settings: Mapping[str, Any] | str) -> BackendConfig:
    """Normalise a settings dict or URL once, so backends never guess at missing keys."""
    if isinstance(settings, str):
        settings = parse_url(settings)
    if "BACKEND" not in settings:
        raise ConfigurationError("TIMESERIES_DATABASE needs a BACKEND")
    retention = settings.get("RETENTION") or DEFAULT_RETENTION
    port = settings.get("PORT")
    return BackendConfig(
        backend=str(settings["BACKEND"]),
        name=str(settings.get("NAME") or ""),
        host=str(settings.get("HOST") or ""),
        port=int(port) if port not in (None, "") else None,
        user=str(settings.get("USER") or ""),
        password=str(settings.get("PASSWORD") or ""),
        options=dict(settings.get("OPTIONS") or {}),
        retention={str(k): parse_duration(v) for k, v in retention.items()},
    )


def backend_class(name: str) -> type[BaseBackend]:
    module_path = BUILTIN_BACKENDS.get(name, name)
    if "." not in module_path:
        raise ConfigurationError(
            f"unknown time-series backend {name!r}; built-in: {', '.join(BUILTIN_BACKENDS)}"
        )
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import time-series backend {module_path!r}: {exc}") from exc
    backend = getattr(module, "Backend", None)
    if not (isinstance(backend, type) and issubclass(backend, BaseBackend)):
        raise ConfigurationError(f"{module_path} does not export a Backend class")
    return backend


def load_backend(
    settings: Mapping[str, Any] | str | BackendConfig,
    clock: Callable[[], datetime] | None = None,
) -> BaseBackend:
    config = settings if isinstance(settings, BackendConfig) else configure(settings)
    return backend_class(config.backend)(config, clock=clock)
