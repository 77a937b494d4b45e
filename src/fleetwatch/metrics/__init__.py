"""Registry of metric types and chart types (declarations only; no Django, no query text)."""

from fleetwatch.metrics.builtin import register_builtin
from fleetwatch.metrics.registry import (
    DEFAULT_COLORS,
    DEVICE_TAGS,
    GENERAL_TAGS,
    AlertDefaults,
    ChartType,
    MetricType,
    RegistryError,
    chart_types,
    configure,
    get_chart,
    get_metric,
    metric_types,
    register_chart,
    register_metric,
    unregister_chart,
    unregister_metric,
)
from fleetwatch.timeseries.queries import METRIC_FIELD

register_builtin()

__all__ = [
    "DEFAULT_COLORS",
    "DEVICE_TAGS",
    "GENERAL_TAGS",
    "METRIC_FIELD",
    "AlertDefaults",
    "ChartType",
    "MetricType",
    "RegistryError",
    "chart_types",
    "configure",
    "get_chart",
    "get_metric",
    "metric_types",
    "register_chart",
    "register_metric",
    "unregister_chart",
    "unregister_metric",
]
