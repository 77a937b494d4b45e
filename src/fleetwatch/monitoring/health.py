"""A device's health status from its metrics' raw health.

``critical``: every critical metric the device has (ping reachability, data collected) is
unhealthy; ``problem``: some metric is unhealthy; ``ok``: metrics judged and all healthy;
``unknown``: nothing judged yet; ``deactivated``: the device is switched off in the inventory.

A device that has never reported stays ``unknown`` ("waiting for first report"): its checks do
not run until its first report or until ``FLEETWATCH_FIRST_REPORT_GRACE`` seconds after it was
created (:func:`waiting_for_first_report`), so adding a router before flashing it pages nobody.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from fleetwatch.monitoring.models import DeviceHealth, HealthStatus, StatusChange
from fleetwatch.monitoring.signals import health_changed

# One line per change of a device's status, on the console of `fleetwatch serve`/`worker`.
events = logging.getLogger("fleetwatch.events")

CRITICAL_METRICS = {("ping", "reachable"), ("data_collected", "data_collected")}


def waiting_for_first_report(device, now: datetime) -> bool:
    """True while ``device`` has never reported (``last_seen`` is None) and was created less than
    ``FLEETWATCH_FIRST_REPORT_GRACE`` seconds before ``now`` (an aware datetime). Such a device
    is not yet installed as far as anyone can tell: no check runs for it, so it raises nothing."""
    if device.last_seen is not None or device.created is None:
        return False
    return now < device.created + timedelta(seconds=settings.FLEETWATCH_FIRST_REPORT_GRACE)


def compute_status(device) -> str:
    if not device.is_active:
        return HealthStatus.DEACTIVATED
    judged = [m for m in device.metrics.all() if m.is_healthy is not None]
    if not judged:
        return HealthStatus.UNKNOWN
    critical = [m for m in judged if (m.key, m.field_name) in CRITICAL_METRICS]
    if critical and all(m.is_healthy is False for m in critical):
        return HealthStatus.CRITICAL
    if any(m.is_healthy is False for m in judged):
        return HealthStatus.PROBLEM
    return HealthStatus.OK


def refresh_status(device, now: datetime, reason: str = "") -> str:
    status = compute_status(device)
    with transaction.atomic():
        health, _ = DeviceHealth.objects.select_for_update().get_or_create(device=device)
        previous = health.status
        if previous == status:
            return status
        health.status, health.changed = status, now
        health.save()
        StatusChange.objects.create(
            device=device, previous=previous, status=status, time=now, reason=reason[:200]
        )
    device._state.fields_cache.pop("health", None)  # the next read sees the new status
    events.info(
        "device %s (%s) is %s, was %s%s",
        device.name,
        device.organization.slug,
        status,
        previous,
        f": {reason}" if reason else "",
    )
    health_changed.send(
        sender=DeviceHealth, device=device, previous=previous, status=status, time=now, reason=reason
    )
    return status
