"""ReadQuery / ChartQuery → Elasticsearch query DSL, and aggregation results → raw values.

Semantics follow the SQL backends (``backends/sql``) value for value: counts are ints, means
floats, sums/min/max/mode/last come back as int or bool when every value of the field in scope
was written as one; mode ties go to the value seen first, then the smaller value; last ties go
to the larger value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetwatch.timeseries.backends.elasticsearch.layout import KINDS
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.errors import FieldTypeError
from fleetwatch.timeseries.model import NUMERIC_AGGREGATES, Aggregate, ChartQuery, Where, to_micros

# Buckets one response may hold (search.max_buckets is 65,536 by default).
COMPOSITE_PAGE = 10_000
# Up to this many buckets a chart is one date_histogram with gap filling; longer (odd) ranges
# page through a composite aggregation instead.
MAX_HISTOGRAM_BUCKETS = 5_000
RANGE_OPS = {"<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}


def es_time(micros: int) -> str:
    """µs since the epoch as the fractional epoch milliseconds a ``date_nanos`` field parses."""
    return f"{micros // 1000}.{micros % 1000:03d}"


def typed(num: float | None, txt: str | None, kinds: set[str]) -> Any:
    """An aggregated value in the type its field was written with (as the SQL backends do)."""
    if txt is not None:
        return txt
    if num is None:
        return None
    if kinds == {"i"}:
        return int(num)
    if kinds == {"b"}:
        return bool(num)
    return float(num)


# --------------------------------------------------------------------------- filters


def time_filter(lower_us: int | None, upper_us: int | None) -> list[dict]:
    """A range on ``t``; ``date_nanos`` holds nothing before 1970, so earlier bounds are clamped
    (a retention of a century reaches back before it)."""
    if upper_us is not None and upper_us < 0:
        return [{"match_none": {}}]
    bounds = {}
    if lower_us is not None:
        bounds["gte"] = es_time(max(lower_us, 0))
    if upper_us is not None:
        bounds["lte"] = es_time(upper_us)
    return [{"range": {"t": bounds}}] if bounds else []


def tag_filters(tags: Mapping[str, Sequence[str]]) -> list[dict]:
    return [{"terms": {f"tags.{key}": list(values)}} for key, values in tags.items()]


def has_field(names: Iterable[str]) -> dict:
    """Points carrying at least one of the fields, whatever their type."""
    return {"terms": {"k": [f"{name}:{kind}" for name in names for kind in KINDS]}}


def where_filter(cond: Where) -> dict:
    """A point whose value of ``cond.field`` compares true (strings with strings, numbers and
    booleans with numbers); points without the field never match, as in SQL."""
    if isinstance(cond.value, str):
        column, value = f"s.{cond.field}", cond.value
    else:
        column, value = f"n.{cond.field}", float(cond.value)
    if cond.op == "=":
        return {"term": {column: value}}
    if cond.op == "!=":
        return {"bool": {"filter": [{"exists": {"field": column}}], "must_not": [{"term": {column: value}}]}}
    return {"range": {column: {RANGE_OPS[cond.op]: value}}}


def search_body(filters: list[dict], **extra) -> dict:
    return {"query": {"bool": {"filter": filters}}, "track_total_hits": False, **extra}


# --------------------------------------------------------------------------- buckets


def fixed_offset(offset_us: int) -> str:
    seconds = offset_us // 1_000_000
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return text + f":{seconds % 60:02d}" if seconds % 60 else text


def histogram_params(bucketing: Bucketing) -> dict:
    """date_histogram settings whose buckets are exactly ``bucketing``'s keys.

    Sub-day buckets are fixed lengths aligned in the zone's offset at the range start, which is
    a fixed-offset time zone; whole days follow the zone's calendar (``calendar_interval: 1d``
    rounds to local midnight, fixed ``Nd`` rounds local time down to N days from 1970-01-01:
    both are ``(t + offset(t)) // step``, like ``Bucketing.key``)."""
    interval = bucketing.interval
    if not interval.is_calendar:
        return {"fixed_interval": f"{interval.seconds}s", "time_zone": fixed_offset(bucketing.offsets[0][1])}
    zone = bucketing.zone.key
    if interval.days == 1:
        return {"calendar_interval": "1d", "time_zone": zone}
    return {"fixed_interval": f"{interval.days}d", "time_zone": zone}


