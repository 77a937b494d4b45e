"""The embedded default: time series in a SQLite file, no server needed."""

from fleetwatch.timeseries.backends.sqlite.backend import SqliteBackend as Backend

__all__ = ["Backend"]
