"""``DatabaseClient`` for OpenWISP Monitoring, on any Fleetwatch backend.

OpenWISP Monitoring loads ``<BACKEND>.client.DatabaseClient`` and ``<BACKEND>.queries``; with
``TIMESERIES_DATABASE = {"BACKEND": "fleetwatch.openwisp", …, "OPTIONS": {"url":
"elasticsearch://127.0.0.1:9200"}}`` its writes, reads, charts and checks go to the Fleetwatch
backend the URL names. OpenWISP's InfluxQL chart templates run unchanged: they are parsed
(``influxql``) into Fleetwatch chart and read queries, and answers come back in the shapes its
callers expect (``query()`` a result set with ``get_points()``/``keys()``, ``read()`` and
``get_list_query()`` lists of dicts with epoch-second or RFC 3339 times).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from fleetwatch.openwisp import influxql
from fleetwatch.timeseries import (
    Aggregate,
    ChartQuery,
    Point,
    ReadQuery,
    TimeseriesError,
    TopFields,
    Where,
    load_backend,
)
from fleetwatch.timeseries.backend import parse_duration
from fleetwatch.timeseries.backends.influxdb.influxql import string as string_literal
from fleetwatch.timeseries.model import round_half_away, to_micros

log = logging.getLogger(__name__)

FUNCTIONS = {
    "MEAN": "mean",
    "SUM": "sum",
    "COUNT": "count",
    "COUNT_DISTINCT": "count_distinct",
    "MODE": "mode",
    "MIN": "min",
    "MAX": "max",
    "LAST": "last",
}
# InfluxQL's aggregate and selector names, as OpenWISP's validate_query() recognises them.
AGGREGATE_NAMES = (
    "COUNT", "DISTINCT", "INTEGRAL", "MEAN", "MEDIAN", "MODE", "SPREAD", "STDDEV", "SUM", "BOTTOM",
    "FIRST", "LAST", "MAX", "MIN", "PERCENTILE", "SAMPLE", "TOP", "CEILING", "CUMULATIVE_SUM",
    "DERIVATIVE", "DIFFERENCE", "ELAPSED", "FLOOR", "HISTOGRAM", "MOVING_AVERAGE",
    "NON_NEGATIVE_DERIVATIVE", "HOLT_WINTERS",
)  # fmt: skip
FORBIDDEN = ("drop", "create", "delete", "alter", "into")
OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "=~", "!~")
EPOCH_ORIGIN = datetime(1970, 1, 1, tzinfo=UTC)
FOREVER = 100 * 365 * 86400  # InfluxDB's INF: what "forever" is in a Fleetwatch tier


class ClientError(Exception):
    """What OpenWISP catches as ``timeseries_db.client_error``: a query it may not run."""


def write_exception():
    try:
        from openwisp_monitoring.db.exceptions import TimeseriesWriteException
    except ImportError:  # the adapter's own tests run without OpenWISP
        return TimeseriesError
    return TimeseriesWriteException


class ResultSet:
    """What ``influxdb.resultset.ResultSet`` offers OpenWISP: series of points."""

    def __init__(self, series: list[dict] | None = None, error: str | None = None):
        self.raw = {"series": series or []}
        self.error = error

    def keys(self) -> list[tuple[str, dict | None]]:
        return [(s["name"], s.get("tags")) for s in self.raw["series"]]

    def items(self):
        return [((s["name"], s.get("tags")), self._points(s)) for s in self.raw["series"]]

    def get_points(self, measurement: str | None = None, tags: dict | None = None):
        for s in self.raw["series"]:
            if measurement is not None and s["name"] != measurement:
                continue
            if tags and any((s.get("tags") or {}).get(k) != v for k, v in tags.items()):
                continue
            yield from self._points(s)

    @staticmethod
    def _points(series: dict):
        for values in series["values"]:
            yield dict(zip(series["columns"], values, strict=True))

    def __len__(self) -> int:
        return len(self.raw["series"])

    def __iter__(self):
        return iter(self.items())

    def __bool__(self) -> bool:
        return bool(self.raw["series"])


def _time(moment: datetime, precision: str | None):
    if precision == "s":
        return int(moment.timestamp())
    if precision == "ms":
        return int(moment.timestamp() * 1000)
    if precision in ("u", "us", "µs"):
        return to_micros(moment)
    if precision in ("n", "ns"):
        return to_micros(moment) * 1000
    if precision == "m":
        return to_micros(moment) // 60_000_000
    if precision == "h":
        return to_micros(moment) // 3_600_000_000
    if precision == "rfc3339":
        # As InfluxDB writes times: seconds, then only the fraction's significant digits.
        text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        fraction = f"{moment.microsecond:06d}".rstrip("0")
        return f"{text}.{fraction}Z" if fraction else f"{text}Z"
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _tier(retention: str | None) -> str:
    return "default" if retention in (None, "", "autogen", "default") else retention


def _to_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return influxql.parse_time_literal(str(value))


class BackendHandle:
    """The Fleetwatch backend, plus the one influxdb-python call OpenWISP makes on ``db``
    directly (its 0006 data migration lists measurements to decide whether to run)."""

    def __init__(self, backend):
        self._backend = backend

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def get_list_measurements(self) -> list[dict]:
        names = set()
        for tier in self._backend.config.retention:
            names.update(self._backend.count_points(retention=tier))
        return [{"name": name} for name in sorted(names)]


class DatabaseClient:
    backend_name = "influxdb"  # OpenWISP picks chart queries by this name: InfluxQL templates
    _AGGREGATE = AGGREGATE_NAMES
    _FORBIDDEN = list(FORBIDDEN)
    _OPERATORS = list(OPERATORS)
    client_error = ClientError

    def __init__(self, db_name: str | None = None):
        from django.conf import settings

        self.config = dict(settings.TIMESERIES_DATABASE)
        self.db_name = db_name or self.config.get("NAME") or "openwisp2"
        self.use_udp = False
        self._db = None
        self._policies_set: set[str] = set()

    # ------------------------------------------------------------------ the backend

    @property
    def db(self):
        """The Fleetwatch backend of ``db_name``; OpenWISP's tests ``del`` it (and ``dbs``) to
        reset the client after changing ``db_name``."""
        if self._db is None:
            self._db = BackendHandle(load_backend(self._url()))
        return self._db

    @db.deleter
    def db(self):
        self._db = None

    @property
    def dbs(self) -> dict:
        return {"default": self.db, "short": self.db, "__all__": self.db}

    @dbs.deleter
    def dbs(self):
        self._db = None

    def _url(self) -> str:
        url = (self.config.get("OPTIONS") or {}).get("url")
        if not url:
            raise ClientError('TIMESERIES_DATABASE["OPTIONS"]["url"] must name a Fleetwatch backend')
        name = re.sub(r"[^a-z0-9_]", "_", self.db_name.lower())
        if url.startswith("sqlite:"):
            if url in ("sqlite://", "sqlite:///:memory:"):
                return url
            base, dot, suffix = url.rpartition(".")
            return f"{base}-{name}.{suffix}" if dot and "/" not in suffix else f"{url}-{name}"
        return url + ("&" if "?" in url else "?") + f"schema={name}"

    def create_database(self) -> None:
        # A new InfluxDB database keeps `autogen` forever until OpenWISP sets its duration at
        # start-up (create_or_alter_retention_policy); so does the adapter.
        tiers = dict(self.db.config.retention)
        if self.db_name not in self._policies_set:  # per database, as InfluxDB's policies
            tiers["default"] = FOREVER
        self.db.ensure_retention(tiers)

    def drop_database(self) -> None:
        self.db.flush()

    def create_or_alter_retention_policy(self, name: str, duration: str) -> None:
        tiers = dict(self.db.config.retention)
        tiers[_tier(name)] = parse_duration(duration) if duration not in ("INF", "0s") else FOREVER
        self.db.ensure_retention(tiers)
        self._policies_set.add(self.db_name)

    def get_list_retention_policies(self) -> list[dict]:
        policies = []
        for tier in sorted(self.db.list_retention(), key=lambda t: not t["default"]):
            seconds = tier["duration"]
            hours, rest = divmod(seconds, 3600)
            policies.append(
                {
                    "name": "autogen" if tier["name"] == "default" else tier["name"],
                    "duration": f"{hours}h{rest // 60}m{rest % 60}s",
                    "shardGroupDuration": "1h0m0s" if seconds < 2 * 86400 else "168h0m0s",
                    "replicaN": 1,
                    "default": tier["default"],
                }
            )
        return policies

    # ------------------------------------------------------------------ writes

    def _point(self, name: str, values: dict, tags: dict | None, timestamp) -> Point:
        moment = _to_datetime(timestamp) if timestamp else datetime.now(UTC)
        fields = {k: v for k, v in values.items() if v is not None}
        return Point(
            name, fields, moment, {k: str(v) for k, v in (tags or {}).items() if v not in (None, "")}
        )

    def write(self, name: str, values: dict, **kwargs) -> None:
        point = self._point(name, values, kwargs.get("tags"), kwargs.get("timestamp"))
        self._write([point], kwargs.get("retention_policy"))

    def batch_write(self, metric_data: list[dict]) -> None:
        groups: dict[str | None, list[Point]] = {}
        for item in metric_data:
            point = self._point(item["name"], item["values"], item.get("tags"), item.get("timestamp"))
            groups.setdefault(item.get("retention_policy"), []).append(point)
        for retention, points in groups.items():
            self._write(points, retention)

    def _write(self, points, retention=None, database=None):
        try:
            self.db.write(points, retention=_tier(retention))
        except TimeseriesError as exc:
            log.warning("time-series write failed: %s", exc)
            raise write_exception()(str(exc)) from exc
        return True

    # ------------------------------------------------------------------ reads

    def read(self, key, fields, tags=None, **kwargs) -> list[dict]:
        measurements = [m.strip() for m in str(key).split(",") if m.strip()]
        extra = kwargs.get("extra_fields")
        if fields == "*" or extra == "*":
            wanted: Any = "*"
        else:
            wanted = [fields] if isinstance(fields, str) else list(fields)
            if extra:
                wanted += list(extra)
        order = kwargs.get("order")
        if order not in (None, "time", "-time"):
            raise ClientError(f'the order "{order}" is not supported, use "time" or "-time"')
        where = [Where(f, self._clean_operator(op), v) for f, op, v in kwargs.get("where") or ()]
        since = kwargs.get("since")
        query = ReadQuery(
            measurements,
            fields=wanted,
            tags={k: str(v) for k, v in (tags or {}).items()},
            since=_to_datetime(since) if since else None,
            where=where,
            order="desc" if order == "-time" else "asc",
            limit=kwargs.get("limit"),
            retention=_tier(kwargs.get("retention_policy")),
        )
        precision = kwargs.get("precision", "s")
        count_fields = kwargs.get("count_fields") or ()
        distinct_fields = kwargs.get("distinct_fields") or ()
        if count_fields:
            field = count_fields[0]
            if field in distinct_fields:
                return [
                    {"time": _time(EPOCH_ORIGIN, precision), "count": self.db.count_distinct(query, field)}
                ]
            return [{"time": _time(EPOCH_ORIGIN, precision), "count": len(self.db.read(query))}]
        # InfluxQL returns tags asked for by name as columns (OpenWISP asks for location_id …).
        asked = [] if wanted == "*" else [name for name in wanted]
        rows = []
        for row in self.db.read(query):
            point = {"time": _time(row.time, precision), **row.fields}
            for name in asked:
                if name not in point and name in row.tags:
                    point[name] = row.tags[name]
            rows.append(point)
        return rows

    def _clean_operator(self, op: str) -> str:
        if op not in self._OPERATORS:
            raise ClientError(f"the operator {op!r} is not supported")
        if op in ("=~", "!~"):
            raise ClientError(f"regular expression operators ({op}) are not supported by the adapter")
        return op

    def query(self, query: str, precision: str | None = None, **kwargs) -> ResultSet:
        statements = influxql.split_statements(query)
        if len(statements) != 1:
            raise ClientError("run one statement at a time")
        try:
            select = influxql.parse(statements[0])
        except influxql.InfluxQLError as exc:
            raise ClientError(f"error parsing query: {exc}") from None
        try:
            return self._execute(select, precision)
        except TimeseriesError as exc:
            if exc.__class__.__name__ == "BackendUnavailable":
                raise
            raise ClientError(str(exc)) from exc

    def get_list_query(self, query: str, precision: str | None = "s") -> list[dict]:
        result = self.query(query, precision=precision)
        keys = result.keys()
        if not keys or not keys[0][1]:
            return list(result.get_points())
        merged: OrderedDict = OrderedDict()
        for (_name, tags), points in result.items():
            column = "_".join(str(v) for v in tags.values())
            for point in points:
                row = merged.setdefault(point["time"], {"time": point["time"]})
                values = [v for k, v in point.items() if k != "time"]
                row[column] = values[-1] if values else None
        return list(merged.values())

    # ------------------------------------------------------------------ query execution

    def _execute(self, select: influxql.Select, precision: str | None) -> ResultSet:
        if select.is_aggregate:
            return self._aggregate(select, precision)
        return self._raw(select, precision)

    @staticmethod
    def _filters(select: influxql.Select):
        since = until = None
        tags: dict[str, list[str]] = {}
        where = []
        for condition in select.conditions:
            if condition.key == "time":
                if condition.op in (">=", ">"):
                    since = condition.value
                elif condition.op in ("<=", "<"):
                    until = condition.value
                else:
                    raise ClientError("time can only be compared with >, >=, < and <=")
            elif condition.op == "=" and isinstance(condition.value, str):
                tags.setdefault(condition.key, []).append(condition.value)
            elif condition.op in ("=~", "!~"):
                raise ClientError("regular expressions are not supported by the adapter")
            else:
                where.append(Where(condition.key, condition.op, condition.value))
        for group in select.alternatives:
            keys = {c.key for c in group}
            if len(keys) != 1 or any(c.op != "=" or not isinstance(c.value, str) for c in group):
                raise ClientError("only (tag = 'a' OR tag = 'b' …) alternatives are supported")
            tags.setdefault(keys.pop(), []).extend(c.value for c in group)
        for key, values in tags.items():
            if len(values) > 1 and key in {c.key for c in select.conditions}:
                raise ClientError(f"conflicting conditions on {key!r}")
        return since, until, tags, where

    def _raw(self, select: influxql.Select, precision: str | None) -> ResultSet:
        since, until, tags, where = self._filters(select)
        fields = [item.call.field for item in select.items]
        wanted = "*" if "*" in fields else fields
        query = ReadQuery(
            select.measurements,
            fields=wanted,
            tags=tags,
            since=since,
            until=until,
            where=where,
            order=select.order,
            limit=select.limit,
            retention=_tier(select.retention),
        )
        rows = self.db.read(query)
        if select.group_all:
            series: dict = OrderedDict()
            for row in rows:
                entry = series.setdefault((row.measurement, tuple(sorted(row.tags.items()))), [])
                entry.append(row)
            return ResultSet(
                [
                    self._raw_series(name, rows_, dict(tag_items), wanted, precision, with_tags=False)
                    for (name, tag_items), rows_ in series.items()
                ]
            )
        by_measurement: dict = OrderedDict()
        for row in rows:
            by_measurement.setdefault(row.measurement, []).append(row)
        return ResultSet(
            [
                self._raw_series(name, rows_, None, wanted, precision, with_tags=True)
                for name, rows_ in by_measurement.items()
            ]
        )

    @staticmethod
    def _raw_series(name, rows, tags, wanted, precision, with_tags: bool) -> dict:
        if wanted == "*":
            columns = sorted(
                {k for r in rows for k in r.fields}
                | ({k for r in rows for k in r.tags} if with_tags else set())
            )
        else:
            columns = list(wanted)
        values = []
        for row in rows:
            merged = {**(row.tags if with_tags else {}), **row.fields}
            values.append([_time(row.time, precision), *[merged.get(c) for c in columns]])
        series = {"name": name, "columns": ["time", *columns], "values": values}
        if tags is not None:
            series["tags"] = tags
        return series

    def _aggregates(self, select: influxql.Select) -> list[Aggregate]:
        aggregates = []
        for item in select.items:
            call = item.call
            fn = FUNCTIONS.get(call.fn)
            if fn is None:
                raise ClientError(
                    f"{call.fn or 'a plain field'} cannot be mixed with aggregates in the adapter"
                )
            aggregates.append(Aggregate(fn, call.field, item.alias))
        return aggregates

    def _aggregate(self, select: influxql.Select, precision: str | None) -> ResultSet:
        if len(select.measurements) != 1:
            raise ClientError("aggregates read one measurement at a time")
        measurement = select.measurements[0]
        since, until, tags, where = self._filters(select)
        if where:
            raise ClientError("field conditions are not supported on aggregates by the adapter")
        if since is None:
            since = EPOCH_ORIGIN
        timezone = select.timezone or "UTC"
        if any(item.call.field == "*" for item in select.items):
            return self._sum_all(select, measurement, since, until, tags, precision)
        aggregates = self._aggregates(select)
        cumulative = any(item.call.cumulative for item in select.items)
        common = dict(
            measurement=measurement,
            aggregates=aggregates,
            start=since,
            end=until,
            timezone=timezone,
            tags=tags,
            group_by=select.group_tag,
            cumulative=cumulative and select.group_tag is not None,
            retention=_tier(select.retention),
        )
        columns = ["time", *[a.alias for a in aggregates]]
        calls = {a.alias: item.call for a, item in zip(aggregates, select.items, strict=True)}
        first = calls[aggregates[0].alias]

        def finish(alias, value):
            return apply_arithmetic(calls[alias], value)

        if select.group_time is None:
            summary = self.db.summary(ChartQuery(**common, interval="1h"))
            moment = _time(since, precision)
            if select.group_tag:
                return ResultSet(
                    [
                        {
                            "name": measurement,
                            "tags": {select.group_tag: group},
                            "columns": ["time", aggregates[0].alias],
                            "values": [[moment, apply_arithmetic(first, value)]],
                        }
                        for group, value in summary.items()
                    ]
                )
            # As InfluxDB answers OpenWISP's summaries: one row, counts of an empty range 0.
            return ResultSet(
                [
                    {
                        "name": measurement,
                        "columns": columns,
                        "values": [[moment, *[finish(a.alias, summary.get(a.alias)) for a in aggregates]]],
                    }
                ]
            )
        if common["cumulative"]:
            # InfluxDB's CUMULATIVE_SUM emits a row only where its input has one: running totals
            # of the buckets that hold data, per tag value.
            common["cumulative"] = False
        try:
            result = self.db.chart(ChartQuery(**common, interval=select.group_time))
        except TimeseriesError as exc:
            raise ClientError(str(exc)) from exc
        if not result.has_data:
            return ResultSet([])  # as InfluxDB: no point in the range, no series (not empty buckets)
        times = [_time(t, precision) for t in result.times]
        if cumulative:
            series = []
            for group, values in result.series.items():
                total, rows = 0, []
                for moment, value in zip(times, values, strict=True):
                    if value is not None:
                        total += value
                        rows.append([moment, apply_arithmetic(first, total)])
                entry = {"name": measurement, "columns": ["time", aggregates[0].alias], "values": rows}
                if select.group_tag:
                    entry["tags"] = {select.group_tag: group}
                series.append(entry)
            return ResultSet(series)
        if select.group_tag:
            return ResultSet(
                [
                    {
                        "name": measurement,
                        "tags": {select.group_tag: group},
                        "columns": ["time", aggregates[0].alias],
                        "values": [
                            [t, apply_arithmetic(first, v)] for t, v in zip(times, values, strict=True)
                        ],
                    }
                    for group, values in result.series.items()
                ]
            )
        rows = [
            [t, *[finish(a.alias, result.series[a.alias][i]) for a in aggregates]]
            for i, t in enumerate(times)
        ]
        return ResultSet([{"name": measurement, "columns": columns, "values": rows}])

    def _sum_all(self, select, measurement, since, until, tags, precision) -> ResultSet:
        """``SELECT SUM(*)``: the sum of every numeric field (OpenWISP ranks top fields by it)."""
        query = ChartQuery(
            measurement,
            [Aggregate("sum", "*")],
            since,
            until,
            tags=tags,
            top_fields=TopFields(10_000),
            retention=_tier(select.retention),
        )
        sums = self.db.summary(query)
        if not sums:
            return ResultSet([])
        columns = ["time", *[f"sum_{name}" for name in sums]]
        return ResultSet(
            [{"name": measurement, "columns": columns, "values": [[_time(since, precision), *sums.values()]]}]
        )

    # ------------------------------------------------------------------ deletes

    def delete_metric_data(self, key=None, tags=None) -> None:
        if not key and not tags:
            self.db.flush()
        else:
            self.delete_series(key=key, tags=tags)

    def delete_series(self, key=None, tags=None) -> None:
        self.db.delete(measurement=key or None, tags={k: str(v) for k, v in (tags or {}).items()} or None)

    # ------------------------------------------------------------------ chart queries (OpenWISP's pipeline)

    def validate_query(self, query: str) -> bool:
        from django.core.exceptions import ValidationError

        lowered = query.lower()
        for word in self._FORBIDDEN:
            if re.search(rf"\b{word}\b", lowered):
                raise ValidationError({"configuration": f'the word "{word.upper()}" is not allowed'})
        return self._is_aggregate(query)

    def _is_aggregate(self, query: str) -> bool:
        upper = query.upper()
        return any(f"{w}(" in upper or f"|{w}}}" in upper or f"|{w}|" in upper for w in self._AGGREGATE)

    def _clean_params(self, params: dict) -> dict:
        params["end_date"] = f"AND time <= '{params['end_date']}'" if params.get("end_date") else ""
        for key, value in list(params.items()):
            if isinstance(value, list | tuple):
                params[key] = self._get_where_query(key, value)
        return params

    @staticmethod
    def _get_where_query(field: str, items) -> str:
        if not items:
            return ""
        alternatives = " OR ".join(f"{field} = {string_literal(str(item))}" for item in items)
        return f"AND ({alternatives})"

    def _fields(self, fields, query: str, field_name: str) -> str:
        match = re.search(r"\{fields\|(\w+)(?:\|([^}]*))?\}", query)
        if not match:
            return query.replace("{fields}", ", ".join(fields)) if fields else query
        function, operation = match.group(1), (match.group(2) or "").strip()
        names = fields or [field_name]
        rendered = ", ".join(
            f'{function}("{name}"){" " + operation if operation else ""} AS {name.replace("-", "_")}'
            for name in names
        )
        return query[: match.start()] + rendered + query[match.end() :]

    def _group_by(self, query: str, time: str, chart_type: str, group_map: dict, strip: bool = False) -> str:
        """The chart's interval in ``GROUP BY time()``, or none for summaries (text as OpenWISP's
        InfluxDB client leaves it, a tag grouping kept)."""
        if not self._is_aggregate(query):
            return query
        has_group = "GROUP BY" in query.upper()
        if not strip and chart_type != "histogram":
            interval = group_map[time]
            if not has_group:
                return f"{query} GROUP BY time({interval})"
            return re.sub(r"time\(\w+\)", f"time({interval})", query)
        if not has_group:
            return f"{query} "
        if re.search(r"GROUP BY time\(\w+\)\s*,", query, re.IGNORECASE):
            return re.sub(r"time\(\w+\)\s*,\s*", "", query, count=1)
        return re.sub(r"GROUP BY time\(\w+\)", "", query, flags=re.IGNORECASE)

    def get_query(
        self, chart_type, params, time, group_map, summary=False, fields=None, query=None, timezone=None
    ):
        from django.conf import settings

        query = self._fields(fields, query, params["field_name"])
        params = self._clean_params(params)
        query = query.format(**params)
        query = self._group_by(query, time, chart_type, group_map, strip=summary)
        if summary:
            query = f"{query} LIMIT 1"
        return f"{query} tz('{timezone or settings.TIME_ZONE}')"

    def _get_top_fields(self, query, params, chart_type, group_map, number, time, timezone=None):
        q = self.get_query(
            query=query, params=params, chart_type=chart_type, group_map=group_map, summary=True,
            fields=["SUM(*)"], time=time, timezone=timezone,
        )  # fmt: skip
        points = list(self.query(q, precision="s").get_points())
        if not points:
            return []
        sums = {k[len("sum_") :]: v for k, v in points[0].items() if k != "time" and v is not None}
        return [name for name, _total in sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))][:number]


def apply_arithmetic(call: influxql.Call, value):
    """The item's ``* / + -`` and ``ROUND()`` on one aggregated value, as InfluxDB computes them."""
    if value is None or isinstance(value, str | bool):
        return value
    for op, number in call.ops:
        if op == "*":
            value = value * number
        elif op == "/":
            value = value / number
        elif op == "+":
            value = value + number
        else:
            value = value - number
    if call.round:
        value = round_half_away(value, 0)
    return value
