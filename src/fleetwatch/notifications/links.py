"""The address that links in e-mails and webhook payloads start with.

``FLEETWATCH_BASE_URL`` when it is set (production: the public ``https://`` address). Unset, it
follows the address Fleetwatch is served on: a request's own (scheme and ``Host``, which
``ALLOWED_HOSTS`` has vetted) when the link is made while serving one, else the address of
``FLEETWATCH_BIND`` (fleetwatch.core.hosts.served_url), which ``fleetwatch serve --bind`` exports to the web
processes and the worker it starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

_served: ContextVar[str | None] = ContextVar("fleetwatch_served_base_url", default=None)


def base_url(request=None) -> str:
    """``scheme://host[:port]`` without a trailing slash, by the rule above; ``request`` (an
    ``HttpRequest``) wins over one given to :func:`served_from`."""
    if settings.FLEETWATCH_BASE_URL_IS_SET:
        return settings.FLEETWATCH_BASE_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return _served.get() or settings.FLEETWATCH_BASE_URL


@contextmanager
def served_from(request) -> Iterator[None]:
    """Links made inside the block (notifications sent by a check a view runs, a webhook's test
    delivery) follow ``request``'s address, unless ``FLEETWATCH_BASE_URL`` is set."""
    token = _served.set(base_url(request))
    try:
        yield
    finally:
        _served.reset(token)
