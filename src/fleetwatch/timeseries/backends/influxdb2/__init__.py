"""InfluxDB 2.x backend: the official client's write API in, Flux out, tiers as buckets."""

from fleetwatch.timeseries.backends.influxdb2.backend import InfluxDB2Backend as Backend

__all__ = ["Backend"]
