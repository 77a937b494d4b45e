#!/usr/bin/env python3
"""The container's health check: ``GET /api/v1/health/`` on the web process of this container.

Exit status 0 when the answer is 200 (Fleetwatch answers and reaches its time-series store),
1 otherwise (503 "degraded", another status, or no answer within the timeout), with one line
saying why on stderr; Docker and podman record it in the container's health log.

The address is ``FLEETWATCH_HEALTHCHECK_URL`` when set, else loopback on the port of
``FLEETWATCH_BIND`` (``0.0.0.0:8000`` in the image: ``http://127.0.0.1:8000/api/v1/health/``).
Standard library only, so that it runs with any Python 3 (the image's, or a host's in tests).
"""

import os
import sys
import urllib.error
import urllib.request

PATH = "/api/v1/health/"


def health_url(environ: dict[str, str]) -> str:
    """The URL to probe: the explicit one, or loopback on FLEETWATCH_BIND's port (``host:port``,
    ``[v6]:port`` or a bare port; 8000 when unset)."""
    explicit = environ.get("FLEETWATCH_HEALTHCHECK_URL", "").strip()
    if explicit:
        return explicit
    bind = environ.get("FLEETWATCH_BIND", "").strip() or "0.0.0.0:8000"
    port = bind.rsplit(":", 1)[-1]
    if not port.isdigit():
        port = "8000"
    return f"http://127.0.0.1:{port}{PATH}"


def main() -> int:
    url = health_url(dict(os.environ))
    timeout = float(os.environ.get("FLEETWATCH_HEALTHCHECK_TIMEOUT", "") or 5)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read(2000)
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read(2000)
    except (OSError, ValueError) as error:
        print(f"fleetwatch-healthcheck: {url}: no answer: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"fleetwatch-healthcheck: {url}: {status} {body.decode(errors='replace')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
