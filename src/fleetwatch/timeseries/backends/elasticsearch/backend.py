"""Elasticsearch backend: one document per point in time-based indices (see ``layout``).

Writes go through ``helpers.bulk`` with deterministic ids, so a retried batch overwrites
itself. New points are ``create``d; a point that already exists (a rewrite or a retry) is read
back and merged (a rewrite replaces the values it carries and keeps the others), then written
with optimistic concurrency. Reads, charts and deletes refresh first only the indices this
backend wrote since its last refresh, so a process reads its own writes without a refresh
per write (other processes see them after the server's 1 s refresh interval).

Retention is computed from the backend's clock: ``enforce_retention()`` drops every index whose
period has expired and deletes the expired points of the one index that straddles the floor.
Where the server has ILM (not in the minimal distribution), indices also get a delete policy
per tier as a safety net that acts a full period after the retention floor.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fleetwatch.timeseries.backend import BaseBackend, Features
from fleetwatch.timeseries.backends.elasticsearch import compiler, layout
from fleetwatch.timeseries.backends.elasticsearch.compiler import ChartPlan, es_time, search_body
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.errors import BackendUnavailable, ConfigurationError, InvalidPoint, TimeseriesError
from fleetwatch.timeseries.model import (
    EPOCH,
    ONE_MICROSECOND,
    ChartQuery,
    Point,
    ReadQuery,
    Row,
    from_micros,
    to_micros,
)

try:
    import elasticsearch
    from elasticsearch import helpers
except ImportError:  # pragma: no cover - reported when the backend is configured
    elasticsearch = None

READ_PAGE = 10_000  # hits per search (index.max_result_window)
BULK_CHUNK = 2_000  # documents per bulk request
MGET_CHUNK = 1_000
DELETE_CHUNK = 50  # index names per delete request (they go in the URL)
REWRITE_ATTEMPTS = 5
MICROS_PER_DAY = 86_400_000_000  # index names depend only on a point's UTC day
_TRUE = ("1", "true", "yes", "on")


def document_id(tier: str, measurement: str, series_key: str, micros: int) -> str:
    """The id of a point: the same point always lands on the same document."""
    digest = hashlib.blake2b(
        f"{tier}\x1f{measurement}\x1f{series_key}\x1f{micros}".encode(), digest_size=16
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def document(measurement: str, tags: dict, series_key: str, micros: int, values: dict) -> dict:
    numbers: dict[str, Any] = {}
    strings: dict[str, str] = {}
    kinds = []
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            strings[name] = value
            kinds.append(f"{name}:s")
        elif kind is bool:
            numbers[name] = 1 if value else 0
            kinds.append(f"{name}:b")
        elif kind is int:
            numbers[name] = value
            kinds.append(f"{name}:i")
        else:
            numbers[name] = value
            kinds.append(f"{name}:f")
    doc = {"m": measurement, "t": es_time(micros), "us": micros, "sk": series_key, "k": kinds, "v": values}
    if tags:
        doc["tags"] = tags
    if numbers:
        doc["n"] = numbers
    if strings:
        doc["s"] = strings
    return doc


def _same_values(new: dict, stored: dict) -> bool:
    """Whether writing ``new`` over ``stored`` would change nothing (types included: 1 is
    not 1.0 and True is not 1)."""
    return new.keys() == stored.keys() and all(
        type(value) is type(stored[name]) and value == stored[name] for name, value in new.items()
    )


class _Pending:
    """A point on its way to a document (points repeated in one batch are merged into one)."""

    __slots__ = ("index", "measurement", "micros", "series_key", "tags", "tier", "values")

    def __init__(self, tier, measurement, tags, series_key, micros, values):
        self.tier = tier
        self.measurement = measurement
        self.tags = tags
        self.series_key = series_key
        self.micros = micros
        self.values = values
        self.index = ""

    def source(self, values: dict | None = None) -> dict:
        return document(
            self.measurement,
            self.tags,
            self.series_key,
            self.micros,
            self.values if values is None else values,
        )


class ElasticsearchFeatures(Features):
    supports_point_delete = True
    supports_exact_count_distinct = True


class ElasticsearchBackend(BaseBackend):
    vendor = "elasticsearch"
    display_name = "Elasticsearch"
    features_class = ElasticsearchFeatures

    def __init__(self, config, clock=None):
        if elasticsearch is None:
            raise ConfigurationError(
                "the elasticsearch backend needs its client: pip install 'fleetwatch[elasticsearch]'"
            )
        super().__init__(config, clock)
        options = config.options
        self.layout = layout.Layout(str(options.get("schema") or config.name or "fleetwatch"))
        self._ilm_option = str(options.get("ilm", "auto")).lower()
        if self._ilm_option not in ("auto", *_TRUE, "0", "false", "no", "off"):
            raise ConfigurationError(
                f"elasticsearch option ilm must be auto, true or false, not {self._ilm_option}"
            )
        scheme = str(options.get("scheme", "http"))
        if scheme not in ("http", "https"):
            raise ConfigurationError(f"elasticsearch scheme must be http or https, not {scheme!r}")
        host = config.host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        self.url = f"{scheme}://{host}:{config.port or 9200}"
        kwargs: dict[str, Any] = {
            "hosts": [self.url],
            "request_timeout": float(options.get("timeout", 30)),
            # Retried requests are safe: writes are idempotent by document id.
            "retry_on_timeout": True,
            "max_retries": 3,
        }
        if config.user:
            kwargs["basic_auth"] = (config.user, config.password)
        if options.get("api_key"):
            kwargs["api_key"] = str(options["api_key"])
        if options.get("ca_certs"):
            kwargs["ca_certs"] = str(options["ca_certs"])
        if "verify_certs" in options:
            kwargs["verify_certs"] = str(options["verify_certs"]).lower() in _TRUE
        self.client = elasticsearch.Elasticsearch(**kwargs)
        self._lock = threading.Lock()
        self._ready = False
        self._known: dict[str, set[str]] = {}  # tier → index names known to exist
        self._dirty: set[str] = set()  # indices written since the last refresh
        # Writes since start (and how many of them a completed refresh made visible): a reader
        # that comes while another thread's refresh is in flight waits for it, not past it.
        self._written = 0
        self._visible = 0
        self._refresh_lock = threading.Lock()
        self._series_keys: dict[tuple, str] = {}

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except TimeseriesError:
            raise
        except elasticsearch.ApiError as exc:
            status = exc.meta.status
            error = exc.body.get("error") if isinstance(exc.body, dict) else None
            reason = f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict) else str(exc)
            if status == 429 or status >= 500:
                raise BackendUnavailable(f"Elasticsearch: {reason}") from exc
            raise TimeseriesError(f"Elasticsearch: {reason}") from exc
        except (elasticsearch.TransportError, helpers.ScanError) as exc:
            raise BackendUnavailable(f"Elasticsearch at {self.url}: {exc}") from exc

    @staticmethod
    def _raise_item_error(status: int, info: dict) -> None:
        error = info.get("error") or {}
        reason = f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict) else str(error)
        message = f"Elasticsearch refused a document of {info.get('_index')}: {reason}"
        if status == 429 or status >= 500:
            raise BackendUnavailable(message)
        raise TimeseriesError(message)

    def _node(self) -> dict:
        nodes = self.client.nodes.info(
            node_id="_local", filter_path="nodes.*.version,nodes.*.modules.name"
        ).body.get("nodes", {})
        return next(iter(nodes.values()), {})

    def _search(self, index: str, body: dict) -> dict:
        with self._errors():
            return self.client.search(
                index=index, body=body, ignore_unavailable=True, allow_no_indices=True
            ).body

    def _msearch(self, searches: list[tuple[str, dict]]) -> list[dict]:
        lines: list[dict] = []
        for index, body in searches:
            lines.append({"index": index, "ignore_unavailable": True, "allow_no_indices": True})
            lines.append(body)
        with self._errors():
            responses = self.client.msearch(searches=lines).body["responses"]
        for response in responses:
            if "error" in response:
                error = response["error"]
                reason = f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict) else error
                status = response.get("status", 500)
                cls = BackendUnavailable if status == 429 or status >= 500 else TimeseriesError
                raise cls(f"Elasticsearch: {reason}")
        return responses

    def _composite_buckets(self, index: str, filters: list[dict], sources: list[dict]) -> Iterator[dict]:
        """Every bucket of a composite aggregation, page by page (exact, unlike cardinality)."""
        composite: dict[str, Any] = {"size": compiler.COMPOSITE_PAGE, "sources": sources}
        while True:
            response = self._search(index, search_body(filters, size=0, aggs={"p": {"composite": composite}}))
            found = (response.get("aggregations") or {}).get("p") or {}
            buckets = found.get("buckets", [])
            yield from buckets
            if len(buckets) < compiler.COMPOSITE_PAGE or "after_key" not in found:
                return
            composite["after"] = found["after_key"]

    def _list_indices(self, pattern: str) -> list[str]:
        with self._errors():
            found = self.client.indices.resolve_index(
                name=pattern, expand_wildcards="open,closed", allow_no_indices=True
            )
        return sorted(item["name"] for item in found.body.get("indices", []))

    def _refresh(self, names) -> None:
        with self._errors():
            self.client.indices.refresh(
                index=",".join(sorted(names)), ignore_unavailable=True, allow_no_indices=True
            )

    def _sync(self) -> None:
        """Make this backend's own writes visible before it reads (read-your-writes), also
        when several threads read at once (a chart page's queries run side by side)."""
        if self._visible >= self._written:
            return
        with self._refresh_lock:
            with self._lock:
                target = self._written
                dirty, self._dirty = self._dirty, set()
            if self._visible >= target:
                return  # a refresh that ended while we waited covered our writes
            try:
                if dirty:
                    self._refresh(dirty)
            except BaseException:
                with self._lock:
                    self._dirty |= dirty
                raise
            self._visible = max(self._visible, target)

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ setup & retention

    def _use_ilm(self, node: dict) -> bool:
        if self._ilm_option in ("0", "false", "no", "off"):
            return False
        available = any(module.get("name") == "x-pack-ilm" for module in node.get("modules", []))
        if self._ilm_option in _TRUE and not available:
            raise ConfigurationError("elasticsearch option ilm=true, but the server has no ILM")
        return available

    def _setup(self) -> None:
        """One index template for the namespace (plus, with ILM, a policy and template per tier)."""
        if self._ready:
            return
        ns = self.layout.namespace
        with self._errors():
            use_ilm = self._use_ilm(self._node())
            self.client.indices.put_index_template(
                name=ns, body=layout.template([self.layout.all_pattern], layout.TEMPLATE_PRIORITY)
            )
            if use_ilm:
                for tier, seconds in self.config.retention.items():
                    name = self.layout.tier_prefix(tier)[:-1]
                    policy = layout.lifecycle_policy(seconds, layout.unit_for(seconds))
                    self.client.ilm.put_lifecycle(name=name, policy=policy)
                    body = layout.template(
                        [self.layout.tier_pattern(tier)], layout.TEMPLATE_PRIORITY + 1, name
                    )
                    self.client.indices.put_index_template(name=name, body=body)
        self._ready = True

    def _apply_retention(self) -> None:
        self._ready = False
        self._setup()

    def _purge_before(self, tier: str, floor: datetime) -> int:
        self._sync()
        floor_us = to_micros(floor)
        expired, straddling = [], []
        for name in self._list_indices(self.layout.tier_pattern(tier)):
            period = layout.period_of_name(name)
            if period is not None and period.end <= floor_us:
                expired.append(name)
            elif period is None or period.start < floor_us:
                straddling.append(name)
        removed = 0
        if expired:
            with self._errors():
                for i in range(0, len(expired), DELETE_CHUNK):
                    chunk = ",".join(expired[i : i + DELETE_CHUNK])
                    removed += self.client.count(index=chunk, ignore_unavailable=True)["count"]
            self._drop(expired)
        if straddling and floor_us > 0:  # nothing is stored before 1970
            removed += self._delete_where(",".join(straddling), [{"range": {"t": {"lt": es_time(floor_us)}}}])
        return removed

    def _drop(self, names: list[str]) -> None:
        with self._lock:
            for known in self._known.values():
                known.difference_update(names)
            self._dirty.difference_update(names)
        with self._errors():
            for i in range(0, len(names), DELETE_CHUNK):
                chunk = ",".join(names[i : i + DELETE_CHUNK])
                self.client.indices.delete(index=chunk, ignore_unavailable=True)

    def flush(self) -> None:
        names = self._list_indices(self.layout.all_pattern)
        if names:
            self._drop(names)
        with self._lock:
            self._known.clear()
            self._dirty.clear()

    # ------------------------------------------------------------------ writes

    def _series_key(self, tags: dict) -> str:
        items = tuple(sorted(tags.items())) if tags else ()
        key = self._series_keys.get(items)
        if key is None:
            # The same text as the SQL backends' series tags, so ties in time sort alike.
            key = json.dumps(dict(items), sort_keys=True, separators=(",", ":"))
            if len(self._series_keys) < 100_000:
                self._series_keys[items] = key
        return key

    def _write(self, points: list[Point], retention: str) -> None:
        self._write_tiers({retention: points})

    def _write_tiers(self, batches: dict[str, list[Point]]) -> None:
        self._setup()
        pending: dict[str, _Pending] = {}
        for tier, points in batches.items():
            for point in points:
                series_key = self._series_key(point.tags)
                micros = (point.time - EPOCH) // ONE_MICROSECOND
                if micros < 0:
                    raise InvalidPoint(
                        f"point of {point.measurement!r} at {point.time.isoformat()}: Elasticsearch "
                        "stores times from 1970-01-01 on (date_nanos)"
                    )
                doc_id = document_id(tier, point.measurement, series_key, micros)
                same = pending.get(doc_id)
                if same is not None:
                    same.values.update(point.fields)  # the later write of a point wins
                else:
                    pending[doc_id] = _Pending(
                        tier, point.measurement, point.tags, series_key, micros, dict(point.fields)
                    )
        self._route(pending.values())
        actions = (
            {"_op_type": "create", "_index": p.index, "_id": doc_id, "_source": p.source()}
            for doc_id, p in pending.items()
        )
        rewrites = {}
        try:
            for status, info in self._bulk(actions):
                if status == 409:  # the point exists: merge into it
                    rewrites[info["_id"]] = pending[info["_id"]]
                else:
                    self._raise_item_error(status, info)
            if rewrites:
                self._rewrite(rewrites)
        finally:
            with self._lock:
                self._dirty.update(p.index for p in pending.values())
                self._written += 1

    def _bulk(self, actions) -> list[tuple[int, dict]]:
        """Run bulk actions; returns (status, item) of the failed ones."""
        with self._errors():
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
                f"creation of {self.layout.all_pattern} (action.auto_create_index)"
            )
        return failed

    def _rewrite(self, pending: dict[str, _Pending]) -> None:
        """Merge points into the documents that already hold them: read, merge, write back only
        if nobody changed the document in between (else read again)."""
        for _attempt in range(REWRITE_ATTEMPTS):
            actions = []
            items = list(pending.items())
            for i in range(0, len(items), MGET_CHUNK):
                chunk = items[i : i + MGET_CHUNK]
                with self._errors():
                    found = self.client.mget(
                        docs=[{"_index": p.index, "_id": doc_id} for doc_id, p in chunk],
                        source_includes=["v"],
                    ).body["docs"]
                for (doc_id, p), doc in zip(chunk, found, strict=True):
                    if doc.get("found"):
                        stored = (doc.get("_source") or {}).get("v", {})
                        values = {**stored, **p.values}
                        if _same_values(values, stored):
                            continue  # a retried write: nothing to change
                        actions.append(
                            {
                                "_op_type": "index",
                                "_index": p.index,
                                "_id": doc_id,
                                "if_seq_no": doc["_seq_no"],
                                "if_primary_term": doc["_primary_term"],
                                "_source": p.source(values),
                            }
                        )
                    else:  # deleted meanwhile
                        actions.append(
                            {"_op_type": "create", "_index": p.index, "_id": doc_id, "_source": p.source()}
                        )
            again = {}
            for status, info in self._bulk(actions):
                if status == 409:
                    again[info["_id"]] = pending[info["_id"]]
                else:
                    self._raise_item_error(status, info)
            if not again:
                return
            pending = again
        raise BackendUnavailable(
            f"{len(pending)} points kept changing while being rewritten; retry the write"
        )

    def _route(self, pending) -> None:
        """Pick each point's index: an existing index covering its time (daily before monthly),
        else a new one of the tier's current period. Existing indices win so a point rewritten
        after a tier's period changed (its retention crossed two weeks) is not stored twice.
        Index names depend only on a point's UTC day, so the choice is made once per tier and day."""
        by_tier: dict[str, dict[int, list[_Pending]]] = {}
        for p in pending:
            days = by_tier.setdefault(p.tier, {})
            day = p.micros // MICROS_PER_DAY
            same_day = days.get(day)
            if same_day is None:
                days[day] = [p]
            else:
                same_day.append(p)
        for tier, days in by_tier.items():
            with self._lock:
                cached = self._known.get(tier)
            known = set(cached) if cached is not None else None
            if known is None:
                known = set(self._list_indices(self.layout.tier_pattern(tier)))
            elif any(not self._existing(known, tier, points[0].micros) for points in days.values()):
                # A new period, or one another process has started since we last looked.
                known = set(self._list_indices(self.layout.tier_pattern(tier)))
            unit = layout.unit_for(self.retention_seconds(tier))
            for points in days.values():
                micros = points[0].micros
                index = self._existing(known, tier, micros)
                if not index:
                    daily, monthly = self.layout.index_names(tier, micros)
                    index = daily if unit == "d" else monthly
                    known.add(index)  # the first write creates it from the template
                for p in points:
                    p.index = index
            with self._lock:
                self._known[tier] = known

    def _existing(self, known: set[str], tier: str, micros: int) -> str:
        daily, monthly = self.layout.index_names(tier, micros)
        return daily if daily in known else monthly if monthly in known else ""

    # ------------------------------------------------------------------ reads

    def _scope(self, measurements, tags, lower: datetime | None, upper: datetime | None, where=()) -> list:
        filters: list[dict] = [{"terms": {"m": list(measurements)}}]
        filters += compiler.tag_filters(tags)
        filters += compiler.time_filter(lower and to_micros(lower), upper and to_micros(upper))
        filters += [compiler.where_filter(cond) for cond in where]
        return filters

    def _index(self, tier: str | None, lower: datetime | None, upper: datetime | None) -> str:
        return self.layout.patterns_for(tier, lower and to_micros(lower), upper and to_micros(upper))

    def _read(self, query: ReadQuery, since: datetime, until: datetime | None) -> list[Row]:
        self._sync()
        filters = self._scope(query.measurements, query.tags, since, until, query.where)
        if query.fields == "*":
            wanted = None
            includes = ["m", "tags", "v"]
        else:
            wanted = list(query.fields)
            filters.append(compiler.has_field(wanted))
            includes = ["m", "tags", *(f"v.{name}" for name in wanted)]
        order = query.order
        sort = [{"t": {"order": order}}, {"m": {"order": order}}, {"sk": {"order": order}}]
        index = self._index(query.retention, since, until)
        if query.consistent:  # other processes' writes too, not only this backend's own
            self._refresh([index])
        rows: list[Row] = []
        remaining = query.limit
        after = None
        while True:
            size = READ_PAGE if remaining is None else min(remaining, READ_PAGE)
            body = search_body(filters, size=size, sort=sort, _source={"includes": includes})
            if after is not None:
                body["search_after"] = after
            hits = self._search(index, body)["hits"]["hits"]
            for hit in hits:
                source = hit.get("_source") or {}
                values = source.get("v") or {}
                if wanted is not None:
                    values = {name: values[name] for name in wanted if name in values}
                time = from_micros(hit["sort"][0] // 1000)  # date_nanos sort values are ns
                rows.append(Row(time, source.get("m", ""), source.get("tags") or {}, values))
            if len(hits) < size:
                break
            if remaining is not None:
                remaining -= len(hits)
                if remaining <= 0:
                    break
            after = hits[-1]["sort"]
        return rows

    def _count_distinct(self, query: ReadQuery, field: str, since, until) -> int:
        self._sync()
        filters = self._scope(query.measurements, query.tags, since, until, query.where)
        filters.append(compiler.has_field([field]))
        sources = [
            {"n": {"terms": {"field": f"n.{field}", "missing_bucket": True}}},
            {"s": {"terms": {"field": f"s.{field}", "missing_bucket": True}}},
        ]
        index = self._index(query.retention, since, until)
        return sum(
            1
            for bucket in self._composite_buckets(index, filters, sources)
            if bucket["key"]["n"] is not None or bucket["key"]["s"] is not None
        )

    def count_points(self, retention: str | None = None) -> dict[str, int]:
        self._sync()
        index = self.layout.all_pattern if retention is None else self.layout.tier_pattern(retention)
        sources = [{"m": {"terms": {"field": "m"}}}]
        return {b["key"]["m"]: b["doc_count"] for b in self._composite_buckets(index, [], sources)}

    # ------------------------------------------------------------------ charts

    def _plan(self, query: ChartQuery, bucketing: Bucketing | None, lower, end, chart: bool, summary: bool):
        self._sync()
        plan = ChartPlan(
            query,
            bucketing,
            want_chart=chart,
            want_summary=summary,
            index=self._index(query.retention, lower, end),
            scope=self._scope([query.measurement], query.tags, lower, end),
        )
        jobs = list(plan.jobs)
        while jobs:
            responses = self._msearch([(job.index, job.body) for job in jobs])
            more = []
            for job, response in zip(jobs, responses, strict=True):
                job.consume(response)
                if job.paged:
                    found = (response.get("aggregations") or {}).get(job.paged) or {}
                    if len(found.get("buckets", [])) >= compiler.COMPOSITE_PAGE and "after_key" in found:
                        job.body["aggs"][job.paged]["composite"]["after"] = found["after_key"]
                        more.append(job)
            jobs = more
        plan.finish()
        return plan

    def _chart(self, query, bucketing, lower, end):
        return self._plan(query, bucketing, lower, end, chart=True, summary=False).chart

    def _summary(self, query, lower, end):
        return self._plan(query, None, lower, end, chart=False, summary=True).summary

    def _chart_and_summary(self, query, bucketing, lower, end):
        plan = self._plan(query, bucketing, lower, end, chart=True, summary=True)
        return plan.chart, plan.summary

    def _rank_fields(self, query: ChartQuery, lower, end, n: int) -> list[str]:
        self._sync()
        filters = self._scope([query.measurement], query.tags, lower, end)
        index = self._index(query.retention, lower, end)
        names = set()
        for bucket in self._composite_buckets(index, filters, [{"k": {"terms": {"field": "k"}}}]):
            name, _, kind = bucket["key"]["k"].rpartition(":")
            if kind != "s":
                names.add(name)
        if not names:
            return []
        ordered = sorted(names)
        aggs = {f"f{i}": {"stats": {"field": f"n.{name}"}} for i, name in enumerate(ordered)}
        found = self._search(index, search_body(filters, size=0, aggs=aggs)).get("aggregations") or {}
        totals = [(found[f"f{i}"]["sum"], name) for i, name in enumerate(ordered) if found[f"f{i}"]["count"]]
        totals.sort(key=lambda item: (-item[0], item[1]))
        return [name for _total, name in totals[:n]]

    # ------------------------------------------------------------------ deletes

    def _delete(self, measurement, tags, start, end, retention) -> None:
        self._sync()
        filters = compiler.tag_filters(tags)
        if measurement is not None:
            filters.append({"term": {"m": measurement}})
        filters += compiler.time_filter(start and to_micros(start), end and to_micros(end))
        index = self.layout.all_pattern if retention is None else self.layout.tier_pattern(retention)
        self._delete_where(index, filters)

    def _delete_where(self, index: str, filters: list[dict]) -> int:
        """Delete matching documents by id (the minimal distribution has no delete-by-query):
        scroll their ids, bulk-delete them, refresh what changed."""
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

        deleted = 0
        with self._errors():
            ok, errors = helpers.bulk(self.client, actions(), chunk_size=5_000, raise_on_error=False)
        deleted += ok
        for item in errors:
            _op, info = next(iter(item.items()))
            if info.get("status") != 404:  # already gone
                self._raise_item_error(int(info.get("status", 500)), info)
        if touched:
            self._refresh(touched)
        return deleted

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        try:
            with self._errors():
                version = self._node().get("version")
        except TimeseriesError as exc:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": str(exc)}
        if not version:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": "no node answered"}
        return {"backend": self.vendor, "reachable": True, "version": version, "error": None}
