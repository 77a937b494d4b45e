"""Access tokens of the protocol endpoints (Telegraf, InfluxDB clients, Grafana, Prometheus).

An organization issues tokens the way InfluxDB 2.x issues API tokens: each has a name and its
permissions, ``write`` (line protocol in) and ``read`` (InfluxQL queries and the Prometheus
exposition), and reaches its own organization's devices only. Only the token's SHA-256 is
stored; the token text (``fwi_…``) is shown once, when issued.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from fleetwatch.inventory.models import Organization, OrgScopedQuerySet
from fleetwatch.inventory.models import hash_secret as hash_token  # what is stored of a token

TOKEN_PREFIX = "fwi_"


class AccessTokenQuerySet(OrgScopedQuerySet):
    def authenticate(self, token: str) -> AccessToken | None:
        """The active token matching ``token`` (its organization selected), or None: unknown,
        revoked, or not a Fleetwatch access token at all."""
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        return self.select_related("organization").filter(key_hash=hash_token(token), is_active=True).first()


class AccessToken(models.Model):
    """An organization's credential for the protocol endpoints, with the permissions ``can_write``
    (``/write``, ``/api/v2/write``) and ``can_read`` (``/query``, ``/metrics``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)  # shown in lists to tell tokens apart
    can_write = models.BooleanField(default=True, help_text="May write line protocol.")
    can_read = models.BooleanField(default=False, help_text="May query (InfluxQL) and scrape (Prometheus).")
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def allows(self, scope: str) -> bool:
        """Whether the token has ``scope``: ``"write"`` or ``"read"`` (ValueError otherwise)."""
        if scope == "write":
            return self.can_write
        if scope == "read":
            return self.can_read
        raise ValueError(f"unknown scope {scope!r}")

    @classmethod
    def issue(
        cls,
        organization: Organization,
        name: str,
        *,
        can_write: bool = True,
        can_read: bool = False,
        **fields,
    ) -> tuple[AccessToken, str]:
        """Create a token; returns the row and the token text (never stored in clear)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(30)
        row = cls.objects.create(
            organization=organization,
            name=name,
            key_hash=hash_token(token),
            prefix=token[:10],
            can_write=can_write,
            can_read=can_read,
            **fields,
        )
        return row, token
