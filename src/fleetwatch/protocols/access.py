"""Who may use the protocol endpoints: the token a request carries, in any of the forms the
protocols' own clients send it, and what it may do.

Accepted forms (the first present wins):

* ``Authorization: Token <token>``: InfluxDB 2.x clients and Telegraf's ``outputs.influxdb_v2``;
* ``Authorization: Bearer <token>``: Prometheus's ``authorization`` and InfluxDB 2.x's v1
  compatibility API;
* ``Authorization: Basic base64(<user>:<token>)``: InfluxDB 1.x clients and Grafana's InfluxQL data
  source with a user and password (the user is not checked, the password is the token);
* the query parameters ``u`` and ``p`` (``p`` the token), as InfluxDB 1.x's ``/write`` and ``/query``.

A missing, unknown or revoked token, or one of an inactive organization, is a 401; a valid token
without the permission the endpoint needs is a 403. Each endpoint renders these errors in its own
protocol's shape (:class:`ProtocolAuthError` carries the status and the message).
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from fleetwatch.protocols.models import AccessToken

# last_used is written at most this often per token (not on every write of a busy Telegraf).
LAST_USED_EVERY = timedelta(minutes=1)


class ProtocolAuthError(Exception):
    """Authentication (``status`` 401) or permission (403) refused, with a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def credentials(request: HttpRequest) -> str | None:
    """The token text a request carries (see the module docstring for the forms), or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() in ("token", "bearer") and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, sep, password = decoded.partition(":")
        return password if sep and password else None
    return request.GET.get("p") or None


def authenticate(request: HttpRequest, scope: str) -> AccessToken:
    """The active token of ``request`` if it has ``scope`` (``"write"`` or ``"read"``).

    Raises :class:`ProtocolAuthError`: 401 ``"missing token"`` or ``"invalid token"``, 403
    ``"token may not write"`` / ``"token may not read"``.
    """
    text = credentials(request)
    if not text:
        raise ProtocolAuthError(401, "missing token")
    token = AccessToken.objects.authenticate(text)
    if token is None or not token.organization.is_active:
        raise ProtocolAuthError(401, "invalid token")
    if not token.allows(scope):
        raise ProtocolAuthError(403, f"token may not {scope}")
    now = timezone.now()
    if token.last_used is None or now - token.last_used > LAST_USED_EVERY:
        AccessToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now
    return token
