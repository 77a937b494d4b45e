"""The InfluxDB 1.x HTTP API: ``/write`` (line protocol) and ``/query`` (InfluxQL → JSON).

Errors are sorted the way callers act on them: the server unreachable or failing (5xx) is
``BackendUnavailable`` (retry later, an agent keeps its sample); a request the server refuses
(4xx) is a ``TimeseriesError`` naming the server's reason.
"""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import urlencode

import urllib3

from fleetwatch.timeseries.errors import BackendUnavailable, TimeseriesError

# Compressing costs CPU on both ends: it pays off on a network, for bodies worth the effort
# (on loopback it halved the write rate, so it is off there by default).
GZIP_ABOVE_BYTES = 64 * 1024


class InfluxHTTP:
    def __init__(
        self,
        host: str,
        port: int,
        database: str,
        user: str = "",
        password: str = "",
        ssl: bool = False,
        timeout: float = 30.0,
        pool_size: int = 8,
        compress: bool = False,
    ):
        scheme = "https" if ssl else "http"
        self.base = f"{scheme}://{host}:{port}"
        self.database = database
        self.compress = compress
        self.pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=False,  # retrying is the caller's decision (idempotent writes, 503 to agents)
        )
        self.headers = urllib3.make_headers(basic_auth=f"{user}:{password}") if user else {}

    def _request(self, method: str, path: str, **kwargs) -> urllib3.BaseHTTPResponse:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            response = self.pool.request(method, self.base + path, headers=headers, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise BackendUnavailable(f"InfluxDB at {self.base} is unreachable: {exc}") from exc
        if response.status >= 500:
            raise BackendUnavailable(f"InfluxDB answered {response.status}: {_reason(response)}")
        return response

    def ping(self) -> str:
        response = self._request("GET", "/ping")
        if response.status != 204:
            raise BackendUnavailable(f"InfluxDB /ping answered {response.status}")
        return response.headers.get("X-Influxdb-Version", "unknown")

    def write(self, lines: list[str], rp: str) -> str | None:
        """POST one batch; returns the server's 'partial write' message when it dropped points
        for being beyond its retention policy, raises on anything else it refused."""
        body = "\n".join(lines).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.compress and len(body) > GZIP_ABOVE_BYTES:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        response = self._request(
            "POST",
            "/write?" + urlencode({"db": self.database, "rp": rp, "precision": "u"}),
            body=body,
            headers=headers,
        )
        if response.status == 204:
            return None
        reason = _reason(response)
        if (
            "beyond retention policy" in reason
            and "unable to parse" not in reason
            and "conflict" not in reason
        ):
            return reason
        raise TimeseriesError(f"InfluxDB refused the write ({response.status}): {reason}")

    def query(self, statements: list[str] | str, database: bool = True) -> list[dict[str, Any]]:
        """Run statements in one request; returns one result dict per statement."""
        if isinstance(statements, str):
            statements = [statements]
        fields = {"q": ";\n".join(statements), "epoch": "u"}
        if database:
            fields["db"] = self.database
        response = self._request("POST", "/query", fields=fields, encode_multipart=False)
        try:
            payload = json.loads(response.data)
        except ValueError:
            raise TimeseriesError(f"InfluxDB answered {response.status} without JSON") from None
        if response.status != 200 or "error" in payload:
            raise TimeseriesError(f"InfluxDB refused the query: {payload.get('error', response.status)}")
        results = payload.get("results", [])
        for result in results:
            if "error" in result:
                raise TimeseriesError(f"InfluxDB refused the query: {result['error']}")
        return results

    def close(self) -> None:
        self.pool.clear()


def _reason(response) -> str:
    try:
        return json.loads(response.data).get("error", "") or response.reason or ""
    except ValueError:
        return (response.data or b"").decode(errors="replace")[:300]


def series_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return result.get("series") or []
