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

Hourly and daily rollups (``downsample``) are recomputed from the points for the units every
write, delete and retention purge touches, before the call returns, so charts can read them
exactly; why this and not Elasticsearch's downsampling or transforms is said there.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backend import BaseBackend, Features
from fleetwatch.timeseries.backends.elasticsearch import compiler, downsample, layout
from fleetwatch.timeseries.backends.elasticsearch.compiler import (
    ChartPlan,
    es_time,
    histogram_params,
    search_body,
)
from fleetwatch.timeseries.backends.elasticsearch.documents import Pending, document_id, same_values
from fleetwatch.timeseries.backends.elasticsearch.indices import Indices, check_ilm
from fleetwatch.timeseries.backends.elasticsearch.transport import Transport
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.errors import (
    BackendUnavailable,
    ConfigurationError,
    FieldTypeError,
    InvalidPoint,
    TimeseriesError,
)
from fleetwatch.timeseries.model import (
    EPOCH,
    NUMERIC_AGGREGATES,
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


HOUR, DAY = rollups.HOUR, rollups.DAY
# Time ranges one recomputation filters on, each a clause (indices.query.bool.max_clause_count).
MAX_RANGES = 256


class ElasticsearchFeatures(Features):
    supports_point_delete = True
    supports_exact_count_distinct = True
    supports_rollups = True


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
        if self.indices.ready:
            return
        self.indices.setup(self.config.retention)
        try:
            self._setup_rollups()
        except BaseException:
            self.indices.reset()
            raise

    def _setup_rollups(self) -> None:
        """The rollup indices' template, and every rollup computed once for a store written
        before rollups existed, or before their current shape (the template's ``version`` and
        ``_meta.built`` say it was done)."""
        name = f"{self.layout.namespace}.rollups"
        client = self.transport.client
        with self.transport.errors():
            found = client.options(ignore_status=404).indices.get_index_template(name=name).body
            templates = [t["index_template"] for t in found.get("index_templates") or []]
            if templates and templates[0].get("version") == downsample.TEMPLATE_VERSION:
                if (templates[0].get("_meta") or {}).get("built"):
                    return
        if templates:  # another shape, or a build that did not finish
            self._drop(self.transport.list_indices(downsample.pattern(self.layout.namespace)))
        body = downsample.template(self.layout.namespace)
        with self.transport.errors():
            client.indices.put_index_template(name=name, body=body)
        for tier in self.config.retention:
            if self.transport.list_indices(self.layout.tier_pattern(tier)):
                self._sync()
                self._recompute(tier, [], None)
        body["_meta"]["built"] = True
        with self.transport.errors():
            client.indices.put_index_template(name=name, body=body)

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
        # Rollups: months of units that all end by the floor go whole, the rest is trimmed
        # and the units the floor cuts are rebuilt from the points left.
        units = self.transport.list_indices(downsample.prefix(self.layout.namespace, tier) + "*")
        gone = [n for n in units if (p := layout.period_of_name(n)) is not None and p.end <= floor_us]
        if gone:
            self._drop(gone)
        if floor_us > 0 and len(gone) < len(units):
            self._rollups_after_delete(tier, [], None, floor_us - 1)
        return removed

    def _drop(self, names: list[str]) -> None:
        self.indices.forget(names)
        with self._lock:
            self._dirty.difference_update(names)
        self.transport.delete_indices(names)

    def flush(self) -> None:
        names = self.transport.list_indices(self.layout.all_pattern)
        names += self.transport.list_indices(downsample.pattern(self.layout.namespace))
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
        self._write_rollups(pending.values())

    # ------------------------------------------------------------------ rollups

    def _write_rollups(self, pending) -> None:
        """Recompute the hourly and daily rollups of the written points' series, fields and
        units from the points (a late, resent or corrected point changes them like any other)."""
        touched: dict[str, tuple[set, set, set]] = {}
        for p in pending:
            entry = touched.get(p.tier)
            if entry is None:
                entry = touched[p.tier] = (set(), set(), set())
            entry[0].add(p.measurement)
            entry[1].add(p.series_key)
            entry[2].add(p.micros - p.micros % HOUR)
        self._sync()  # the aggregation must see the points just written
        for tier, (measurements, series, hours) in touched.items():
            scope = [{"terms": {"m": sorted(measurements)}}, {"terms": {"sk": sorted(series)}}]
            ranges = downsample.unit_ranges(hours, HOUR)
            if len(ranges) > MAX_RANGES:  # scattered hours (an import): one pass over their span
                ranges = [(ranges[0][0], ranges[-1][1])]
            self._recompute(tier, scope, ranges)

    def _recompute(self, tier: str, scope: list[dict], hours) -> None:
        """Index the hourly rollups of the series ``scope`` selects for the hours in ``hours``
        (``[from, to)`` µs ranges of whole hours; None: every hour), then the daily rollups of
        the days those hours are in, summed from the hourly ones. Units without points get no
        document (callers clearing units delete them first)."""
        self._setup()
        ns = self.layout.namespace
        raw_scope = list(scope)
        day_scope = list(scope)
        if hours is not None:
            if not hours:
                return
            raw_scope.append(downsample.raw_time_filter(hours))
            index = self.layout.patterns_for(tier, hours[0][0], hours[-1][1] - 1)
            days = {moment for a, b in hours for moment in range(a - a % DAY, b, DAY)}
            day_scope.append(downsample.unit_time_filter(downsample.unit_ranges(days, DAY)))
        else:
            index = self.layout.tier_pattern(tier)
        rollup_index = downsample.prefix(ns, tier) + "*"
        # The version of what this call indexes is when it started reading (after the refresh
        # that made the points visible): of two writers recomputing a unit at once, the one
        # that read later saw at least as much, and Elasticsearch keeps its version of the unit.
        version = time.time_ns()
        # A unit's document holds every field of its series: the fields of the points in the
        # hours, and those of the other hours of their days.
        found = self.transport.msearch(
            [
                (index, downsample.kinds_body(raw_scope)),
                (rollup_index, downsample.kinds_body([{"term": {"p": "1h"}}, *day_scope])),
            ]
        )
        names = sorted(
            {
                bucket["key"].rpartition(":")[0]
                for response in found
                for bucket in ((response.get("aggregations") or {}).get("k") or {}).get("buckets", [])
            }
        )
        if not names:
            return
        written: set[str] = set()

        def actions(step: str, body: dict, search_index: str, from_points: bool):
            for bucket in self._pages(search_index, body):
                made = downsample.unit_document(tier, step, names, bucket, from_points)
                if made is not None:
                    name = downsample.index_name(ns, tier, made[1]["t"])
                    written.add(name)
                    yield _versioned(name, made[0], made[1], version)

        self._index_rollups(actions("1h", downsample.hours_body(raw_scope, names), index, True))
        if written:
            self.transport.refresh(written)  # the days are summed from the hours just indexed
        version = time.time_ns()
        self._index_rollups(actions("1d", downsample.days_body(day_scope, names), rollup_index, False))
        with self._lock:
            self._dirty |= written
            self._written += 1

    def _index_rollups(self, actions) -> None:
        for status, info in self.transport.bulk(actions):
            if status != 409:  # 409: a unit another writer recomputed from a later read
                self.transport.raise_item_error(status, info)

    def _pages(self, index: str, body: dict):
        """Every bucket of the composite aggregation ``p`` of ``body``, page by page."""
        while True:
            found = (self.transport.search(index, body).get("aggregations") or {}).get("p") or {}
            buckets = found.get("buckets", [])
            yield from buckets
            if len(buckets) < body["aggs"]["p"]["composite"]["size"] or "after_key" not in found:
                return
            body["aggs"]["p"]["composite"]["after"] = found["after_key"]

    def _rollups_after_delete(
        self, tier: str, scope: list[dict], first: int | None, last: int | None
    ) -> None:
        """Bring the rollups of the series ``scope`` selects in line after their points in
        ``[first, last]`` (µs, either open) were deleted: drop every unit touching the range,
        then rebuild the units at its edges from the points left in them."""
        rollup_index = downsample.prefix(self.layout.namespace, tier) + "*"
        edges = set()
        for step, name in ((HOUR, "1h"), (DAY, "1d")):
            start = first - first % step if first is not None else None
            end = last - last % step + step if last is not None else None
            bounds = {}
            if start is not None:
                bounds["gte"] = start // 1000
                if step == HOUR:
                    edges.add(start)
            if end is not None:
                bounds["lt"] = end // 1000
                if step == HOUR:
                    edges.add(end - HOUR)
            when = [{"range": {"t": bounds}}] if bounds else []
            self.transport.delete_where(rollup_index, [*scope, {"term": {"p": name}}, *when])
        if edges:
            self._recompute(tier, scope, downsample.unit_ranges(edges, HOUR))

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

    def _rollup_partials(self, query, fields, bucketing, plan):
        """Partials of ``fields`` in one multi-search: the plan's raw intervals from the points,
        its whole units from the rollups, both bucketed by the chart's ``date_histogram`` (a
        unit lies inside one bucket, so its start places it). Boolean fields are left to raw
        aggregates; numbers come back typed as raw aggregates type them."""
        self._setup()  # a store written before rollups existed gets them before they are read
        self._sync()
        scope = [{"term": {"m": query.measurement}}, *compiler.tag_filters(query.tags)]
        group = [{"g": {"terms": {"field": f"tags.{query.group_by}"}}}] if query.group_by else []
        when = [{"b": {"date_histogram": {"field": "t", **histogram_params(bucketing)}}}] if bucketing else []
        jobs = []  # (index, body, whether it reads points)
        if plan.raw:
            filters = [*scope, downsample.raw_time_filter(plan.raw), compiler.has_field(fields)]
            index = self._index(
                query.retention, from_micros(plan.raw[0][0]), from_micros(plan.raw[-1][1] - 1)
            )
            jobs.append(
                (
                    index,
                    _partials_body(filters, group + when, downsample.partial_aggs(fields, True), len(fields)),
                    True,
                )
            )
        units = [
            {
                "bool": {
                    "filter": [
                        {"term": {"p": downsample.STEP_NAMES[step]}},
                        downsample.unit_time_filter(spans),
                    ]
                }
            }
            for step, spans in plan.rollups.items()
            if spans
        ]
        if units:
            filters = [*scope, compiler.has_field(fields), downsample.any_of(units)]
            index = downsample.prefix(self.layout.namespace, query.retention) + "*"
            aggs = downsample.partial_aggs(fields, False)
            jobs.append((index, _partials_body(filters, group + when, aggs, len(fields)), False))
        out: dict = {}
        kinds: dict[str, set[str]] = {name: set() for name in fields}

        def put(key: dict, name: str, parts: dict, seen: set[str]) -> None:
            kinds[name] |= seen
            slot = out.setdefault(key.get("g"), {}).setdefault(name, {})
            at = bucketing.key(key["b"] * 1000) if bucketing is not None else 0
            slot[at] = rollups.merge(slot.get(at, {}), parts)

        while jobs:
            responses = self.transport.msearch([(index, body) for index, body, _points in jobs])
            more = []
            for job, response in zip(jobs, responses, strict=True):
                _index, body, points = job
                aggs = response.get("aggregations") or {}
                if "p" not in aggs:  # one bucket, no composite
                    buckets = [{**aggs, "key": {}}] if aggs else []
                else:
                    buckets = aggs["p"].get("buckets", [])
                for bucket in buckets:
                    key = bucket["key"]
                    read = downsample.point_partials if points else downsample.unit_partials
                    for name, parts, seen in read(fields, bucket):
                        put(key, name, parts, seen)
                page = body["aggs"]["p"]["composite"]["size"] if "p" in aggs else 0
                if page and len(buckets) >= page and "after_key" in aggs["p"]:
                    body["aggs"]["p"]["composite"]["after"] = aggs["p"]["after_key"]
                    more.append(job)
            jobs = more
        for agg in query.aggregates:
            if agg.fn in NUMERIC_AGGREGATES and "s" in kinds.get(agg.field, ()):
                raise FieldTypeError(
                    f"{agg.fn}({agg.field}) needs numbers, but {query.measurement}.{agg.field} holds strings"
                )
        raw_only = {name for name in fields if "b" in kinds[name]}
        for by_field in out.values():
            for name in list(by_field):
                if name in raw_only:
                    del by_field[name]
                    continue
                for parts in by_field[name].values():
                    for part in ("sum", "min", "max"):
                        if parts.get(part) is not None:
                            parts[part] = compiler.typed(parts[part], None, kinds[name])
        return out, raw_only

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
        scope = [f for f in filters if "range" not in f]
        self._setup()  # rebuilt units go to indices made from the rollups' template
        for tier in self.config.retention if retention is None else [retention]:
            self._rollups_after_delete(tier, scope, start and to_micros(start), end and to_micros(end))

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


def _partials_body(filters: list[dict], sources: list[dict], aggs: dict, fields: int) -> dict:
    """A search whose composite aggregation ``p`` pages through ``sources`` with ``aggs`` in
    each bucket (kind counts of ``fields`` fields); without sources, ``aggs`` over everything
    ``filters`` select."""
    if not sources:
        return search_body(filters, size=0, aggs=aggs)
    page = downsample.page_size(fields)
    composite = {"composite": {"size": page, "sources": sources}, "aggs": aggs}
    return search_body(filters, size=0, aggs={"p": composite})


def _versioned(index: str, doc_id: str, source: dict, version: int) -> dict:
    """A rollup document to index unless the stored one comes from a later recomputation."""
    return {
        "_op_type": "index",
        "_index": index,
        "_id": doc_id,
        "_source": source,
        "version": version,
        "version_type": "external_gte",
    }
