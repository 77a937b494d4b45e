"""Reversible encryption of stored credentials (devices' SSH logins, iperf3 servers' passwords).

Hashing (``inventory.models.hash_secret``) is for secrets Fleetwatch only compares; these it
must hand to another program, so they are encrypted with Fernet (AES-128-CBC + HMAC-SHA256,
the ``cryptography`` package) instead. Keys come from ``FLEETWATCH_CREDENTIALS_KEYS``: the first
encrypts, every one decrypts, so a key is rotated by putting a new one first and running
``fleetwatch rotate_credentials`` (docs/iperf3.md). Unset, one key is derived from
``SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# What an encrypted column holds: this prefix, then a Fernet token.
PREFIX = "fernet:"


class CredentialUnreadable(RuntimeError):
    """A stored credential no configured key decrypts (the key that encrypted it was removed)."""


def derived_key(secret: str) -> bytes:
    """A Fernet key (URL-safe base64 of 32 bytes) derived from ``secret`` with SHA-256."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"fleetwatch credentials\0" + secret.encode()).digest())


def keys() -> list[bytes]:
    """The configured keys, newest first; ``ImproperlyConfigured`` naming a malformed one."""
    given = settings.FLEETWATCH_CREDENTIALS_KEYS or [derived_key(settings.SECRET_KEY).decode()]
    for number, key in enumerate(given, 1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"FLEETWATCH_CREDENTIALS_KEYS: key {number} is not a Fernet key (32 bytes in "
                "URL-safe base64, e.g. from `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from None
    return [key.encode() for key in given]


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys()])


def encrypt(text: str) -> str:
    """``text`` encrypted with the first key, as stored (``fernet:<token>``); "" stays ""."""
    if not text:
        return ""
    return PREFIX + _fernet().encrypt(text.encode()).decode()


def decrypt(stored: str) -> str:
    """The clear text of a stored value; ``CredentialUnreadable`` if no key decrypts it."""
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise CredentialUnreadable("the stored credential is not encrypted")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise CredentialUnreadable("no key in FLEETWATCH_CREDENTIALS_KEYS decrypts the credential") from None


class Unreadable(str):
    """A stored value that no configured key decrypts, kept as stored: saving the row writes it
    back unchanged (nothing is lost while the old key is being put back), and whoever needs
    the clear text tells it apart with ``isinstance``."""


class EncryptedTextField(models.TextField):
    """A text column stored encrypted (``fernet:<token>``) and read back in clear (or as
    :class:`Unreadable`, never an exception: a lost key must not break every page listing rows).

    The database, its dumps and its replicas see tokens only. Lookups compare tokens, so never
    filter on such a column (Fernet tokens of one text differ every time)."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        try:
            return decrypt(value)
        except CredentialUnreadable:
            return Unreadable(value)

    def get_prep_value(self, value):
        if isinstance(value, Unreadable):
            return str(value)
        value = super().get_prep_value(value)
        if value is None:
            return value
        return encrypt(value)
