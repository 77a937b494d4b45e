"""Fleetwatch's storage layer: one interface over SQLite, PostgreSQL and more.

Plain Python only (no web framework import anywhere below this package), so it can be used
and tested on its own, and embedded in other projects.
"""

from fleetwatch.timeseries.backend import BackendConfig, BaseBackend, Features
from fleetwatch.timeseries.buckets import Bucketing, custom_range, interval_for_range, range_start
from fleetwatch.timeseries.errors import (
    BackendUnavailable,
    ConfigurationError,
    FieldTypeError,
    InvalidInput,
    InvalidPoint,
    InvalidQuery,
    NotSupported,
    TimeseriesError,
)
from fleetwatch.timeseries.loading import configure, load_backend, parse_url
from fleetwatch.timeseries.model import (
    Aggregate,
    ChartQuery,
    Point,
    ReadQuery,
    Result,
    Row,
    TopFields,
    Where,
)

__all__ = [
    "Aggregate",
    "BackendConfig",
    "BackendUnavailable",
    "BaseBackend",
    "Bucketing",
    "ChartQuery",
    "ConfigurationError",
    "Features",
    "FieldTypeError",
    "InvalidInput",
    "InvalidPoint",
    "InvalidQuery",
    "NotSupported",
    "Point",
    "ReadQuery",
    "Result",
    "Row",
    "TimeseriesError",
    "TopFields",
    "Where",
    "configure",
    "custom_range",
    "interval_for_range",
    "load_backend",
    "parse_url",
    "range_start",
]
