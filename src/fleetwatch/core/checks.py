"""Django system checks of Fleetwatch's configuration, run by every ``fleetwatch`` command that
checks (``check``, ``migrate``, ``serve``'s migrate …) and so before the first request.

The registered checks read the settings and look for installed packages only: they are fast
and contact no server. ``fleetwatch check --connect`` (fleetwatch.core's ``check`` command) adds
:func:`check_connectivity`, tagged ``connectivity``, which does contact the time-series store and
the broker.

=====================  ==================================================================
``fleetwatch.E001``    the time-series settings cannot be used (URL, backend, retention)
``fleetwatch.E002``    the time-series backend's client package is not installed
``fleetwatch.E003``    the broker URL's scheme is not one Fleetwatch supports
``fleetwatch.E004``    the broker's client package is not installed
``fleetwatch.E005``    e-mail: STARTTLS and implicit TLS both on
``fleetwatch.E006``    e-mail: the port is not an integer from 1 to 65535
``fleetwatch.E007``    e-mail: the from address is not an e-mail address
``fleetwatch.W008``    e-mail: a password would be sent to a non-loopback host without TLS
``fleetwatch.E009``    ``FLEETWATCH_AUTO_CHECKS`` names a check type that does not exist
                       (registered by the monitoring app, which owns the check types:
                       fleetwatch.monitoring.system_checks)
``fleetwatch.W010``    (``--deploy``) ``FLEETWATCH_BASE_URL`` is not an ``https://`` address
``fleetwatch.E011``    (``--connect``) the time-series store does not answer
``fleetwatch.E012``    (``--connect``) the broker does not answer
=====================  ==================================================================
"""

from __future__ import annotations

import importlib.util
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# The client package each built-in time-series backend imports (the extras in pyproject.toml).
TIMESERIES_CLIENTS = {
    "postgresql": ("psycopg", "fleetwatch[postgres]"),
    "influxdb": ("urllib3", "fleetwatch[influxdb]"),
    "influxdb2": ("influxdb_client", "fleetwatch[influxdb2]"),
    "elasticsearch": ("elasticsearch", "fleetwatch[elasticsearch]"),
}
# Broker URL schemes (docs/alerts.md) and the package of their kombu transport (None: built in).
BROKER_CLIENTS = {
    "filesystem": None,
    "amqp": ("amqp", "amqp"),
    "amqps": ("amqp", "amqp"),
    "pyamqp": ("amqp", "amqp"),
    "redis": ("redis", "redis"),
    "rediss": ("redis", "redis"),
}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _timeseries_config():
    """The configured time-series settings, normalised; raises ConfigurationError or ValueError."""
    from fleetwatch.timeseries.loading import backend_class, configure

    config = configure(settings.TIMESERIES_DATABASE)
    backend_class(config.backend)  # imports the backend's module: a typo'd dotted path fails here
    return config


@register("fleetwatch")
def check_timeseries(app_configs=None, **kwargs) -> list:
    """E001 when ``TIMESERIES_DATABASE`` cannot be turned into a backend, E002 when the
    backend's client package is missing (the backend would fail at its first read or write)."""
    from fleetwatch.timeseries.errors import ConfigurationError

    try:
        config = _timeseries_config()
    except (ConfigurationError, ValueError, TypeError) as exc:
        return [
            Error(
                f"The time-series store is misconfigured: {exc}.",
                hint="Set FLEETWATCH_TIMESERIES to a URL such as sqlite:///var/timeseries.sqlite3 "
                "or postgresql://user:password@host:5432/name (docs/backends.md).",
                id="fleetwatch.E001",
            )
        ]
    client = TIMESERIES_CLIENTS.get(config.backend)
    if client and not _installed(client[0]):
        return [
            Error(
                f"The {config.backend} time-series backend needs the {client[0]} package, "
                "which is not installed.",
                hint=f"pip install '{client[1]}'",
                id="fleetwatch.E002",
            )
        ]
    return []


@register("fleetwatch")
def check_broker(app_configs=None, **kwargs) -> list:
    """E003 for a broker URL Fleetwatch does not support, E004 when its transport's package
    is missing (the worker and every task sent would fail)."""
    scheme = urlsplit(str(settings.CELERY_BROKER_URL)).scheme
    if scheme not in BROKER_CLIENTS:
        return [
            Error(
                f"The broker URL's scheme {scheme!r} is not supported.",
                hint="Set FLEETWATCH_BROKER to filesystem:// (embedded), amqp://… (RabbitMQ) or "
                "redis://… (Redis) (docs/alerts.md).",
                id="fleetwatch.E003",
            )
        ]
    client = BROKER_CLIENTS[scheme]
    if client and not _installed(client[0]):
        return [
            Error(
                f"The {scheme}:// broker needs the {client[0]} package, which is not installed.",
                hint=f"pip install {client[1]}",
                id="fleetwatch.E004",
            )
        ]
    return []


