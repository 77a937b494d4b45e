"""Elasticsearch backend: one document per point in time-based indices (see ``layout``).

The backend ties together its parts: ``transport`` (the client and its errors), ``indices``
(server administration: templates, ILM policies, which index a point goes to), ``documents``
(point encoding and deterministic ids), ``compiler`` (charts as aggregations) and ``layout``
(index names and mapping). What stays here is the order of a write, reads, deletes, retention
and read-your-writes.

Writes go through ``helpers.bulk`` with deterministic ids, so a retried batch overwrites
itself. New points are ``create``d; a point that already exists (a rewrite or a retry) is read
back and merged (a rewrite replaces the values it carries and keeps the others), then written
with optimistic concurrency. Reads, charts and deletes refresh first only the indices this
backend wrote since its last refresh, so a process reads its own writes without a refresh
per write (other processes see them after the server's 1 s refresh interval).

Retention is computed from the backend's clock: ``enforce_retention()`` drops every index whose
period has expired and deletes the expired points of the one index that straddles the floor.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from fleetwatch.timeseries.backend import BaseBackend, Features
from fleetwatch.timeseries.backends.elasticsearch import compiler, layout
from fleetwatch.timeseries.backends.elasticsearch.compiler import ChartPlan, es_time, search_body
from fleetwatch.timeseries.backends.elasticsearch.documents import Pending, document_id, same_values
from fleetwatch.timeseries.backends.elasticsearch.indices import Indices, check_ilm
from fleetwatch.timeseries.backends.elasticsearch.transport import Transport
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

READ_PAGE = 10_000  # hits per search (index.max_result_window)
MGET_CHUNK = 1_000
REWRITE_ATTEMPTS = 5


class ElasticsearchFeatures(Features):
    supports_point_delete = True
    supports_exact_count_distinct = True


class ElasticsearchBackend(BaseBackend):
    vendor = "elasticsearch"
    display_name = "Elasticsearch"
    features_class = ElasticsearchFeatures

    def __init__(self, config, clock=None):
        super().__init__(config, clock)
        options = config.options
        self.layout = layout.Layout(str(options.get("schema") or config.name or "fleetwatch"))
        ilm = check_ilm(options.get("ilm", "auto"))  # before a client is made for nothing
        scheme = str(options.get("scheme", "http"))
        if scheme not in ("http", "https"):
            raise ConfigurationError(f"elasticsearch scheme must be http or https, not {scheme!r}")
        host = config.host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        self.url = f"{scheme}://{host}:{config.port or 9200}"
        self.transport = Transport(self.url, options, config.user, config.password, self.layout.all_pattern)
        self.indices = Indices(self.transport, self.layout, ilm)
        self.client = self.transport.client  # the official client, for what this backend does not wrap
        self._lock = threading.Lock()
        self._dirty: set[str] = set()  # indices written since the last refresh
        # Writes since start (and how many of them a completed refresh made visible): a reader
        # that comes while another thread's refresh is in flight waits for it, not past it.
        self._written = 0
        self._visible = 0
        self._refresh_lock = threading.Lock()
        self._series_keys: dict[tuple, str] = {}

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
                    self.transport.refresh(dirty)
            except BaseException:
                with self._lock:
                    self._dirty |= dirty
                raise
            self._visible = max(self._visible, target)

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------ setup & retention

    def _setup(self) -> None:
        self.indices.setup(self.config.retention)

    def _apply_retention(self) -> None:
        self.indices.reset()
        self._setup()

    def _purge_before(self, tier: str, floor: datetime) -> int:
        self._sync()
        floor_us = to_micros(floor)
        expired, straddling = [], []
        for name in self.transport.list_indices(self.layout.tier_pattern(tier)):
            period = layout.period_of_name(name)
            if period is not None and period.end <= floor_us:
                expired.append(name)
            elif period is None or period.start < floor_us:
                straddling.append(name)
        removed = 0
        if expired:
            removed += self.transport.count(expired)
            self._drop(expired)
        if straddling and floor_us > 0:  # nothing is stored before 1970
            removed += self.transport.delete_where(
                ",".join(straddling), [{"range": {"t": {"lt": es_time(floor_us)}}}]
            )
        return removed

    def _drop(self, names: list[str]) -> None:
        self.indices.forget(names)
        with self._lock:
            self._dirty.difference_update(names)
        self.transport.delete_indices(names)

    def flush(self) -> None:
        names = self.transport.list_indices(self.layout.all_pattern)
        if names:
            self._drop(names)
        self.indices.forget()
        with self._lock:
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
        pending: dict[str, Pending] = {}
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
                    pending[doc_id] = Pending(
                        tier, point.measurement, point.tags, series_key, micros, dict(point.fields)
                    )
        self.indices.route(list(pending.values()), self.config.retention)
        actions = (
            {"_op_type": "create", "_index": p.index, "_id": doc_id, "_source": p.source()}
            for doc_id, p in pending.items()
        )
        rewrites = {}
        try:
            for status, info in self.transport.bulk(actions):
                if status == 409:  # the point exists: merge into it
                    rewrites[info["_id"]] = pending[info["_id"]]
                else:
                    self.transport.raise_item_error(status, info)
            if rewrites:
                self._rewrite(rewrites)
        finally:
            with self._lock:
                self._dirty.update(p.index for p in pending.values())
                self._written += 1

    def _rewrite(self, pending: dict[str, Pending]) -> None:
        """Merge points into the documents that already hold them: read, merge, write back only
        if nobody changed the document in between (else read again)."""
        for _attempt in range(REWRITE_ATTEMPTS):
            actions = []
            items = list(pending.items())
            for i in range(0, len(items), MGET_CHUNK):
                chunk = items[i : i + MGET_CHUNK]
                found = self.transport.mget(
                    [{"_index": p.index, "_id": doc_id} for doc_id, p in chunk], source_includes=["v"]
                )
                for (doc_id, p), doc in zip(chunk, found, strict=True):
                    if doc.get("found"):
                        stored = (doc.get("_source") or {}).get("v", {})
                        values = {**stored, **p.values}
                        if same_values(values, stored):
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
            for status, info in self.transport.bulk(actions):
                if status == 409:
                    again[info["_id"]] = pending[info["_id"]]
                else:
                    self.transport.raise_item_error(status, info)
            if not again:
                return
            pending = again
        raise BackendUnavailable(
            f"{len(pending)} points kept changing while being rewritten; retry the write"
        )

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
            self.transport.refresh([index])
        rows: list[Row] = []
        remaining = query.limit
        after = None
        while True:
            size = READ_PAGE if remaining is None else min(remaining, READ_PAGE)
            body = search_body(filters, size=size, sort=sort, _source={"includes": includes})
            if after is not None:
                body["search_after"] = after
            hits = self.transport.search(index, body)["hits"]["hits"]
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
            for bucket in self.transport.composite_buckets(index, filters, sources)
            if bucket["key"]["n"] is not None or bucket["key"]["s"] is not None
        )

    def count_points(self, retention: str | None = None) -> dict[str, int]:
        self._sync()
        index = self.layout.all_pattern if retention is None else self.layout.tier_pattern(retention)
        sources = [{"m": {"terms": {"field": "m"}}}]
        return {b["key"]["m"]: b["doc_count"] for b in self.transport.composite_buckets(index, [], sources)}

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
            responses = self.transport.msearch([(job.index, job.body) for job in jobs])
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
        for bucket in self.transport.composite_buckets(index, filters, [{"k": {"terms": {"field": "k"}}}]):
            name, _, kind = bucket["key"]["k"].rpartition(":")
            if kind != "s":
                names.add(name)
        if not names:
            return []
        ordered = sorted(names)
        aggs = {f"f{i}": {"stats": {"field": f"n.{name}"}} for i, name in enumerate(ordered)}
        found = (
            self.transport.search(index, search_body(filters, size=0, aggs=aggs)).get("aggregations") or {}
        )
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
        self.transport.delete_where(index, filters)

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        try:
            with self.transport.errors():
                version = self.transport.node().get("version")
        except TimeseriesError as exc:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": str(exc)}
        if not version:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": "no node answered"}
        return {"backend": self.vendor, "reachable": True, "version": version, "error": None}
