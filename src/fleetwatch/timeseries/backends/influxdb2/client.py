"""The transport of the InfluxDB 2.x backend: the official client's write, query and delete APIs,
and the management API as plain JSON, each failure turned into the storage layer's errors.

Errors are sorted the way callers act on them: unreachable, 5xx (and 429 once retries are spent)
is ``BackendUnavailable``; 401/403 is ``ConfigurationError`` (the token); a missing bucket is
``MissingBucket`` (the backend recreates it and tries once more); anything else refused is a
``TimeseriesError`` naming the server's reason.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from fleetwatch.timeseries.backends.influxdb2 import flux
from fleetwatch.timeseries.errors import (
    BackendUnavailable,
    ConfigurationError,
    FieldTypeError,
    TimeseriesError,
)

try:
    import urllib3
    from influxdb_client import InfluxDBClient, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the influxdb2 backend needs the official client: pip install 'fleetwatch[influxdb2]'"
    ) from exc


class MissingBucket(TimeseriesError):
    """The server has no such bucket (deleted behind our back, e.g. by another process's flush)."""


def reason_of(exc: ApiException) -> str:
    """The server's message in an API error, else its HTTP reason."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        return json.loads(body).get("message") or str(exc.reason)
    except (TypeError, ValueError):
        return (body or str(exc.reason) or "")[:500]


class Influx2Client:
    """One server and organization: ``url`` like ``http://127.0.0.1:8086``; ``timeout`` in
    seconds (connecting takes at most 5 of them); a ``token``, or a ``username`` and
    ``password``. Writes of 5xx/429 answers are retried ``write_retries`` times, waiting
    ``retry_interval`` seconds doubled each time (or the server's ``Retry-After``, up to 30 s)."""

    def __init__(
        self,
        url: str,
        org: str,
        token: str = "",
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        gzip: bool = False,
        verify_ssl: bool = True,
        write_retries: int = 3,
        retry_interval: float = 0.5,
    ):
        credentials: dict[str, Any] = {"token": token}
        if username and password:
            credentials = {"username": username, "password": password}
        self.url = url
        self.org = org
        self.write_retries = write_retries
        self.retry_interval = retry_interval
        self.client = InfluxDBClient(
            url=url,
            org=org,
            timeout=(min(timeout, 5.0) * 1000, timeout * 1000),
            enable_gzip=gzip,
            verify_ssl=verify_ssl,
            retries=False,  # retrying is decided here: 5xx writes are retried, 4xx are not
            **credentials,
        )
        # Buckets and organizations are managed with plain JSON calls: the client's typed models
        # cannot be deserialized while `datetime` is patched (freezegun, in OpenWISP's tests).
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Token {token}"
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=False,
            cert_reqs="CERT_REQUIRED" if verify_ssl else "CERT_NONE",
        )
        self._write_api = self.client.write_api(write_options=SYNCHRONOUS)
        self._query_api = self.client.query_api()
        self._delete_api = self.client.delete_api()
        self._org_id: str | None = None

    def error(self, exc: BaseException, what: str) -> TimeseriesError:
        """The storage layer's error for one of the client's."""
        if isinstance(exc, ApiException):
            if exc.status is not None and exc.status >= 500:
                return BackendUnavailable(f"InfluxDB answered {exc.status} to {what}: {reason_of(exc)}")
            if exc.status in (401, 403):
                return ConfigurationError(f"InfluxDB refused the token for {what}: {reason_of(exc)}")
            return TimeseriesError(f"InfluxDB refused {what} ({exc.status}): {reason_of(exc)}")
        return BackendUnavailable(f"InfluxDB at {self.url} is unreachable ({what}): {exc}")

    def call(self, what: str, function, *args, **kwargs):
        """One API call with the client's errors turned into the storage layer's."""
        try:
            return function(*args, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.error(exc, what) from exc

    def api(self, what: str, method: str, path: str, fields: dict | None = None, body: dict | None = None):
        """One management call as plain JSON; the answer's JSON, or None for 204 and 404."""
        if "Authorization" not in self._headers:
            raise ConfigurationError("influxdb2: bucket management needs an API token (the URL's user part)")
        url = self.url.rstrip("/") + path
        if fields:
            url += "?" + urlencode(fields)
        try:
            response = self._http.request(
                method,
                url,
                headers=self._headers,
                body=json.dumps(body).encode() if body is not None else None,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise BackendUnavailable(f"InfluxDB at {self.url} is unreachable ({what}): {exc}") from exc
        if response.status in (204, 404):
            return None
        try:
            payload = json.loads(response.data or b"{}")
        except ValueError:
            payload = {}
        if response.status >= 500:
            raise BackendUnavailable(
                f"InfluxDB answered {response.status} to {what}: {payload.get('message', '')}"
            )
        if response.status in (401, 403):
            raise ConfigurationError(f"InfluxDB refused the token for {what}: {payload.get('message', '')}")
        if response.status >= 400:
            raise TimeseriesError(
                f"InfluxDB refused {what} ({response.status}): {payload.get('message', '')}"
            )
        return payload

    def org_id(self) -> str:
        """The organization's id (looked up once)."""
        if self._org_id is None:
            found = self.api("looking up the organization", "GET", "/api/v2/orgs", {"org": self.org}) or {}
            orgs = found.get("orgs") or []
            if not orgs:
                raise ConfigurationError(f"influxdb2: no organization {self.org!r} is visible to the token")
            self._org_id = orgs[0]["id"]
        return self._org_id

    def query(self, script: str) -> dict[str, list[flux.Block]]:
        """Run a Flux script; its blocks per result (yield) name."""
        try:
            response = self._query_api.query_raw(script, org=self.org_id())
            text = response.data.decode()
        except ApiException as exc:
            if exc.status == 404 and "bucket" in reason_of(exc):
                raise MissingBucket(reason_of(exc)) from exc
            raise self.error(exc, "a query") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.error(exc, "a query") from exc
        return flux.by_result(flux.parse(text))

    def write(self, bucket: str, body: bytes) -> None:
        """POST one batch of line protocol (µs precision). Points outside the bucket's retention
        (by the server's clock) are dropped as InfluxDB does; 5xx and 429 answers are retried."""
        attempt = 0
        while True:
            try:
                self._write_api.write(bucket, self.org_id(), body, write_precision=WritePrecision.US)
                return
            except ApiException as exc:
                reason = reason_of(exc)
                status = exc.status or 0
                if status == 422 and "outside retention policy" in reason and "conflict" not in reason:
                    return
                if status == 422 and "field type conflict" in reason:
                    raise FieldTypeError(f"InfluxDB refused the write: {reason}") from exc
                if status == 404 and "bucket" in reason:
                    raise MissingBucket(reason) from exc
                if (status >= 500 or status == 429) and attempt < self.write_retries:
                    delay = self.retry_interval * 2**attempt
                    retry_after = (exc.headers or {}).get("Retry-After")
                    if retry_after and retry_after.isdigit():
                        delay = min(max(delay, int(retry_after)), 30)
                    time.sleep(delay)
                elif status >= 500 or status == 429:
                    raise BackendUnavailable(
                        f"InfluxDB answered {status} to a write {attempt + 1} times: {reason}"
                    ) from exc
                else:
                    raise TimeseriesError(f"InfluxDB refused the write ({status}): {reason}") from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise self.error(exc, "a write") from exc
            attempt += 1

    def delete(self, what: str, start: str, stop: str, predicate: str, bucket: str) -> None:
        """The delete API: points of ``bucket`` in ``[start, stop]`` (Flux times) matching
        ``predicate`` (``""``: all)."""
        self.call(what, self._delete_api.delete, start, stop, predicate, bucket=bucket, org=self.org_id())

    def version(self) -> str:
        return self.call("a ping", self.client.version)

    def close(self) -> None:
        self.client.close()
