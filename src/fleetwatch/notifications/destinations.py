"""Where webhooks may go: by default not to this machine or the networks behind it.

Loopback, link-local, private, unspecified and multicast addresses are refused unless
``FLEETWATCH_WEBHOOK_ALLOW_PRIVATE`` is true. Twice: when a webhook is saved (an address written
in the URL, or a ``localhost`` name; other names may resolve elsewhere by the time of delivery),
and at every delivery, after the name is resolved. The delivery then connects to exactly the
addresses that were checked, so a name cannot point somewhere else in between.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("http", "https")
_PRIVATE = tuple(
    ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
# 0.0.0.0/8 is "this network": Linux connects 0.0.0.0 to the machine itself.
_UNSPECIFIED = (ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("::/128"))
_PHRASES = {
    "loopback": "a loopback address",
    "link-local": "a link-local address",
    "private": "a private address",
    "unspecified": "an unspecified address",
    "multicast": "a multicast address",
}


class Refused(Exception):
    """A webhook destination that is not allowed; nothing was sent. The message says why."""


def address_refusal(address: Address) -> str | None:
    """Why webhooks may not go to this address (``"loopback"``, ``"private"`` …), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if any(address in network for network in _PRIVATE):
        return "private"
    if any(address in network for network in _UNSPECIFIED):
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    return None


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")  # RFC 6761: always loopback


def _refusal_message(host: str, reason: str, resolved: Address | None = None) -> str:
    subject = f"{host} resolves to {resolved}, which is" if resolved is not None else f"{host} is"
    return (
        f"{subject} {_PHRASES[reason]}: webhooks to it are refused unless "
        "FLEETWATCH_WEBHOOK_ALLOW_PRIVATE is true."
    )


def destination_refusal(url: str) -> str | None:
    """Why webhooks may not go to this URL's host, judged from the URL alone (no DNS), or None."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if _is_localhost(host):
        return _refusal_message(host, "loopback")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: checked once resolved, at every delivery
    reason = address_refusal(address)
    return _refusal_message(host, reason) if reason else None


def validate_webhook_url(url: str) -> None:
    """Model validator of ``Webhook.url``, so that the admin and the API refuse alike."""
    if urlsplit(url).scheme.lower() not in SCHEMES:
        raise ValidationError("Webhook URLs start with http:// or https://.", code="webhook_scheme")
    if settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE:
        return
    message = destination_refusal(url)
    if message is not None:
        raise ValidationError(message, code="webhook_destination")


def addresses(host: str, port: int, allow_private: bool) -> list[Address]:
    """The addresses ``host`` resolves to, in the resolver's order. Raises Refused when any of
    them is refused (unless ``allow_private``), OSError when the name does not resolve."""
    found: list[Address] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(sockaddr[0])
        if address not in found:
            found.append(address)
    if not allow_private:
        for address in found:
            reason = address_refusal(address)
            if reason:
                literal = host == str(address)
                raise Refused(_refusal_message(host, reason, None if literal else address))
    return found
