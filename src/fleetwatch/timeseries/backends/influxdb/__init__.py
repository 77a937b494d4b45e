"""InfluxDB 1.x backend: line protocol in, InfluxQL out, retention tiers as retention policies."""

from fleetwatch.timeseries.backends.influxdb.backend import InfluxDBBackend as Backend

__all__ = ["Backend"]
