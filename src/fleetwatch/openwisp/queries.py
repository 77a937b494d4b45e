"""The chart, default and device-data queries OpenWISP Monitoring expects of a backend.

They are OpenWISP's own InfluxQL templates, imported (not copied) from its InfluxDB backend:
the adapter parses InfluxQL (``fleetwatch.openwisp.influxql``), so custom charts written for
InfluxDB keep working on every Fleetwatch backend unchanged.
"""

from openwisp_monitoring.db.backends.influxdb.queries import (  # noqa: F401
    chart_query,
    default_chart_query,
    device_data_query,
)
