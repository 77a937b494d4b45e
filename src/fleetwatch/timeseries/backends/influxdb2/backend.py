"""InfluxDB 2.x: points as line protocol through the official client's write API, charts as Flux,
retention tiers as buckets with retention rules, deletes through the delete API.

The backend ties together its parts: ``client`` (the transport and its errors), ``buckets``
(server administration: one bucket per tier), ``compiler`` (reads and charts as Flux scripts,
and their answers), ``flux`` (Flux text and annotated CSV) and the line protocol both InfluxDB
backends share (``backends.lineprotocol``). What stays here is the per-process knowledge of
the server (each field's type per bucket), writes, deletes and retention, and keeping the
rollups (``downsampling``) current with each of them.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from typing import Any

from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.backend import BaseBackend, Features, flag
from fleetwatch.timeseries.backends.influxdb2 import compiler, downsampling, flux
from fleetwatch.timeseries.backends.influxdb2.buckets import Buckets
from fleetwatch.timeseries.backends.influxdb2.client import Influx2Client, MissingBucket
from fleetwatch.timeseries.backends.lineprotocol import LineBuilder, checked_lines, horizon_line
from fleetwatch.timeseries.buckets import Bucketing
from fleetwatch.timeseries.errors import (
    BackendUnavailable,
    ConfigurationError,
    FieldTypeError,
    TimeseriesError,
)
from fleetwatch.timeseries.model import (
    NUMERIC_AGGREGATES,
    ChartQuery,
    Point,
    ReadQuery,
    Row,
    check_query_name,
    to_micros,
)

KIND_OF_CSV = {
    "double": "float",
    "long": "integer",
    "unsignedLong": "integer",
    "boolean": "boolean",
    "string": "string",
}
# Columns Flux itself uses: a tag or field of that name would collide with them after a pivot
# (InfluxDB refuses some of them as tag keys, and panics on others in queries).
RESERVED_NAMES = frozenset({"_start", "_stop", "_time", "_value", "_field", "_measurement", "time"})


class Influx2Features(Features):
    supports_point_delete = True
    supports_rollups = True
    seals_rollups = True
    max_write_batch = 10_000
    concurrent_reads_help = True


class InfluxDB2Backend(BaseBackend):
    vendor = "influxdb2"
    display_name = "InfluxDB 2.x"
    features_class = Influx2Features

    def __init__(self, config, clock=None):
        super().__init__(config, clock)
        options = config.options
        self.namespace = check_query_name(options.get("schema") or config.name or "fleetwatch", "bucket")
        self.org = options.get("org") or ""
        if not self.org:
            raise ConfigurationError("influxdb2: the URL needs the organization, e.g. ?org=fleetwatch")
        # Server-side retention (bucket retention rules) follows the server's clock; without it
        # buckets keep data forever and `enforce_retention()` deletes expired points by ours.
        self.server_retention = flag(options.get("server_retention", "true"))
        try:
            self.batch_size = int(options.get("batch_size", self.features.max_write_batch))
            timeout = float(options.get("timeout", 30))
            write_retries = int(options.get("write_retries", 3))
            retry_interval = float(options.get("retry_interval", 0.5))
        except ValueError as exc:
            raise ConfigurationError(f"influxdb2: {exc}") from None
        scheme = "https" if flag(options.get("ssl", "false")) else "http"
        self.url = f"{scheme}://{config.host or '127.0.0.1'}:{config.port or 8086}"
        self.server = Influx2Client(
            self.url,
            self.org,
            token=options.get("token") or (config.user if not config.password else ""),
            username=config.user if config.password else "",
            password=config.password,
            timeout=timeout,
            gzip=flag(options.get("gzip", "false")),
            verify_ssl=flag(options.get("verify_ssl", "true")),
            write_retries=write_retries,
            retry_interval=retry_interval,
        )
        self.client = self.server.client  # the official client, for what this backend does not wrap
        self.buckets = Buckets(self.server, self.namespace, self.server_retention)
        self._kinds: dict[tuple[str, str], dict[str, str]] = {}  # (bucket, measurement) → field kinds
        self._building = False  # building an older store's rollups (see ``_prepare``)
        self._builder = LineBuilder()

    def bucket(self, tier: str) -> str:
        return self.buckets.name(tier)

    def rollup_bucket(self, tier: str, step: int) -> str:
        return self.buckets.rollup_name(tier, downsampling.EVERY[step])

    def _prepare(self) -> None:
        self.buckets.ensure(self.config.retention)
        while self.buckets.unbuilt and not self._building:
            tier = next(iter(self.buckets.unbuilt))
            self._building = True
            try:
                self._first_horizon(tier)
            finally:
                self._building = False
            self.buckets.unbuilt.discard(tier)  # only once built: a failed build runs again
        while self.buckets.fresh:
            self._new_horizon(self.buckets.fresh.pop())

    def _forget_buckets(self) -> None:
        with self.buckets.lock:
            self.buckets.forget()
            self._kinds.clear()

    def _apply_retention(self) -> None:
        self._forget_buckets()
        self._prepare()

    def _query(self, script: str) -> dict[str, list[flux.Block]]:
        """Run a Flux script; a bucket deleted behind our back (another process's flush) is
        created again and the script run once more."""
        try:
            return self.server.query(script)
        except MissingBucket:
            self._forget_buckets()
            self._prepare()
        try:
            return self.server.query(script)
        except MissingBucket as exc:
            raise TimeseriesError(f"InfluxDB refused a query (404): {exc}") from exc

    # ------------------------------------------------------------------ field kinds

    def _field_kinds(self, bucket: str, measurements, refresh: bool = False) -> dict[str, dict[str, str]]:
        """Field kinds per measurement (``float``, ``integer``, ``string``, ``boolean``), from the
        type of each field's first value (a field keeps one type per shard)."""
        wanted = sorted(m for m in measurements if refresh or (bucket, m) not in self._kinds)
        if wanted:
            source = (
                f"from(bucket: {flux.string(bucket)}) |> range(start: {flux.MIN_TIME}, stop: {flux.MAX_TIME})"
                f" |> filter(fn: (r) => {flux.any_of('_measurement', wanted)}) |> first()"
                ' |> keep(columns: ["_measurement", "_field", "_value"])'
            )
            try:
                # One row per field, unless a field's type changed between shards.
                results = self._query(
                    source + ' |> group(columns: ["_measurement", "_field"]) |> limit(n: 1)'
                )
            except BackendUnavailable:
                raise
            except TimeseriesError:  # "schema collision": one row per series and field then
                results = self._query(source)
            found: dict[str, dict[str, str]] = {m: {} for m in wanted}
            for block in results.get("_result", []):
                kind = KIND_OF_CSV.get(block.types.get("_value", ""), "string")
                for measurement, name in zip(
                    flux.values(block, "_measurement"), flux.values(block, "_field"), strict=True
                ):
                    found.setdefault(measurement, {}).setdefault(name, kind)
            for measurement, kinds in found.items():
                self._kinds[(bucket, measurement)] = kinds
        return {m: self._kinds.get((bucket, m), {}) for m in measurements}

    # ------------------------------------------------------------------ writes

    def _write(self, points: list[Point], retention: str) -> None:
        self._write_tiers({retention: points})

    def _write_tiers(self, batches: dict[str, list[Point]]) -> None:
        self._prepare()
        # Every line is built, and every point checked (names, field types, tag values), before
        # the first request: the server would otherwise keep the good part of a refused batch.
        prepared = [
            (self.bucket(tier), self._lines(self.bucket(tier), points)) for tier, points in batches.items()
        ]
        for bucket, lines in prepared:
            for start in range(0, len(lines), self.batch_size):
                self._post(bucket, "\n".join(lines[start : start + self.batch_size]).encode())
        # Late points refresh their units now; live ones are rolled up by the next seal.
        for tier, points in batches.items():
            self._rollups_after_write(tier, self._late_points(points))

    # ------------------------------------------------------------------ rollups

    def _rollups_after_write(self, tier: str, points: list[Point]) -> None:
        """Recompute the hours the written points fall in (from raw points) and the days
        holding them (from those hours), for the series and numeric fields written (see
        ``downsampling``)."""
        series: dict[tuple[str, tuple], set[str]] = {}
        moments = []
        for point in points:
            numeric = [
                name for name, value in point.fields.items() if type(value) is int or type(value) is float
            ]
            if not numeric:
                continue
            series.setdefault((point.measurement, tuple(sorted(point.tags.items()))), set()).update(numeric)
            moments.append(to_micros(point.time))
        if moments:
            fields = None
            if len(series) > downsampling.MAX_SERIES:  # an import
                fields = sorted(set().union(*series.values()))
            predicate = lambda parts: downsampling.series_predicate(series, parts)  # noqa: E731
            self._refresh_rollups(tier, predicate, moments, fields)

    def _refresh_rollups(
        self, tier: str, predicate, moments: list[int], fields: list[str] | None = None
    ) -> None:
        """Recompute the rollup units of ``tier`` holding ``moments`` (µs) for the series and
        fields ``predicate(parts)`` selects (see ``downsampling``): the hours from raw points,
        then the days from those hours, one pair of Flux scripts per ``downsampling.CHUNK`` of
        time (an import of a year is then many bounded queries, none the server times out);
        ``fields``, the numeric fields written, for an import (see ``hours_script``)."""
        chunks: dict[int, list[int]] = defaultdict(list)
        for moment in moments:
            chunks[moment // downsampling.CHUNK].append(moment)
        raw = self.bucket(tier)
        hours, days = self.rollup_bucket(tier, rollups.HOUR), self.rollup_bucket(tier, rollups.DAY)
        for _chunk, inside in sorted(chunks.items()):
            spans = downsampling.units(inside, rollups.HOUR)
            self._query(downsampling.hours_script(raw, hours, spans, predicate, fields))
            self._query(
                downsampling.days_script(hours, days, downsampling.units(inside, rollups.DAY), predicate)
            )

    def _stored_horizon(self, tier: str) -> int | None:
        self._prepare()
        found = self._query(downsampling.horizon_script(self.rollup_bucket(tier, rollups.HOUR)))
        for block in found.get("_result", []):
            for value in flux.values(block, "_value"):
                return int(value)
        return None

    def _store_horizon(self, tier: str, until: int) -> None:
        self._post(self.rollup_bucket(tier, rollups.HOUR), horizon_line(until).encode())

    def _seal(self, tier: str, start: int, end: int) -> None:
        self._refresh_rollups(tier, _every_numeric_field, list(range(start, end, rollups.HOUR)))

    def _build_rollups(self, tier: str) -> None:
        """Compute every rollup of a tier from its raw points (a store older than rollups)."""
        bucket = flux.string(self.bucket(tier))
        script = (
            f"from(bucket: {bucket}) |> range(start: {flux.MIN_TIME}, stop: {flux.MAX_TIME})"
            ' |> {0}() |> keep(columns: ["_time"]) |> group() |> {1}(column: "_time")'
            ' |> yield(name: "{0}")'
        )
        found = self._query(script.format("first", "min") + "\n" + script.format("last", "max"))
        ends = [flux.values(found[name][0], "_time")[0] for name in ("first", "last") if found.get(name)]
        if len(ends) < 2:
            return
        first, last = (flux.micros(moment) for moment in ends)
        hours = range(first - first % rollups.HOUR, last + 1, rollups.HOUR)
        self._refresh_rollups(tier, _every_numeric_field, list(hours))

    def _post(self, bucket: str, body: bytes) -> None:
        """One batch through the client's write API (see ``Influx2Client.write``); a bucket
        deleted behind our back is created again once, and a field type conflict forgets what
        this process knew of the bucket's field types."""
        for attempt in (0, 1):
            try:
                self.server.write(bucket, body)
                return
            except FieldTypeError:
                self._kinds = {k: v for k, v in self._kinds.items() if k[0] != bucket}
                raise
            except MissingBucket as exc:
                if attempt:
                    raise TimeseriesError(f"InfluxDB refused the write (404): {exc}") from exc
                self._forget_buckets()
                self._prepare()

    def _lines(self, bucket: str, points: list[Point]) -> list[str]:
        """Checked line protocol of the points (see ``lineprotocol.checked_lines``), Flux's own column
        names refused."""
        kinds = self._field_kinds(bucket, {p.measurement for p in points})
        lines, learned = checked_lines(self._builder, points, kinds, RESERVED_NAMES, "InfluxDB 2.x")
        for measurement, found in learned.items():
            self._kinds.setdefault((bucket, measurement), {}).update(found)
        return lines

    # ------------------------------------------------------------------ reads

    def _where_kinds(self, bucket: str, query: ReadQuery) -> dict[str, dict[str, str]]:
        """Field kinds of the read's measurements, fresh if a compared field is not known yet."""
        if not query.where:
            return {}
        kinds = self._field_kinds(bucket, query.measurements)
        if any(w.field not in kinds[m] for w in query.where for m in query.measurements):
            kinds = self._field_kinds(bucket, query.measurements, refresh=True)
        return kinds

    def _selection(self, query: ReadQuery, since, until, fields: list[str] | None) -> tuple[str, bool]:
        bucket = self.bucket(query.retention)
        kinds = self._where_kinds(bucket, query)
        return compiler.selection(query, bucket, to_micros(since), until and to_micros(until), fields, kinds)

    def _read(self, query: ReadQuery, since: datetime, until: datetime | None) -> list[Row]:
        self._prepare()
        selected = None if query.fields == "*" else list(query.fields)
        script, pivoted = self._selection(query, since, until, selected)
        script = compiler.read_script(script, query)
        return compiler.read_answers(self._query(script).get("_result", []), query, selected, pivoted)

    def _count_distinct(self, query: ReadQuery, field: str, since, until) -> int:
        self._prepare()
        script, pivoted = self._selection(query, since, until, [field])
        if pivoted:
            script += (
                f" |> filter(fn: (r) => exists {flux.column(field)})"
                f' |> keep(columns: ["_measurement", {flux.string(field)}])'
                f' |> group(columns: ["_measurement"]) |> distinct(column: {flux.string(field)})'
            )
        else:
            script += ' |> group(columns: ["_measurement"]) |> distinct()'
        if len(query.measurements) == 1:
            counts = self._query(script + " |> count()").get("_result", [])
            return sum(v or 0 for block in counts for v in flux.values(block, "_value"))
        # Values of several measurements are united here (their types may differ).
        distinct = set()
        for block in self._query(script).get("_result", []):
            distinct.update(flux.values(block, "_value"))
        return len(distinct)

    # ------------------------------------------------------------------ charts

    def _check_kinds(self, query: ChartQuery, kinds: dict[str, str]) -> None:
        for agg in query.aggregates:
            if agg.fn in NUMERIC_AGGREGATES and kinds.get(agg.field) == "string":
                raise FieldTypeError(
                    f"{agg.fn}({agg.field}) needs numbers, but {query.measurement}.{agg.field} holds strings"
                )

    def _aggregate(self, query: ChartQuery, bucketing: Bucketing | None, lower, end, with_summary: bool):
        """One Flux script for a chart's buckets (``bucketing``) and/or its summary."""
        self._prepare()
        bucket = self.bucket(query.retention)
        kinds = self._field_kinds(bucket, [query.measurement])[query.measurement]
        self._check_kinds(query, kinds)
        script, mode_fields = compiler.chart_script(
            query, bucket, bucketing, to_micros(lower), to_micros(end), with_summary
        )
        results = self._query(script) if script else {}
        return compiler.chart_answers(query, results, bucketing, mode_fields, with_summary)

    def _chart(self, query, bucketing, lower, end):
        return self._aggregate(query, bucketing, lower, end, with_summary=False)[0]

    def _summary(self, query, lower, end):
        return self._aggregate(query, None, lower, end, with_summary=True)[1]

    def _chart_and_summary(self, query, bucketing, lower, end):
        return self._aggregate(query, bucketing, lower, end, with_summary=True)

    def _rollup_partials(self, query, fields, bucketing, plan):
        """Partials of ``fields`` over the plan's raw intervals and rollup units in one Flux
        script (see ``downsampling.partials_script``); strings and booleans are not rolled up
        and are left to raw aggregates."""
        self._prepare()
        bucket = self.bucket(query.retention)
        kinds = self._field_kinds(bucket, [query.measurement])[query.measurement]
        if any(name not in kinds for name in fields):  # written by another process since
            kinds = self._field_kinds(bucket, [query.measurement], refresh=True)[query.measurement]
        self._check_kinds(query, kinds)
        numeric = [name for name in fields if kinds.get(name) in ("float", "integer")]
        raw_only = {name for name in fields if kinds.get(name) in ("string", "boolean")}
        if not numeric:
            return {}, raw_only
        buckets = {
            None: bucket,
            **{step: self.rollup_bucket(query.retention, step) for step in rollups.STEPS},
        }
        parts = {
            part
            for agg in query.aggregates
            if agg.field in numeric and rollups.composable(agg)
            for part in rollups.PARTS_OF[agg.fn]
        }
        script = downsampling.partials_script(
            query.measurement, query.tags, numeric, query.group_by, buckets, bucketing, plan, parts
        )
        return downsampling.partials_answers(self._query(script), query.group_by, bucketing), raw_only

    def _rank_fields(self, query: ChartQuery, lower, end, n: int) -> list[str]:
        self._prepare()
        bucket = self.bucket(query.retention)
        kinds = self._field_kinds(bucket, [query.measurement])[query.measurement]
        numeric = sorted(name for name, kind in kinds.items() if kind in ("float", "integer"))
        if not numeric:
            return []
        script = (
            compiler.source(bucket, to_micros(lower), to_micros(end))
            + f" |> filter(fn: (r) => {flux.series_predicate([query.measurement], query.tags, numeric)})"
            + ' |> group(columns: ["_field"]) |> sum() |> keep(columns: ["_field", "_value"])'
        )
        totals = []
        for block in self._query(script).get("_result", []):
            for name, total in zip(flux.values(block, "_field"), flux.values(block, "_value"), strict=True):
                if total is not None:
                    totals.append((total, name))
        totals.sort(key=lambda item: (-item[0], item[1]))
        return [name for _total, name in totals[:n]]

    # ------------------------------------------------------------------ deletes & retention

    def _delete(self, measurement, tags, start, end, retention) -> None:
        """The delete API takes ``AND``-ed equalities only: a tag filter with several values is
        one call per combination of values, in each tier's bucket (or the one named)."""
        self._prepare()
        tiers = [retention] if retention is not None else list(self.config.retention)
        start_text = flux.time(to_micros(start)) if start is not None else flux.MIN_TIME
        stop_text = flux.time(to_micros(end)) if end is not None else flux.MAX_TIME  # inclusive
        choices = [[(key, value) for value in values] for key, values in (tags or {}).items()]
        predicates = [
            flux.delete_predicate(measurement, combination) for combination in itertools.product(*choices)
        ]
        # Rollup units touching the range go with it (their points are at the units' starts),
        # then the units at its edges are recomputed from the raw points left in them.
        unit_range = {
            step: (
                flux.time(to_micros(start) // step * step) if start is not None else flux.MIN_TIME,
                flux.time(to_micros(end) // step * step) if end is not None else flux.MAX_TIME,
            )
            for step in rollups.STEPS
        }
        edges = [to_micros(moment) for moment in (start, end) if moment is not None]
        for tier in tiers:
            for predicate in predicates:
                self.server.delete("a delete", start_text, stop_text, predicate, self.bucket(tier))
                for step, (first, last) in unit_range.items():
                    self.server.delete(
                        "a rollup delete", first, last, predicate, self.rollup_bucket(tier, step)
                    )
            if edges:
                self._refresh_rollups(
                    tier, lambda parts: downsampling.numeric_predicate(measurement, tags, parts), edges
                )

    def _count(self, bucket: str, before: int | None = None) -> dict[str, int]:
        """Points per measurement: distinct times per series, added up on the server (a point
        is a series and a time, whichever of its fields it carries)."""
        script = (
            compiler.source(bucket, None, None if before is None else before - 1)
            + ' |> drop(columns: ["_start", "_stop", "_value"])'
            + ' |> group(columns: ["_time", "_field"], mode: "except")'
            + ' |> unique(column: "_time") |> count(column: "_field")'
            + ' |> group(columns: ["_measurement"]) |> sum(column: "_field")'
            + ' |> keep(columns: ["_measurement", "_field"])'
        )
        totals: dict[str, int] = defaultdict(int)
        for block in self._query(script).get("_result", []):
            for measurement, count in zip(
                flux.values(block, "_measurement"), flux.values(block, "_field"), strict=True
            ):
                totals[measurement] += count or 0
        return {m: c for m, c in totals.items() if c}

    def _purge_before(self, tier: str, floor: datetime) -> int:
        """Delete the points older than ``floor`` (by Fleetwatch's clock)."""
        self._prepare()
        bucket = self.bucket(tier)
        floor_us = to_micros(floor)
        removed = sum(self._count(bucket, before=floor_us).values())
        if removed:
            self.server.delete("a retention delete", flux.MIN_TIME, flux.time(floor_us - 1), "", bucket)
            last = floor_us - 1
            for step in rollups.STEPS:
                self.server.delete(
                    "a retention delete of rollups",
                    flux.MIN_TIME,
                    flux.time(last // step * step),
                    "",
                    self.rollup_bucket(tier, step),
                )
            # The units holding the floor keep their raw points from it on.
            self._refresh_rollups(tier, _every_numeric_field, [last])
        return removed

    def flush(self) -> None:
        """Delete this namespace's buckets (recreated on next use): faster than deleting points."""
        with self.buckets.lock:
            self.buckets.drop(self.config.retention)
            self._kinds.clear()
            self._horizons.clear()

    def count_points(self, retention: str | None = None) -> dict[str, int]:
        self._prepare()
        tiers = [retention] if retention is not None else list(self.config.retention)
        totals: dict[str, int] = defaultdict(int)
        for tier in tiers:
            for measurement, count in self._count(self.bucket(tier)).items():
                totals[measurement] += count
        return dict(totals)

    def health(self) -> dict[str, Any]:
        try:
            version = self.server.version()
            self.server.org_id()
        except TimeseriesError as exc:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": str(exc)}
        return {"backend": self.vendor, "reachable": True, "version": version or "unknown", "error": None}

    def close(self) -> None:
        self.server.close()


def _every_numeric_field(parts) -> str:
    """The refresh predicate of every series (a build, a retention purge)."""
    return downsampling.numeric_predicate(None, None, parts)
