"""The Clean Insights payload both halves speak (reference usage-metrics C.5, C.9).

An upload is ``{"idsite": <int>, "events": [<event>, ...]}``; an event is
``{"category", "action", "name", "value", "times", "period_start", "period_end"}`` with
``period_*`` in unix seconds. OpenWISP sends one event per collected key, all of one category;
Fleetwatch does the same with the action names below, plus an ``"Instance ID"`` event (a random
UUID made at install) so that a collector can count surviving deployments exactly.

No framework here: the sender, the collector and the simulator all build on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

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
# What of an event its digest covers (the timestamps only when asked for).
CONTENT = ("action", "name", "value", "times")
TIMESTAMPS = ("period_start", "period_end")


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


def digest(site: int, category: str, events: Iterable[dict], *, timestamps: bool) -> str:
    """SHA-256 (64 hex digits) of one category's content in an upload: the JSON text of
    ``[site, category, items]``, where ``items`` is the sorted list of each event's
    ``[action, name, value, times]`` as JSON text, with ``period_start`` and ``period_end``
    appended to each when ``timestamps`` is true. Nothing else of an event is read (its
    ``category`` key, if any, is the ``category`` argument's), and event order does not matter.

    Without timestamps the same content made at another second has the same digest: the
    sender's once-a-day key (C.7), and the collector's duplicate key for an upload with an
    instance id. With them, a re-send (which repeats its timestamps) still matches but another
    deployment with the same versions does not: the collector's key for anonymous uploads.
    Both sides computing it alike makes the sender's key for a payload the collector's.
    """
    keys = CONTENT + TIMESTAMPS if timestamps else CONTENT
    items = sorted(json.dumps([e[k] for k in keys]) for e in events)
    text = json.dumps([site, category, items])
    return hashlib.sha256(text.encode()).hexdigest()