@register("fleetwatch")
def check_email(app_configs=None, **kwargs) -> list:
    """E005-E007 and W008: e-mail settings that would make every notification e-mail fail or
    send the SMTP password in clear text."""
    errors = []
    if settings.EMAIL_USE_TLS and settings.EMAIL_USE_SSL:
        errors.append(
            Error(
                "FLEETWATCH_EMAIL_TLS and FLEETWATCH_EMAIL_SSL are both on; a server speaks one of them.",
                hint="STARTTLS (usually port 587): FLEETWATCH_EMAIL_TLS=true; TLS from the start "
                "(usually port 465): FLEETWATCH_EMAIL_SSL=true.",
                id="fleetwatch.E005",
            )
        )
    port = settings.EMAIL_PORT
    if not (isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535):
        errors.append(
            Error(
                f"The e-mail port must be an integer from 1 to 65535, not {port!r}.",
                hint="Set FLEETWATCH_EMAIL_PORT, e.g. 25, 465 or 587.",
                id="fleetwatch.E006",
            )
        )
    address = parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1]
    try:
        # Django's validator refuses bare host names; the default, fleetwatch@localhost, is fine.
        validate_email(address.replace("@localhost", "@localhost.localdomain"))
    except ValidationError:
        errors.append(
            Error(
                f"The e-mail from address {settings.DEFAULT_FROM_EMAIL!r} is not an e-mail address.",
                hint="Set FLEETWATCH_EMAIL_FROM, e.g. fleetwatch@example.org or "
                "Fleetwatch <fleetwatch@example.org>.",
                id="fleetwatch.E007",
            )
        )
    host = str(settings.EMAIL_HOST)
    if (
        host
        and settings.EMAIL_HOST_PASSWORD
        and not (settings.EMAIL_USE_TLS or settings.EMAIL_USE_SSL)
        and host not in LOOPBACK_HOSTS
    ):
        errors.append(
            Warning(
                f"The SMTP password would be sent to {host} without TLS.",
                hint="Set FLEETWATCH_EMAIL_TLS=true (STARTTLS) or FLEETWATCH_EMAIL_SSL=true.",
                id="fleetwatch.W008",
            )
        )
    return errors


@register("fleetwatch", deploy=True)
def check_base_url(app_configs=None, **kwargs) -> list:
    """W010 (``--deploy``): links in e-mails and webhooks should use HTTPS."""
    if urlsplit(settings.FLEETWATCH_BASE_URL).scheme == "https":
        return []
    return [
        Warning(
            f"FLEETWATCH_BASE_URL is {settings.FLEETWATCH_BASE_URL!r}: links in e-mails and "
            "webhook payloads would not use HTTPS.",
            hint="Set FLEETWATCH_BASE_URL to the public https:// address (docs/operations.md).",
            id="fleetwatch.W010",
        )
    ]


def check_connectivity(app_configs=None, **kwargs) -> list:
    """E011/E012: the time-series store and the broker answer. Each is asked once, with the
    clients' own timeouts. Not registered here: ``fleetwatch check --connect`` registers it, so
    that no other command (``migrate`` in a deploy script, say) waits on or fails for a server."""
    from fleetwatch.timeseries import load_backend

    errors = []
    if not check_timeseries():
        backend = load_backend(_timeseries_config())
        try:
            health = backend.health()
        finally:
            backend.close()
        if not health["reachable"]:
            errors.append(
                Error(
                    f"The {health['backend']} time-series store does not answer: {health['error']}",
                    hint="Is the server running, and FLEETWATCH_TIMESERIES its address?",
                    id="fleetwatch.E011",
                )
            )
    if not check_broker():
        from fleetwatch.celery import app

        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1)
        except Exception as exc:  # kombu raises the transport's own errors
            errors.append(
                Error(
                    f"The broker does not answer: {exc}",
                    hint="Is the server running, and FLEETWATCH_BROKER its address?",
                    id="fleetwatch.E012",
                )
            )
    return errors
