"""Time series in PostgreSQL (TimescaleDB hypertables when the extension is installed)."""

from fleetwatch.timeseries.backends.postgresql.backend import PostgresqlBackend as Backend

__all__ = ["Backend"]
