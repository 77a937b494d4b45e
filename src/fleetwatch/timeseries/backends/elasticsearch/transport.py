"""The transport of the Elasticsearch backend: the official client, and every request the backend
makes through it, with each failure turned into the storage layer's errors.

Errors are sorted the way callers act on them: unreachable, 429 and 5xx are
``BackendUnavailable`` (retry later); anything else refused is a ``TimeseriesError`` naming the
server's reason. Requests that name many indices are sent in chunks (the names go in the URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from fleetwatch.timeseries.backend import flag
from fleetwatch.timeseries.backends.elasticsearch import compiler
from fleetwatch.timeseries.backends.elasticsearch.compiler import search_body
from fleetwatch.timeseries.errors import BackendUnavailable, ConfigurationError, TimeseriesError

try:
    import elasticsearch
    from elasticsearch import helpers
except ImportError:  # pragma: no cover - reported when the backend is configured
    elasticsearch = None

BULK_CHUNK = 2_000  # documents per bulk request
DELETE_CHUNK = 50  # index names per delete request (they go in the URL)


def reason_of(error: Any) -> str:
    """``type: reason`` of an error object in an answer (or the error as text)."""
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error)


class Transport:
    """One cluster at ``url`` (``http://127.0.0.1:9200``); ``options`` are the backend's URL
    options (``timeout`` in seconds, ``api_key``, ``ca_certs``, ``verify_certs``).
    ``all_pattern`` names every index of the namespace (for error messages)."""

    def __init__(self, url: str, options: dict, user: str = "", password: str = "", all_pattern: str = ""):
        if elasticsearch is None:
            raise ConfigurationError(
                "the elasticsearch backend needs its client: pip install 'fleetwatch[elasticsearch]'"
            )
        self.url = url
        self.all_pattern = all_pattern
        kwargs: dict[str, Any] = {
            "hosts": [url],
            "request_timeout": float(options.get("timeout", 30)),
            # Retried requests are safe: writes are idempotent by document id.
            "retry_on_timeout": True,
            "max_retries": 3,
        }
        if user:
            kwargs["basic_auth"] = (user, password)
        if options.get("api_key"):
            kwargs["api_key"] = str(options["api_key"])
        if options.get("ca_certs"):
            kwargs["ca_certs"] = str(options["ca_certs"])
        if "verify_certs" in options:
            kwargs["verify_certs"] = flag(options["verify_certs"])
        self.client = elasticsearch.Elasticsearch(**kwargs)

    @contextmanager
    def errors(self) -> Iterator[None]:
        """The client's errors inside the block as the storage layer's."""
        try:
            yield
        except TimeseriesError:
            raise
        except elasticsearch.ApiError as exc:
            status = exc.meta.status
            error = exc.body.get("error") if isinstance(exc.body, dict) else None
            reason = reason_of(error) if isinstance(error, dict) else str(exc)
            if status == 429 or status >= 500:
                raise BackendUnavailable(f"Elasticsearch: {reason}") from exc
            raise TimeseriesError(f"Elasticsearch: {reason}") from exc
        except (elasticsearch.TransportError, helpers.ScanError) as exc:
            raise BackendUnavailable(f"Elasticsearch at {self.url}: {exc}") from exc

    @staticmethod
    def raise_item_error(status: int, info: dict) -> None:
        """Raise the error of one refused item of a bulk request."""
        message = (
            f"Elasticsearch refused a document of {info.get('_index')}: {reason_of(info.get('error') or {})}"
        )
        if status == 429 or status >= 500:
            raise BackendUnavailable(message)
        raise TimeseriesError(message)

    def node(self) -> dict:
        """The local node's version and modules (``{"version": …, "modules": [{"name": …}]}``)."""
        nodes = self.client.nodes.info(
            node_id="_local", filter_path="nodes.*.version,nodes.*.modules.name"
        ).body.get("nodes", {})
        return next(iter(nodes.values()), {})

    def search(self, index: str, body: dict) -> dict:
        with self.errors():
            return self.client.search(
                index=index, body=body, ignore_unavailable=True, allow_no_indices=True
            ).body

    def msearch(self, searches: list[tuple[str, dict]]) -> list[dict]:
        """Several searches (``(index, body)``) in one request; their answers in order."""
        lines: list[dict] = []
        for index, body in searches:
            lines.append({"index": index, "ignore_unavailable": True, "allow_no_indices": True})
            lines.append(body)
        with self.errors():
            responses = self.client.msearch(searches=lines).body["responses"]
        for response in responses:
            if "error" in response:
                status = response.get("status", 500)
                cls = BackendUnavailable if status == 429 or status >= 500 else TimeseriesError
                raise cls(f"Elasticsearch: {reason_of(response['error'])}")
        return responses

    def composite_buckets(self, index: str, filters: list[dict], sources: list[dict]) -> Iterator[dict]:
        """Every bucket of a composite aggregation, page by page (exact, unlike cardinality)."""
        composite: dict[str, Any] = {"size": compiler.COMPOSITE_PAGE, "sources": sources}
        while True:
            response = self.search(index, search_body(filters, size=0, aggs={"p": {"composite": composite}}))
            found = (response.get("aggregations") or {}).get("p") or {}
            buckets = found.get("buckets", [])
            yield from buckets
            if len(buckets) < compiler.COMPOSITE_PAGE or "after_key" not in found:
                return
            composite["after"] = found["after_key"]

    def list_indices(self, pattern: str) -> list[str]:
        """Names of the indices (open or closed) matching ``pattern``, sorted."""
        with self.errors():
            found = self.client.indices.resolve_index(
                name=pattern, expand_wildcards="open,closed", allow_no_indices=True
            )
        return sorted(item["name"] for item in found.body.get("indices", []))

    def refresh(self, names: Iterable[str]) -> None:
        with self.errors():
            self.client.indices.refresh(
                index=",".join(sorted(names)), ignore_unavailable=True, allow_no_indices=True
            )

    def count(self, names: list[str]) -> int:
        """Documents in the named indices."""
        total = 0
        with self.errors():
            for i in range(0, len(names), DELETE_CHUNK):
                chunk = ",".join(names[i : i + DELETE_CHUNK])
                total += self.client.count(index=chunk, ignore_unavailable=True)["count"]
        return total

    def delete_indices(self, names: list[str]) -> None:
        with self.errors():
            for i in range(0, len(names), DELETE_CHUNK):
                chunk = ",".join(names[i : i + DELETE_CHUNK])
                self.client.indices.delete(index=chunk, ignore_unavailable=True)

    def bulk(self, actions) -> list[tuple[int, dict]]:
        """Run bulk actions; returns (status, item) of the failed ones."""
        with self.errors():
            _ok, errors = helpers.bulk(
                self.client,
                actions,
                chunk_size=BULK_CHUNK,
                max_chunk_bytes=20 * 1024 * 1024,
                raise_on_error=False,
                max_retries=3,  # items rejected with 429 (queue full)
            )
        failed = []
        for item in errors:
            _op, info = next(iter(item.items()))
            failed.append((int(info.get("status", 500)), info))
        missing = [info for status, info in failed if status == 404 and info.get("_index")]
        if missing:  # the cluster does not create indices on first write
            raise TimeseriesError(
                f"Elasticsearch refused to create index {missing[0]['_index']}: allow automatic "
                f"creation of {self.all_pattern} (action.auto_create_index)"
            )
        return failed

    def mget(self, docs: list[dict], source_includes: list[str]) -> list[dict]:
        with self.errors():
            return self.client.mget(docs=docs, source_includes=source_includes).body["docs"]

    def delete_where(self, index: str, filters: list[dict]) -> int:
        """Delete matching documents by id (the minimal distribution has no delete-by-query):
        scroll their ids, bulk-delete them, refresh what changed. Returns how many."""
        touched: set[str] = set()

        def actions():
            hits = helpers.scan(
                self.client,
                index=index,
                query={"query": {"bool": {"filter": filters}}, "_source": False},
                size=5_000,
                scroll="2m",
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            for hit in hits:
                touched.add(hit["_index"])
                yield {"_op_type": "delete", "_index": hit["_index"], "_id": hit["_id"]}

        with self.errors():
            deleted, errors = helpers.bulk(self.client, actions(), chunk_size=5_000, raise_on_error=False)
        for item in errors:
            _op, info = next(iter(item.items()))
            if info.get("status") != 404:  # already gone
                self.raise_item_error(int(info.get("status", 500)), info)
        if touched:
            self.refresh(touched)
        return deleted

    def close(self) -> None:
        self.client.close()