def start_millis(bucketing: Bucketing, key: int) -> int:
    return to_micros(bucketing.key_start(key)) // 1000


# --------------------------------------------------------------------------- charts


@dataclass
class Job:
    """One search of a chart's multi-search; a composite aggregation named ``paged`` is paged
    through until exhausted, every page handed to ``consume``."""

    index: str
    body: dict
    consume: Any
    paged: str | None = None


class ChartPlan:
    """The searches answering one chart and/or summary, and what they produce.

    ``chart`` is ``{series: {bucket key: raw value}}`` and ``summary`` ``{series: raw value}``
    (series = alias, or tag value when grouped), as ``BaseBackend._chart``/``_summary`` return.
    Run every job (a multi-search, then further pages), then call ``finish()``.
    """

    def __init__(
        self,
        query: ChartQuery,
        bucketing: Bucketing | None,
        want_chart: bool,
        want_summary: bool,
        index: str,
        scope: list[dict],
    ):
        self.query = query
        self.bucketing = bucketing
        self.want_chart = want_chart
        self.want_summary = want_summary
        self.index = index
        self.scope = scope
        self.kinds: dict[str, set[str]] = {}  # field → kinds written in scope (i, f, b, s)
        self.chart: dict[str, dict[int, Any]] = {}
        self.summary: dict[str, Any] = {}
        self.jobs: list[Job] = []
        self._values: list[_ValueState] = []
        self.fields = list(dict.fromkeys(agg.field for agg in query.aggregates))
        self.simple = [a for a in query.aggregates if a.fn not in ("count_distinct", "mode")]
        self.grouped = query.group_by is not None
        # Ungrouped charts of a sane length are one date_histogram; everything else that is
        # bucketed (by tag and/or time) pages through a composite aggregation.
        self.histogram = (
            self.want_chart
            and not self.grouped
            and self.bucketing is not None
            and len(self.bucketing.keys()) <= MAX_HISTOGRAM_BUCKETS
        )
        self._build()

    # ---------------------------------------------------------------- building

    def _field_no(self, name: str) -> int:
        return self.fields.index(name)

    def _metric_aggs(self) -> dict:
        """Sub-aggregations computing every simple aggregate of one bucket."""
        aggs: dict[str, dict] = {}
        for agg in self.simple:
            j = self._field_no(agg.field)
            if agg.fn in NUMERIC_AGGREGATES:
                aggs[f"st{j}"] = {"stats": {"field": f"n.{agg.field}"}}
            elif agg.fn == "count":
                aggs[f"c{j}"] = {"filter": has_field([agg.field])}
            elif agg.fn == "last":
                # Latest point; ties (same instant, several series) go to the larger value.
                sort = [
                    {"t": {"order": "desc"}},
                    {f"n.{agg.field}": {"order": "desc", "unmapped_type": "double"}},
                    {f"s.{agg.field}": {"order": "desc", "unmapped_type": "keyword"}},
                ]
                top = {"size": 1, "sort": sort, "_source": {"includes": [f"v.{agg.field}"]}}
                aggs[f"l{j}"] = {"filter": has_field([agg.field]), "aggs": {"top": {"top_hits": top}}}
        return aggs

    def _sources(self, with_time: bool) -> list[dict]:
        sources = []
        if self.grouped:
            sources.append({"g": {"terms": {"field": f"tags.{self.query.group_by}"}}})
        if with_time:
            sources.append({"b": {"date_histogram": {"field": "t", **histogram_params(self.bucketing)}}})
        return sources

    def _build(self) -> None:
        kinds = {
            f"{name}:{kind}": {"term": {"k": f"{name}:{kind}"}} for name in self.fields for kind in KINDS
        }
        main_aggs: dict[str, dict] = {"kinds": {"filters": {"filters": kinds}}}
        metrics = self._metric_aggs() if self.simple else {}
        bucketed = self.want_chart and self.bucketing is not None
        if self.histogram:
            bucketing = self.bucketing
            main_aggs["b"] = {
                "date_histogram": {
                    "field": "t",
                    **histogram_params(bucketing),
                    "min_doc_count": 0,
                    "extended_bounds": {
                        "min": start_millis(bucketing, bucketing.first_key),
                        "max": start_millis(bucketing, bucketing.last_key),
                    },
                },
                "aggs": metrics,
            }
        if metrics and not self.grouped and self.want_summary:
            main_aggs.update(metrics)
        self.jobs.append(Job(self.index, search_body(self.scope, size=0, aggs=main_aggs), self._consume_main))
        if metrics and (self.grouped or (bucketed and not self.histogram)):
            self._add_metric_composites(metrics, bucketed)
        for agg in self.query.aggregates:
            if agg.fn in ("count_distinct", "mode"):
                self._add_value_composite(agg, bucketed)

    def _composite(self, sources: list[dict], aggs: dict | None = None) -> dict:
        composite = {"composite": {"size": COMPOSITE_PAGE, "sources": sources}}
        if aggs:
            composite["aggs"] = aggs
        return composite

    def _add_metric_composites(self, metrics: dict, bucketed: bool) -> None:
        if self.want_chart and bucketed:
            body = search_body(self.scope, size=0, aggs={"p": self._composite(self._sources(True), metrics)})
            self.jobs.append(Job(self.index, body, self._consume_metric_page(chart=True), "p"))
        if self.want_summary and self.grouped:
            body = search_body(self.scope, size=0, aggs={"p": self._composite(self._sources(False), metrics)})
            self.jobs.append(Job(self.index, body, self._consume_metric_page(chart=False), "p"))

    def _add_value_composite(self, agg: Aggregate, bucketed: bool) -> None:
        """Distinct values (and how often, and first when) per bucket: exact, paged."""
        values = [
            {"n": {"terms": {"field": f"n.{agg.field}", "missing_bucket": True}}},
            {"s": {"terms": {"field": f"s.{agg.field}", "missing_bucket": True}}},
        ]
        sub = {"first": {"min": {"field": "us"}}} if agg.fn == "mode" else None
        scope = [*self.scope, has_field([agg.field])]
        if self.want_chart and bucketed:
            state = _ValueState(agg, chart=True, summary=self.want_summary and not self.grouped)
            body = search_body(scope, size=0, aggs={"p": self._composite(self._sources(True) + values, sub)})
            self.jobs.append(Job(self.index, body, state.consume, "p"))
            self._values.append(state)
        if self.want_summary and (self.grouped or not (self.want_chart and bucketed)):
            state = _ValueState(agg, chart=False, summary=True)
            body = search_body(scope, size=0, aggs={"p": self._composite(self._sources(False) + values, sub)})
            self.jobs.append(Job(self.index, body, state.consume, "p"))
            self._values.append(state)

    # ---------------------------------------------------------------- consuming

    def _consume_main(self, response: dict) -> None:
        aggs = response.get("aggregations") or {}
        kind_counts = (aggs.get("kinds") or {}).get("buckets", {})
        for name in self.fields:
            self.kinds[name] = {k for k in KINDS if kind_counts.get(f"{name}:{k}", {}).get("doc_count")}
        for agg in self.query.aggregates:
            if agg.fn in NUMERIC_AGGREGATES and "s" in self.kinds[agg.field]:
                raise FieldTypeError(
                    f"{agg.fn}({agg.field}) needs numbers, but {self.query.measurement}.{agg.field} "
                    "holds strings"
                )
        if self.histogram and "b" in aggs:
            for bucket in aggs["b"]["buckets"]:
                if bucket["doc_count"]:
                    key = self.bucketing.key(bucket["key"] * 1000)
                    self._put_metrics(self.chart, key, None, bucket)
        if self.simple and not self.grouped and self.want_summary and aggs:
            summary: dict[str, dict] = {}
            self._put_metrics(summary, 0, None, aggs)
            self.summary.update({name: values[0] for name, values in summary.items()})

    def _consume_metric_page(self, chart: bool):
        def consume(response: dict) -> None:
            for bucket in _composite_buckets(response):
                key = bucket["key"]
                group = key.get("g")
                if chart:
                    self._put_metrics(self.chart, self.bucketing.key(key["b"] * 1000), group, bucket)
                else:
                    found: dict[str, dict] = {}
                    self._put_metrics(found, 0, group, bucket)
                    self.summary.update({name: values[0] for name, values in found.items()})

        return consume

    def _put_metrics(self, out: dict, key: int, group: str | None, bucket: dict) -> None:
        for agg in self.simple:
            j = self._field_no(agg.field)
            kinds = self.kinds.get(agg.field, set())
            value: Any = None
            if agg.fn in NUMERIC_AGGREGATES:
                stats = bucket.get(f"st{j}")
                if stats and stats["count"]:
                    if agg.fn == "mean":
                        value = float(stats["avg"])
                    else:
                        value = typed(float(stats[agg.fn]), None, kinds)
            elif agg.fn == "count":
                value = int(bucket[f"c{j}"]["doc_count"]) or None
            else:  # last
                hits = bucket[f"l{j}"]["top"]["hits"]["hits"]
                if hits:
                    written = (hits[0].get("_source") or {}).get("v", {}).get(agg.field)
                    if isinstance(written, str):
                        value = written
                    elif written is not None:
                        value = typed(float(written), None, kinds)
            if value is not None:
                out.setdefault(agg.alias if group is None else group, {})[key] = value

    def finish(self) -> None:
        for state in self._values:
            state.finish(self)


