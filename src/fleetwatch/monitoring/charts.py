"""Chart API data: the time window of a request, and every chart of a device over it."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from fleetwatch.core.timeseries import get_backend
from fleetwatch.metrics import get_chart
from fleetwatch.monitoring.ingestion import CONTENT_TYPE
from fleetwatch.timeseries import InvalidQuery
from fleetwatch.timeseries.buckets import (
    DEFAULT_RANGE,
    PREDEFINED_RANGES,
    custom_range,
    range_start,
)
from fleetwatch.timeseries.model import get_zone

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


def window_from(params, now: datetime | None = None) -> Window:
    """``time`` (1d, 3d, 7d, 30d, 365d) or ``start``/``end`` in ``timezone`` (default UTC)."""
    now = now or datetime.now(UTC)
    timezone = params.get("timezone") or "UTC"
    get_zone(timezone)  # InvalidQuery "unknown time zone" for a bad name
    start, end = params.get("start"), params.get("end")
    if start or end:
        if not (start and end):
            raise InvalidQuery("give both start and end, as 'YYYY-MM-DD HH:MM:SS'")
        chosen = custom_range(start, end, timezone, now)
        return Window(chosen.start, chosen.end, chosen.interval, timezone)
    time_range = params.get("time") or DEFAULT_RANGE
    if time_range not in PREDEFINED_RANGES:
        raise InvalidQuery(
            f"time range not supported: {time_range!r}; use one of {', '.join(PREDEFINED_RANGES)}"
        )
    return Window(range_start(time_range, now, timezone), None, PREDEFINED_RANGES[time_range], timezone)


def round_value(value):
    """Two decimals, four below 0.01 (so small values are not shown as 0)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    return round(value, 4 if abs(value) < 0.01 else 2)


def chart_data(chart_type, metric_key, tags, field_name, window: Window):
    """(x labels, traces, summary, has_data) of one chart type over a window."""
    template = chart_type.template()
    query = template.query(
        metric_key,
        start=window.start,
        end=window.end,
        interval=window.interval,
        timezone=window.timezone,
        tags=tags,
        field_name=field_name,
    )
    result, summary = get_backend().chart_and_summary(query)
    x = [moment.strftime("%Y-%m-%d %H:%M") for moment in result.times]
    traces = [[name, [round_value(v) for v in values]] for name, values in sorted(result.series.items())]
    summary = {name: round_value(value) for name, value in summary.items()}
    return x, traces, summary, result.has_data


def device_charts(device, window: Window) -> tuple[list[str], list[dict]]:
    """Every chart of a device with data in the window, ordered by order then title."""
    jobs = []
    for metric in device.metrics.prefetch_related("charts").order_by("name"):
        tags = {"content_type": CONTENT_TYPE, "object_id": str(device.pk), **metric.main_tags}
        for chart in metric.charts.all():
            chart_type = get_chart(chart.configuration)
            if chart_type.template() is not None:
                jobs.append((metric, chart_type, tags))
    results = _map(lambda job: chart_data(job[1], job[0].key, job[2], job[0].field_name, window), jobs)
    x: list[str] = []
    charts = []
    for (metric, chart_type, _tags), (labels, traces, summary, has_data) in zip(jobs, results, strict=True):
        if not has_data:
            continue
        if not x and chart_type.type != "histogram":
            x = labels
        body = chart_type.as_json()
        if metric.main_tags.get("ifname"):
            body["title"] = f"{body['title']}: {metric.main_tags['ifname']}"
        body.update(traces=traces, summary=summary, order=chart_type.order, metric=metric.name)
        charts.append(body)
    charts.sort(key=lambda body: (body["order"], body["title"]))
    return x, charts


def charts_csv(x: list[str], charts: list[dict]) -> str:
    """One row per bucket: time, then "<trace> - <chart title>" columns."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [(chart, name, values) for chart in charts for name, values in chart["traces"]]
    writer.writerow(["time", *[f"{name} - {chart['title']}" for chart, name, _ in columns]])
    for i, label in enumerate(x):
        writer.writerow([label, *[values[i] if i < len(values) else "" for _c, _n, values in columns]])
    return out.getvalue()


# Interfaces summed by the general traffic chart unless the request names others.
DASHBOARD_TRAFFIC_INTERFACES = ("wan", "eth1", "eth0.2")


def dashboard_charts(organization_ids, window: Window, location_ids=(), interfaces=()) -> tuple[list, list]:
    """General traffic and distinct WiFi clients across the organizations' devices."""
    scope = {"organization_id": [str(i) for i in organization_ids]}
    if location_ids:
        scope["location_id"] = [str(i) for i in location_ids]
    x: list[str] = []
    charts = []
    for name, measurement, field, extra in (
        ("general_traffic", "traffic", None, {"ifname": list(interfaces or DASHBOARD_TRAFFIC_INTERFACES)}),
        ("gen_wifi_clients", "wifi_clients", "clients", {}),
    ):
        chart_type = get_chart(name)
        labels, traces, summary, has_data = chart_data(
            chart_type, measurement, {**scope, **extra}, field, window
        )
        if not has_data:
            continue
        x = x or labels
        charts.append(
            {**chart_type.as_json(), "traces": traces, "summary": summary, "order": chart_type.order}
        )
    return x, charts
