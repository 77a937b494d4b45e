"""Has the device sent any passive metric (what its agent reports) in the last N minutes?"""

from __future__ import annotations

from datetime import timedelta

from fleetwatch.core.timeseries import get_backend
from fleetwatch.monitoring.checks.base import BaseCheck, Measurement
from fleetwatch.timeseries import ReadQuery

# Metrics that checks write: they say nothing about the agent's own reports.
ACTIVE_METRICS = {
    "ping",
    "config_applied",
    "iperf3",
    "wifi_clients_max",
    "wifi_clients_min",
    "data_collected",
    "reporting",
}


class DataCollected(BaseCheck):
    name = "data_collected"
    label = "Monitoring data collected"
    params = {"minutes": (60, 5, 24 * 60)}
    auto = True

    def measure(self) -> list[Measurement]:
        measurements = sorted(
            {m.key for m in self.device.metrics.all() if m.configuration not in ACTIVE_METRICS}
        )
        collected = 0
        if measurements:
            since = self.now - timedelta(minutes=self.options["minutes"])
            tags = {"content_type": "inventory.device", "object_id": str(self.device.pk)}
            # One bounded read over every passive measurement: a single point is enough.
            rows = get_backend().read(
                ReadQuery(measurements, tags=tags, since=since, until=self.now, limit=1)
            )
            collected = 1 if rows else 0
        # A device that answers no ping sends no data either: its ping problem says it all.
        ping_down = self.device.metrics.filter(key="ping", field_name="reachable", is_healthy=False).exists()
        return [
            Measurement(
                "data_collected",
                {"data_collected": collected},
                send_alert=collected == 1 or not ping_down,
            )
        ]
