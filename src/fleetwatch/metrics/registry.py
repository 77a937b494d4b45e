"""Declarative registry of metric types and chart types.

A metric type says what a device reports (measurement, fields, alert defaults, charts); a chart
type is the whole chart in one declaration: its title and look, its unit, and what it computes
(aggregates and tag scope; none for the raw values of the metric's field). Both are registered
from code or from settings with the same dictionaries; no backend query text anywhere.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from fleetwatch.timeseries.errors import InvalidQuery
from fleetwatch.timeseries.model import Aggregate
from fleetwatch.timeseries.queries import AggregateTemplate, ChartTemplate

CHART_KINDS = ("bar", "scatter", "stackedbar+lines", "histogram")

# What a chart is computed over. "device": the series of one device's metric (its
# DEVICE_TAGS, plus the metric's own tags such as the interface); "general": every device of
# the organizations, locations or floor plans asked for (the dashboard).
SCOPES = ("device", "general")
DEVICE_TAGS = ("content_type", "object_id")
GENERAL_TAGS = ("organization_id", "location_id", "floorplan_id")

# The palette a chart without its own colors takes, one color per summary label: the chart
# API answers with it, as OpenWISP Monitoring does (its DEFAULT_COLORS, the D3 category colors).
DEFAULT_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


class RegistryError(ValueError):
    pass


@dataclass(frozen=True)
class AlertDefaults:
    operator: str
    threshold: float
    tolerance: int = 0  # minutes

    def __post_init__(self):
        if self.operator not in ("<", ">"):
            raise RegistryError(f"alert operator must be '<' or '>', not {self.operator!r}")


def _aggregate(chart: str, spec: Any) -> AggregateTemplate:
    """An aggregate of a declaration: a dict (``fn``, ``field``, ``alias``, ``scale``,
    ``digits``), an ``Aggregate`` or an ``AggregateTemplate``."""
    if isinstance(spec, AggregateTemplate):
        return spec
    if isinstance(spec, Aggregate):
        return AggregateTemplate(spec.fn, spec.field, spec.alias, spec.scale, spec.digits)
    if not isinstance(spec, Mapping):
        raise RegistryError(
            f"chart {chart!r}: an aggregate must be a dict like {{'fn': 'mean', 'field': 'x'}}"
        )
    known = {f.name for f in fields(AggregateTemplate)}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise RegistryError(f"chart {chart!r}: an aggregate has unknown keys: {', '.join(unknown)}")
    missing = [key for key in ("fn", "field") if key not in spec]
    if missing:
        raise RegistryError(f"chart {chart!r}: an aggregate is missing {', '.join(missing)}")
    try:
        return AggregateTemplate(**spec)
    except InvalidQuery as exc:
        raise RegistryError(f"chart {chart!r}: {exc}") from None


class _Placeholders(dict):
    """Format values of a title: unknown placeholders stay as written."""

    def __missing__(self, key):
        return "{" + key + "}"


class _MetricName(str):
    """``{metric}`` and ``{metric.name}`` in a title or description (as the peer's allow)."""

    @property
    def name(self) -> str:
        return str(self)


def fill_in(text: str, tags: Mapping[str, str] | None = None, metric_name: str | None = None) -> str:
    """``text`` with ``{tag}`` (e.g. ``{ifname}``) and ``{metric}`` filled in; a placeholder it
    cannot fill (or a malformed one) is left as written rather than failing the chart API."""
    if "{" not in text:
        return text
    values = _Placeholders(tags or {})
    if metric_name is not None:
        values["metric"] = _MetricName(metric_name)
    try:
        return string.Formatter().vformat(text, (), values)
    except (ValueError, AttributeError, IndexError, KeyError):
        return text


@dataclass(frozen=True)
class ChartType:
    """One chart: what it computes and how it looks.

    What it computes: ``aggregates`` (each ``fn`` of ``field`` named ``alias``, times ``scale``,
    rounded to ``digits``; ``field`` may be ``"{field_name}"``, the metric's own field), per
    time bucket, over the ``scope``: ``"device"`` (the metric's series of one device) or
    ``"general"`` (filtered by organization, location, floor plan). ``required_tags`` must be
    known for the chart to be computed (a traffic chart needs its interface); ``optional_tags``
    are further filters a general chart accepts. No aggregates: the raw values of the metric's
    field, each at its own time.

    How it looks (the chart API answers these as OpenWISP Monitoring does): ``title`` and
    ``description`` (``{ifname}``-like tags and ``{metric}`` are filled in), ``unit``,
    ``type``, ``order``, ``colors``, ``colorscale``, ``summary_labels``, ``trace_type``,
    ``trace_order``, ``trace_labels``, ``calculate_total``, ``connect_points``, ``fill``,
    ``xaxis``, ``yaxis``.
    """

    name: str
    title: str
    description: str
    order: int
    unit: str = ""
    type: str = "scatter"
    aggregates: tuple[AggregateTemplate, ...] = ()
    scope: str = "device"
    required_tags: tuple[str, ...] = ()
    optional_tags: tuple[str, ...] = ()
    group_by: str | None = None
    cumulative: bool = False
    colors: tuple[str, ...] = ()
    colorscale: dict | None = None
    summary_labels: tuple[str, ...] | None = None
    trace_type: dict | None = None
    trace_order: tuple[str, ...] | None = None
    trace_labels: dict | None = None
    calculate_total: bool = False
    connect_points: bool = False
    fill: str | None = None
    xaxis: dict | None = None
    yaxis: dict | None = None
    template: ChartTemplate | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        aggregates = tuple(_aggregate(self.name, a) for a in self.aggregates)
        object.__setattr__(self, "aggregates", aggregates)
        if self.scope not in SCOPES:
            raise RegistryError(f"chart {self.name!r}: scope must be one of {', '.join(SCOPES)}")
        if self.scope == "device" and self.optional_tags:
            raise RegistryError(
                f"chart {self.name!r}: a device chart is filtered by its metric's tags; "
                "optional_tags are for general charts"
            )
        if self.group_by is not None and len(aggregates) != 1:
            raise RegistryError(f"chart {self.name!r}: group_by needs exactly one aggregate")
        if self.cumulative and self.group_by is None:
            raise RegistryError(f"chart {self.name!r}: cumulative needs group_by")
        if aggregates:
            if self.scope == "device":
                # The metric's own tags (interface, …) identify its series: any may filter.
                required, optional = DEVICE_TAGS + self.required_tags, None
            else:
                required, optional = self.required_tags, GENERAL_TAGS + self.optional_tags
            try:
                template = ChartTemplate(
                    self.name, aggregates, required, optional, self.group_by, self.cumulative
                )
            except InvalidQuery as exc:
                raise RegistryError(f"chart {self.name!r}: {exc}") from None
            object.__setattr__(self, "template", template)

    @property
    def is_raw(self) -> bool:
        """True when the chart shows the raw values of the metric's field."""
        return not self.aggregates

    def palette(self) -> list[str] | None:
        """The colors the API answers: the declared ones, else one default color per summary
        label, else none (null), as OpenWISP Monitoring answers."""
        if self.colors:
            return list(self.colors)
        if self.summary_labels:
            return list(DEFAULT_COLORS[: len(self.summary_labels)])
        return None

    def as_json(self, tags: Mapping[str, str] | None = None, metric_name: str | None = None) -> dict:
        """The chart's presentation in the chart API (traces, summary and x are added by the
        caller): the keys and values OpenWISP Monitoring's chart API answers, optional keys
        only when set. Reference: monitoring.md §3.5."""
        body: dict[str, Any] = {
            "title": fill_in(self.title, tags, metric_name),
            "description": fill_in(self.description, tags, metric_name),
            "type": self.type,
            "unit": self.unit,
            "summary_labels": list(self.summary_labels) if self.summary_labels is not None else None,
            "colors": self.palette(),
            "colorscale": self.colorscale,
        }
        for key in ("fill", "xaxis", "yaxis", "trace_type"):
            if getattr(self, key):
                body[key] = getattr(self, key)
        if self.trace_order:
            body["trace_order"] = list(self.trace_order)
        for key in ("calculate_total", "connect_points"):
            if getattr(self, key):
                body[key] = True
        if self.trace_labels:
            body["trace_labels"] = self.trace_labels
        return body


@dataclass(frozen=True)
class MetricType:
    name: str
    label: str
    metric_name: str
    key: str
    field_name: str
    related_fields: tuple[str, ...] = ()
    charts: tuple[str, ...] = ()
    alert: AlertDefaults | None = None
    alert_field: str | None = None
    notification: bool = True
    retention: str = "default"

    def measurement(self, key: str | None = None) -> str:
        return key if self.key == "{key}" and key else self.key

    def display_name(self, name: str | None = None) -> str:
        return name if self.metric_name == "{name}" and name else self.metric_name


_metrics: dict[str, MetricType] = {}
_charts: dict[str, ChartType] = {}


def _build(cls, name: str, config, required: tuple[str, ...]):
    if isinstance(config, cls):
        if config.name != name:
            raise RegistryError(f"{cls.__name__} named {config.name!r} registered as {name!r}")
        return config
    if not isinstance(config, dict):
        raise RegistryError(f"{name!r}: a declaration must be a dict or a {cls.__name__}")
    if cls is ChartType and "query" in config:
        raise RegistryError(
            f"{name!r}: 'query' is no longer a key; declare what the chart computes with "
            "'aggregates' (none for raw values), see docs/metrics.md"
        )
    missing = [key for key in required if key not in config]
    if missing:
        raise RegistryError(f"{name!r} is missing {', '.join(missing)}")
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(config) - known)
    if unknown:
        raise RegistryError(f"{name!r} has unknown keys: {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k != "name"}
    if cls is MetricType and isinstance(values.get("alert"), dict):
        values["alert"] = AlertDefaults(**values["alert"])
    return cls(name=name, **values)


def register_chart(name: str, config: ChartType | dict) -> ChartType:
    """Register a chart type from a ``ChartType`` or its dictionary (RegistryError naming the
    chart and the problem if the declaration is wrong or the name taken)."""
    if name in _charts:
        raise RegistryError(f"chart {name!r} is already registered")
    chart = _build(ChartType, name, config, ("title", "description", "order"))
    if chart.type not in CHART_KINDS:
        raise RegistryError(f"chart {name!r}: type must be one of {', '.join(CHART_KINDS)}")
    if chart.is_raw and isinstance(config, dict) and "unit" not in config:
        raise RegistryError(f"chart {name!r}: a chart without aggregates needs a unit")
    if chart.is_raw and chart.scope != "device":
        raise RegistryError(f"chart {name!r}: a general chart needs aggregates")
    if chart.colorscale is not None:
        missing = [k for k in ("max", "min", "label", "scale") if k not in chart.colorscale]
        if missing:
            raise RegistryError(f"chart {name!r}: colorscale needs {', '.join(missing)}")
    _charts[name] = chart
    return chart


def register_metric(name: str, config: MetricType | dict) -> MetricType:
    """Register a metric type from a ``MetricType`` or its dictionary (its charts first)."""
    if name in _metrics:
        raise RegistryError(f"metric {name!r} is already registered")
    metric = _build(MetricType, name, config, ("label", "metric_name", "key", "field_name"))
    if metric.alert_field and metric.alert_field not in (metric.field_name, *metric.related_fields):
        raise RegistryError(f"metric {name!r}: alert_field must be the field or a related field")
    unknown = [c for c in metric.charts if c not in _charts]
    if unknown:
        raise RegistryError(f"metric {name!r}: unknown chart(s) {', '.join(unknown)}")
    _metrics[name] = metric
    return metric


def unregister_metric(name: str) -> None:
    if _metrics.pop(name, None) is None:
        raise RegistryError(f"unknown metric {name!r}")


def unregister_chart(name: str) -> None:
    if _charts.pop(name, None) is None:
        raise RegistryError(f"unknown chart {name!r}")


def get_metric(name: str) -> MetricType:
    try:
        return _metrics[name]
    except KeyError:
        raise RegistryError(f"unknown metric {name!r}") from None


def get_chart(name: str) -> ChartType:
    try:
        return _charts[name]
    except KeyError:
        raise RegistryError(f"unknown chart {name!r}") from None


def metric_types() -> dict[str, MetricType]:
    return dict(_metrics)


def chart_types() -> dict[str, ChartType]:
    return dict(_charts)


def configure(metrics: dict | None = None, charts: dict | None = None) -> None:
    """Register declarations from settings (charts first, since metrics name them)."""
    for name, config in (charts or {}).items():
        register_chart(name, config)
    for name, config in (metrics or {}).items():
        register_metric(name, config)


def snapshot() -> tuple[dict, dict]:
    """Copy of the registry (tests restore it with ``restore``)."""
    return dict(_metrics), dict(_charts)


def restore(state: tuple[dict, dict]) -> None:
    _metrics.clear()
    _metrics.update(state[0])
    _charts.clear()
    _charts.update(state[1])


__all__ = ["DEFAULT_COLORS", "AlertDefaults", "ChartType", "MetricType", "RegistryError", "fill_in"]
