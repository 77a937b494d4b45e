"""The Clean Insights payload both halves speak (reference usage-metrics C.5, C.9).

An upload is ``{"idsite": <int>, "events": [<event>, ...]}``; an event is
``{"category", "action", "name", "value", "times", "period_start", "period_end"}`` with
``period_*`` in unix seconds. OpenWISP sends one event per collected key, all of one category;
Fleetwatch does the same with the action names below, plus an ``"Instance ID"`` event (a random
UUID made at install) so that a collector can count surviving deployments exactly.

No framework here: the sender, the collector and the simulator all build on it.
"""

from __future__ import annotations

# Categories (C.4).
INSTALL = "Install"
UPGRADE = "Upgrade"
HEARTBEAT = "Heartbeat"
CONSENT_WITHDRAWN = "Consent Withdrawn"
CATEGORIES = (INSTALL, UPGRADE, HEARTBEAT, CONSENT_WITHDRAWN)
# A deployment is active in a period when it sent one of these (an Install or Upgrade replaces
# that day's Heartbeat, C.4).
ACTIVE = (INSTALL, HEARTBEAT, UPGRADE)

# Actions: the product's version (ours, OpenWISP's), then the keys both send (C.3).
FLEETWATCH_VERSION = "Fleetwatch Version"
OPENWISP_VERSION = "OpenWISP Version"
OS_VERSION = "os_version"
KERNEL_VERSION = "kernel_version"
HARDWARE_PLATFORM = "hardware_platform"
INSTALLATION_METHOD = "Installation Method"
# Ours only.
TIMESERIES_BACKEND = "Time-series Backend"
INSTANCE_ID = "Instance ID"
# The opt-out event (C.4): {"category": "Consent Withdrawn", "action": "Action", "name": "Opt-out"}.
OPT_OUT_ACTION = "Action"
OPT_OUT_NAME = "Opt-out"

# action -> product named by it, for the collector's "product" column.
PRODUCTS = {FLEETWATCH_VERSION: "Fleetwatch", OPENWISP_VERSION: "OpenWISP"}


def event(category: str, action: str, name: str | None, at: int) -> dict:
    """One event as OpenWISP sends it: value 1, times 1, ``period_start == period_end == at``
    (unix seconds)."""
    return {
        "category": category,
        "action": action,
        "name": name,
        "value": 1,
        "times": 1,
        "period_start": at,
        "period_end": at,
    }


def upload(site: int, events: list[dict]) -> dict:
    """The upload document: ``{"idsite": site, "events": events}``."""
    return {"idsite": site, "events": events}
