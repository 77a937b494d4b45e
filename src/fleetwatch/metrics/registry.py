"""Declarative registry of metric types and chart types.

A metric type says what a device reports (measurement, fields, alert defaults, charts); a chart
type says how to show it and which ``fleetwatch.timeseries.queries`` template computes it. New
ones are registered from code or settings as plain declarations: no backend query text.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from fleetwatch.timeseries.queries import CHART_QUERIES, ChartTemplate

CHART_KINDS = ("bar", "scatter", "stackedbar+lines", "histogram")


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


@dataclass(frozen=True)
class ChartType:
    name: str
    title: str
    description: str
    order: int
    unit: str = ""
    type: str = "scatter"
    query: str | None = None
    colors: tuple[str, ...] = ()
    colorscale: dict | None = None
    trace_type: dict | None = None
    trace_order: tuple[str, ...] | None = None
    calculate_total: bool = False
    connect_points: bool = False
    fill: str | None = None
    summary_labels: tuple[str, ...] | None = None
    yaxis: dict | None = None
    trace_labels: dict | None = None

    def template(self) -> ChartTemplate | None:
        return CHART_QUERIES[self.query] if self.query else None

    def as_json(self) -> dict:
        body = {
            "title": self.title,
            "description": self.description,
            "type": self.type,
            "unit": self.unit,
            "colors": list(self.colors),
            "colorscale": self.colorscale,
        }
        for key in ("fill", "yaxis", "trace_type", "trace_labels"):
            if getattr(self, key) is not None:
                body[key] = getattr(self, key)
        for key in ("trace_order", "summary_labels"):
            if getattr(self, key) is not None:
                body[key] = list(getattr(self, key))
        for key in ("calculate_total", "connect_points"):
            if getattr(self, key):
                body[key] = True
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
    missing = [key for key in required if key not in config]
    if missing:
        raise RegistryError(f"{name!r} is missing {', '.join(missing)}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise RegistryError(f"{name!r} has unknown keys: {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k != "name"}
    if cls is MetricType and isinstance(values.get("alert"), dict):
        values["alert"] = AlertDefaults(**values["alert"])
    return cls(name=name, **values)


def register_chart(name: str, config: ChartType | dict) -> ChartType:
    if name in _charts:
        raise RegistryError(f"chart {name!r} is already registered")
    chart = _build(ChartType, name, config, ("title", "description", "order"))
    if chart.type not in CHART_KINDS:
        raise RegistryError(f"chart {name!r}: type must be one of {', '.join(CHART_KINDS)}")
    if chart.query is not None and chart.query not in CHART_QUERIES:
        raise RegistryError(f"chart {name!r}: unknown query {chart.query!r}")
    if chart.query is None and not chart.unit and "unit" not in (config if isinstance(config, dict) else {}):
        raise RegistryError(f"chart {name!r}: a chart without a query needs a unit")
    if chart.colorscale is not None:
        missing = [k for k in ("max", "min", "label", "scale") if k not in chart.colorscale]
        if missing:
            raise RegistryError(f"chart {name!r}: colorscale needs {', '.join(missing)}")
    _charts[name] = chart
    return chart


def register_metric(name: str, config: MetricType | dict) -> MetricType:
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


__all__ = ["AlertDefaults", "ChartType", "MetricType", "RegistryError"]
