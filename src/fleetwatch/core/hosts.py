"""The host names Fleetwatch answers to by default, from the address it serves on.

Issue 13: a router on the LAN posting to the server's LAN address got 400 because the default
``ALLOWED_HOSTS`` held loopback names only, although ``fleetwatch serve --bind 0.0.0.0:8000``
had been asked to serve the LAN. An operator takes for granted that a server answers on the
addresses it was told to listen on, so when ``FLEETWATCH_ALLOWED_HOSTS`` is unset the default
follows ``FLEETWATCH_BIND``:

- loopback (``127.0.0.1:8000``, ``localhost``, ``[::1]``) or a Unix socket: the loopback names;
- one address or name (``192.168.1.10:8000``, ``fleetwatch.lan``): that one, plus loopback;
- every address (``0.0.0.0``, ``[::]``): every address of this machine's interfaces at start-up
  (IPv6 link-local ones excepted), its host name and fully qualified name, plus loopback.

A name used by the routers that is none of these (a DNS alias, a proxy's public name) still
needs ``FLEETWATCH_ALLOWED_HOSTS``; docs/connecting-a-router.md says so.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from pathlib import Path

LOOPBACK = ["127.0.0.1", "localhost", "[::1]"]
_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


def bind_host(bind: str) -> str | None:
    """The host part of a gunicorn bind address, without brackets: ``"0.0.0.0:8000"`` →
    ``"0.0.0.0"``, ``"[::]:8000"`` → ``"::"``, ``"myhost"`` → ``"myhost"``; None for a Unix
    socket or file descriptor (``unix:/run/fw.sock``, ``fd://3``)."""
    bind = bind.strip()
    if bind.startswith(("unix:", "fd://")):
        return None
    if bind.startswith("["):
        return bind[1 : bind.find("]")] if "]" in bind else None
    if bind.count(":") > 1:  # a bare IPv6 address without a port
        return bind
    return bind.split(":", 1)[0] or None


def served_url(bind: str) -> str:
    """``http://host[:port]`` of a gunicorn bind address, for links when ``FLEETWATCH_BASE_URL``
    is unset: ``127.0.0.1:8000`` → ``http://127.0.0.1:8000``, ``[::1]`` → ``http://[::1]:8000``
    (gunicorn's default port), port 80 left out; every interface (``0.0.0.0``, ``::``) is named by
    this machine's host name; a Unix socket (behind a proxy) gives ``http://localhost``."""
    host = bind_host(bind)
    if host is None:
        return "http://localhost"
    tail = bind.strip()
    tail = (
        tail[tail.find("]") + 1 :]
        if tail.startswith("[")
        else ""
        if tail.count(":") > 1
        else tail[len(host) :]
    )
    port = tail[1:] if tail.startswith(":") and tail[1:] else "8000"
    if host in ("0.0.0.0", "::"):
        host = socket.gethostname()
    return f"http://{_as_allowed(host)}" + ("" if port == "80" else f":{port}")


def _as_allowed(address: str) -> str:
    """An address as Django's ALLOWED_HOSTS spells it (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


def _ipv4_addresses() -> list[str]:
    if not sys.platform.startswith("linux"):
        return []
    import fcntl

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
            except OSError:  # an interface without an IPv4 address
                continue
            found.append(socket.inet_ntoa(answer[20:24]))
    return found


def _ipv6_addresses() -> list[str]:
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        digits = line.split()[0]
        address = ipaddress.IPv6Address(bytes.fromhex(digits))
        if not address.is_link_local:  # would need a zone (%eth0) no agent URL carries
            found.append(str(address))
    return found


def machine_addresses(ipv6: bool = True) -> list[str]:
    """This machine's interface addresses (IPv4, then IPv6 unless ``ipv6`` is false), read from
    the kernel on Linux; elsewhere those its host name resolves to."""
    addresses = _ipv4_addresses() + (_ipv6_addresses() if ipv6 else [])
    if not addresses:
        family = socket.AF_UNSPEC if ipv6 else socket.AF_INET
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None, family)
        except OSError:
            infos = []
        addresses = [info[4][0] for info in infos]
    return list(dict.fromkeys(addresses))


def default_allowed_hosts(bind: str) -> list[str]:
    """``ALLOWED_HOSTS`` when ``FLEETWATCH_ALLOWED_HOSTS`` is unset, for serving on ``bind``
    (the rules are in this module's docstring). Loopback names come first and are always kept."""
    host = bind_host(bind)
    if host is None or host == "localhost":
        return list(LOOPBACK)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a name: the one the operator chose to serve on
        return list(dict.fromkeys([*LOOPBACK, host.lower()]))
    if address.is_loopback:
        return list(LOOPBACK)
    if not address.is_unspecified:
        return list(dict.fromkeys([*LOOPBACK, _as_allowed(str(address))]))
    names = [socket.gethostname().lower(), socket.getfqdn().lower()]
    found = [_as_allowed(a) for a in machine_addresses(ipv6=address.version == 6)]
    return list(dict.fromkeys([*LOOPBACK, *found, *(n for n in names if n)]))
