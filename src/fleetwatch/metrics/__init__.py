"""Registry of metric types and chart types (declarations only; no Django, no query text)."""

from fleetwatch.metrics.builtin import register_builtin
from fleetwatch.metrics.registry import (
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

register_builtin()

__all__ = [
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