def _composite_buckets(response: dict) -> list[dict]:
    return ((response.get("aggregations") or {}).get("p") or {}).get("buckets", [])


class _ValueState:
    """Accumulates a distinct-value composite: per (group, bucket) each value's count and the
    instant it was first seen; finishes into count_distinct or mode."""

    def __init__(self, agg: Aggregate, chart: bool, summary: bool):
        self.agg = agg
        self.chart = chart
        self.summary = summary
        # (group, bucket key or None) → {(num, txt): [count, first µs]}
        self.cells: dict[tuple, dict[tuple, list]] = {}

    def consume(self, response: dict) -> None:
        for bucket in _composite_buckets(response):
            key = bucket["key"]
            num, txt = key.get("n"), key.get("s")
            if num is None and txt is None:
                continue  # a string too long to be indexed
            first = (bucket.get("first") or {}).get("value")
            where = (key.get("g"), key["b"] if "b" in key else None)
            value = self.cells.setdefault(where, {}).setdefault((num, txt), [0, None])
            value[0] += bucket["doc_count"]
            if first is not None and (value[1] is None or first < value[1]):
                value[1] = first
            if self.chart and self.summary:
                # A chart with its summary: the range's totals come from the same buckets.
                total = self.cells.setdefault((None, None), {}).setdefault((num, txt), [0, None])
                total[0] += bucket["doc_count"]
                if first is not None and (total[1] is None or first < total[1]):
                    total[1] = first

    def _result(self, values: dict[tuple, list], kinds: set[str]) -> Any:
        if self.agg.fn == "count_distinct":
            return len(values)
        # Most frequent; ties: seen first, then the smaller number (SQL's NULL sorts first).
        (num, txt), _ = min(
            values.items(),
            key=lambda item: (
                -item[1][0],
                item[1][1] if item[1][1] is not None else float("inf"),
                item[0][0] is not None,
                item[0][0] if item[0][0] is not None else 0.0,
                item[0][1] is not None,
                item[0][1] or "",
            ),
        )
        return typed(num, txt, kinds)

    def finish(self, plan: ChartPlan) -> None:
        kinds = plan.kinds.get(self.agg.field, set())
        for (group, bucket_ms), values in self.cells.items():
            if not values:
                continue
            name = self.agg.alias if group is None else group
            value = self._result(values, kinds)
            if bucket_ms is not None:
                plan.chart.setdefault(name, {})[plan.bucketing.key(bucket_ms * 1000)] = value
            else:
                plan.summary[name] = value
