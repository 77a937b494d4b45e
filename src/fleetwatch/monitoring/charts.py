"""Chart API data: the time window of a request, and every chart of a device over it."""

from __future__ import annotations

import csv
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from django.conf import settings

from fleetwatch.core.timeseries import get_backend
from fleetwatch.metrics import RegistryError, get_chart, get_metric
from fleetwatch.monitoring.ingestion import CONTENT_TYPE
from fleetwatch.timeseries import InvalidQuery
from fleetwatch.timeseries.buckets import (
    DEFAULT_RANGE,
    PREDEFINED_RANGES,
    custom_range,
    range_start,
)
from fleetwatch.timeseries.model import get_zone
from fleetwatch.timeseries.queries import raw_query

log = logging.getLogger(__name__)

# The charts of a page are computed side by side where that helps (server databases: the
# GIL is released while they answer). A process-wide pool, so each of its threads keeps its
# own database connection.
_pool = ThreadPoolExecutor(
    max_workers=settings.FLEETWATCH_CHART_THREADS, thread_name_prefix="fleetwatch-charts"
)


def _map(function, jobs):
    if get_backend().features.concurrent_reads_help:
        return _pool.map(function, jobs)
    return map(function, jobs)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime | None
    interval: str
    timezone: str
    # Fleetwatch's opt-in ``precision=exact`` (our own UI and its CSV): no rounding, and
    # "adaptive_prefix" charts (traffic, bit rates) in base units (bytes, bps) instead of G-units.
    exact: bool = False


def window_from(params, now: datetime | None = None) -> Window:
    """``time`` (1d, 3d, 7d, 30d, 365d) or ``start``/``end`` in ``timezone`` (default UTC);
    ``precision`` is ``rounded`` (default, the peer's 2 decimals) or ``exact`` (a Fleetwatch
    extension, see ``Window.exact``); InvalidQuery for anything else."""
    now = now or datetime.now(UTC)
    precision = params.get("precision") or "rounded"
    if precision not in ("rounded", "exact"):
        raise InvalidQuery(f"precision not supported: {precision!r}; use rounded or exact")
    exact = precision == "exact"
    timezone = params.get("timezone") or "UTC"
    get_zone(timezone)  # InvalidQuery "unknown time zone" for a bad name
    start, end = params.get("start"), params.get("end")
    if start or end:
        if not (start and end):
            raise InvalidQuery("give both start and end, as 'YYYY-MM-DD HH:MM:SS'")
        chosen = custom_range(start, end, timezone, now)
        return Window(chosen.start, chosen.end, chosen.interval, timezone, exact)
    time_range = params.get("time") or DEFAULT_RANGE
    if time_range not in PREDEFINED_RANGES:
        raise InvalidQuery(
            f"time range not supported: {time_range!r}; use one of {', '.join(PREDEFINED_RANGES)}"
        )
    return Window(
        range_start(time_range, now, timezone), None, PREDEFINED_RANGES[time_range], timezone, exact
    )


def round_value(value):
    """Two decimals, four below 0.01 (so small values are not shown as 0)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    return round(value, 4 if abs(value) < 0.01 else 2)


def keep_value(value):
    """``round_value``'s types without the rounding (``precision=exact``); a whole number
    (a sum of bytes) is an int, so the CSV says ``12345678``, not ``12345678.0``."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def in_base_units(chart_type, query):
    """The query of an "adaptive_prefix" chart without its scale (bytes, not GB: sums of byte
    counts stay whole numbers); other charts' queries (percentages: ``scale=100``) unchanged."""
    if not chart_type.unit.startswith("adaptive_prefix+"):
        return query
    return replace(query, aggregates=[replace(agg, scale=None, digits=None) for agg in query.aggregates])


def chart_data(chart_type, metric_key, tags, field_name, window: Window):
    """(x labels, traces, summary, has_data) of one chart type over a window.

    A chart with aggregates answers one value per bucket of the window; a chart without
    (raw values) one value per stored point, labelled with the point's own time, and a
    summary of ``None`` (there is nothing to sum up), as OpenWISP Monitoring answers.
    """
    if chart_type.is_raw:
        return raw_chart_data(metric_key, tags, field_name, window)
    query = chart_type.template.query(
        metric_key,
        start=window.start,
        end=window.end,
        interval=window.interval,
        timezone=window.timezone,
        tags=tags,
        field_name=field_name,
    )
    shape = round_value
    if window.exact:
        query, shape = in_base_units(chart_type, query), keep_value
    result, summary = get_backend().chart_and_summary(query)
    x = [moment.strftime("%Y-%m-%d %H:%M") for moment in result.times]
    traces = [[name, [shape(v) for v in values]] for name, values in sorted(result.series.items())]
    summary = {name: shape(value) for name, value in summary.items()}
    return x, traces, summary, result.has_data


