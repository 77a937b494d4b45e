"""A generic liveness check for anything that reports (routers, servers, sensors, backup jobs):
did it report in the last N minutes? Based on when Fleetwatch last heard from it."""

from __future__ import annotations

from datetime import timedelta

from fleetwatch.monitoring.checks.base import BaseCheck, Measurement


class NoReport(BaseCheck):
    name = "no_report"
    label = "No report"
    params = {"minutes": (15, 1, 7 * 24 * 60)}

    def measure(self) -> list[Measurement]:
        last_seen = self.device.last_seen
        if last_seen is None:
            return []  # never reported: unknown, not a failure
        reporting = 1 if last_seen >= self.now - timedelta(minutes=self.options["minutes"]) else 0
        return [Measurement("reporting", {"reporting": reporting})]
