"""Too many or too few WiFi clients: distinct client MACs over a short and a long window.

A snooze schedule (``FLEETWATCH_WIFI_CLIENTS_SNOOZE``: ``[["MM-DD", "MM-DD"], ["HH:MM",
"HH:MM"]]`` pairs, wrapping around the year or midnight) pauses the check, e.g. school holidays
or nights, when an empty access point is expected."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from fleetwatch.core.timeseries import get_backend
from fleetwatch.monitoring.checks.base import BaseCheck, Measurement
from fleetwatch.timeseries import ReadQuery


def _inside(value: str, start: str, end: str) -> bool:
    return start <= value <= end if start <= end else value >= start or value <= end


def snoozed(now: datetime, schedule) -> bool:
    for start, end in schedule or ():
        value = now.strftime("%m-%d") if len(start) == 5 and start[2] == "-" else now.strftime("%H:%M")
        if _inside(value, start, end):
            return True
    return False


class WifiClients(BaseCheck):
    name = "wifi_clients"
    label = "WiFi clients"
    params = {"max_minutes": (5, 1, 24 * 60), "min_minutes": (4320, 5, 30 * 24 * 60)}

    @classmethod
    def may_run_now(cls, now: datetime) -> bool:
        return not snoozed(now, settings.FLEETWATCH_WIFI_CLIENTS_SNOOZE)

    def measure(self) -> list[Measurement]:
        health = getattr(self.device, "health", None)
        if health is not None and health.status in ("unknown", "critical"):
            return []
        tags = {"content_type": "inventory.device", "object_id": str(self.device.pk)}
        backend = get_backend()

        def clients(minutes: int) -> int:
            since = self.now - timedelta(minutes=minutes)
            return backend.count_distinct(
                ReadQuery("wifi_clients", tags=tags, since=since, until=self.now), "clients"
            )

        return [
            Measurement("wifi_clients_max", {"clients": clients(self.options["max_minutes"])}),
            Measurement("wifi_clients_min", {"clients": clients(self.options["min_minutes"])}),
        ]