def raw_chart_data(measurement, tags, field_name, window: Window):
    """The raw values of one field in the window, oldest first (see ``chart_data``)."""
    zone = get_zone(window.timezone)
    rows = get_backend().read(raw_query(measurement, field_name, tags, since=window.start, until=window.end))
    x = [row.time.astimezone(zone).strftime("%Y-%m-%d %H:%M") for row in rows]
    shape = keep_value if window.exact else round_value
    values = [shape(row.fields.get(field_name)) for row in rows]
    return x, [[field_name, values]], {field_name: None}, bool(rows)


def device_charts(device, window: Window) -> tuple[list[str], list[dict]]:
    """Every chart of a device with data in the window, ordered by order then title.

    Each chart is the chart type's presentation (``ChartType.as_json``, title and description
    filled in with the metric's tags) plus ``traces`` and ``summary``. All charts with
    aggregates share the answer's ``x``; a raw-value chart carries its own ``x`` too (its
    points have their own times), and lends it to the answer when no other chart has data.
    """
    jobs = []
    for metric in device.metrics.prefetch_related("charts").order_by("name"):
        tags = {"content_type": CONTENT_TYPE, "object_id": str(device.pk), **metric.main_tags}
        for chart in metric.charts.all():
            try:
                chart_type = get_chart(chart.configuration)
            except RegistryError:
                # A chart row whose type is no longer declared (settings changed): skip it.
                log.warning("chart %s of %s has an unknown type %r", chart.pk, metric, chart.configuration)
                continue
            if chart_type.scope == "device":
                jobs.append((metric, chart_type, tags))
    results = _map(lambda job: chart_data(job[1], job[0].key, job[2], job[0].field_name, window), jobs)
    x: list[str] = []
    raw_x: list[str] = []
    ranked = []
    for (metric, chart_type, _tags), (labels, traces, summary, has_data) in zip(jobs, results, strict=True):
        if not has_data:
            continue
        body = chart_type.as_json(metric.main_tags, metric.name)
        body.update(traces=traces, summary=summary)
        if chart_type.is_raw:
            body["x"] = labels
            raw_x = raw_x or labels
        elif not x and chart_type.type != "histogram":
            x = labels
        ranked.append(((chart_type.order, body["title"]), body))
    ranked.sort(key=lambda item: item[0])
    return x or raw_x, [body for _key, body in ranked]


def charts_csv(x: list[str], charts: list[dict]) -> str:
    """One row per bucket: time, then "<trace> - <chart title>" columns. Raw-value charts
    (their own ``x``) follow, each after an empty row: its title, then time and value rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    shared = [chart for chart in charts if "x" not in chart]
    columns = [(chart, name, values) for chart in shared for name, values in chart["traces"]]
    writer.writerow(["time", *[f"{name} - {chart['title']}" for chart, name, _ in columns]])
    for i, label in enumerate(x if shared else []):
        writer.writerow([label, *[values[i] if i < len(values) else "" for _c, _n, values in columns]])
    for chart in charts:
        if "x" in chart:
            writer.writerow([])
            writer.writerow([chart["title"]])
            writer.writerow(["time", *[name for name, _values in chart["traces"]]])
            for i, label in enumerate(chart["x"]):
                writer.writerow([label, *[values[i] for _name, values in chart["traces"]]])
    return out.getvalue()


# Interfaces summed by the general traffic chart unless the request names others.
DASHBOARD_TRAFFIC_INTERFACES = ("wan", "eth1", "eth0.2")


def dashboard_charts(organization_ids, window: Window, location_ids=(), interfaces=()) -> tuple[list, list]:
    """General traffic and distinct WiFi clients across the organizations' devices (the charts
    of the ``general_traffic`` and ``general_clients`` metric types)."""
    scope = {"organization_id": [str(i) for i in organization_ids]}
    if location_ids:
        scope["location_id"] = [str(i) for i in location_ids]
    x: list[str] = []
    ranked = []
    for metric_name, extra in (
        ("general_traffic", {"ifname": list(interfaces or DASHBOARD_TRAFFIC_INTERFACES)}),
        ("general_clients", {}),
    ):
        metric_type = get_metric(metric_name)
        for chart_name in metric_type.charts:
            chart_type = get_chart(chart_name)
            labels, traces, summary, has_data = chart_data(
                chart_type, metric_type.key, {**scope, **extra}, metric_type.field_name, window
            )
            if not has_data:
                continue
            x = x or labels
            body = {
                **chart_type.as_json(metric_name=metric_type.metric_name),
                "traces": traces,
                "summary": summary,
            }
            ranked.append(((chart_type.order, body["title"]), body))
    ranked.sort(key=lambda item: item[0])
    return x, [body for _key, body in ranked]
