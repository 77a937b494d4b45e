"""Clean Insights uploads for tests: ours (with an instance id) and OpenWISP's shape (without)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fleetwatch.usage import payload


def at(day: date, hour: int = 12) -> int:
    """Unix seconds of ``day`` at ``hour`` UTC."""
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp())


def fleetwatch_upload(
    category: str,
    day: date,
    instance: str | None = "4f0c8f51-57d5-4d55-9e0e-5b3c1f0d2a11",
    version: str = "1.0.0",
    *,
    method: str = "pip",
    os: str = "Debian GNU/Linux 12 (bookworm)",
    backend: str = "sqlite",
    hour: int = 12,
    site: int = 1,
) -> dict:
    """An upload as Fleetwatch's sender makes it (one event per key, one category)."""
    when = at(day, hour)
    items = [
        (payload.FLEETWATCH_VERSION, version),
        ("fleetwatch.backups", version),
        (payload.OS_VERSION, os),
        (payload.KERNEL_VERSION, "6.1.0"),
        (payload.HARDWARE_PLATFORM, "x86_64"),
        (payload.INSTALLATION_METHOD, method),
        (payload.TIMESERIES_BACKEND, backend),
    ]
    if category == payload.CONSENT_WITHDRAWN:
        items = [(payload.OPT_OUT_ACTION, payload.OPT_OUT_NAME)]
    if instance is not None:
        items.append((payload.INSTANCE_ID, instance))
    return payload.upload(site, [payload.event(category, action, name, when) for action, name in items])


def openwisp_upload(category: str, day: date, version: str = "24.11.0", *, hour: int = 12) -> dict:
    """An upload in the shape OpenWISP's metric collection sends (reference C.5): no instance id."""
    when = at(day, hour)
    items = [
        ("openwisp-utils", "1.2.0"),
        ("openwisp-monitoring", "1.2.0"),
        (payload.OPENWISP_VERSION, version),
        (payload.KERNEL_VERSION, "5.15.0"),
        (payload.OS_VERSION, "Ubuntu 22.04.4 LTS"),
        (payload.HARDWARE_PLATFORM, "x86_64"),
        (payload.INSTALLATION_METHOD, "ansible-openwisp2"),
    ]
    return payload.upload(5, [payload.event(category, action, name, when) for action, name in items])
