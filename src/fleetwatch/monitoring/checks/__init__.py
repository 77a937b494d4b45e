"""Active checks: each type is one class (``base.BaseCheck``), registered here by name.

A check measures (pings a device, looks for recent data, counts WiFi clients, runs iperf3 on it …) and returns a
``Measurement``; ``monitoring.check_runner.run_check`` stores it as a point, keeps the metric row and alert
settings, and evaluates the threshold. Add a type by writing a class and calling ``register``.
"""

from fleetwatch.monitoring.checks.base import BaseCheck, CheckError, Measurement
from fleetwatch.monitoring.checks.data_collected import DataCollected
from fleetwatch.monitoring.checks.iperf3 import Iperf3
from fleetwatch.monitoring.checks.no_report import NoReport
from fleetwatch.monitoring.checks.ping import Ping
from fleetwatch.monitoring.checks.wifi_clients import WifiClients

CHECKS: dict[str, type[BaseCheck]] = {}


def register(cls: type[BaseCheck]) -> type[BaseCheck]:
    CHECKS[cls.name] = cls
    return cls


for _cls in (Ping, DataCollected, WifiClients, NoReport, Iperf3):
    register(_cls)

__all__ = ["CHECKS", "BaseCheck", "CheckError", "Measurement", "register"]
