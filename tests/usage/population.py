"""A small explicit population for the collector's answers, posted through the real endpoint.

"Today" is Wednesday 2026-04-15 (UTC). Weeks (from Monday): W0 2025-12-29, W1 2026-01-05,
W2 01-12, W3 01-19, W4 01-26, W5 02-02, W6 02-09, W7 02-16, W8 02-23, … W14 04-06, W15 04-13.

Nine Fleetwatch instances (an "Instance ID" each), every report listed:

====  =====================================================================================
A     Install 01-05 1.0.0 pip/sqlite; Heartbeat 01-13, 01-20, 01-27, 02-02; Upgrade 02-03 to
      1.1.0; Heartbeat 04-14 (1.1.0)
B     Install 01-06 1.0.0 docker/postgresql; Heartbeat 01-14, 01-21; then silent (churned)
C     Install 01-07 1.0.0 pip/postgresql; Heartbeat 01-12, 01-26, 02-05; Consent Withdrawn 02-20
D     Install 01-14 1.0.0 ansible/sqlite; Heartbeat 01-21, 02-04; Upgrade 02-04 to 1.1.0 (the
      same day as its Heartbeat); Heartbeat 04-08 (1.1.0)
E     no Install: Heartbeat 01-22 and 01-29, 0.9.0 pip/sqlite (cohort from its first report)
F     Install 02-02 1.1.0 docker/sqlite; Heartbeat 02-10, 03-03
G     Install 02-09 1.1.0 pip/postgresql; Heartbeat 02-11; then silent
H     Install 02-16 1.1.0 pip/sqlite; Consent Withdrawn 02-25
I     Install 03-25 1.1.0 pip/sqlite
====  =====================================================================================

OpenWISP uploads (no instance id, ansible-openwisp2): Heartbeats 2026-01-02 at 10:00 and
14:00 (24.11.0; two deployments, distinct by their timestamps), 01-03 (24.11.0) and 01-03
(25.0.0); Heartbeats 01-05 and 01-06 (24.11.0); an Install 01-05 (24.11.0). A's Heartbeat of
01-13 is sent twice (a re-send: stored once).
"""

from __future__ import annotations

import json
from datetime import date

from django.test import Client

from fleetwatch.usage import payload
from tests.usage.payloads import fleetwatch_upload, openwisp_upload

TODAY = date(2026, 4, 15)
NOW = "2026-04-15T12:00:00Z"
INSTALL, HEARTBEAT, UPGRADE, WITHDRAWN = (
    payload.INSTALL,
    payload.HEARTBEAT,
    payload.UPGRADE,
    payload.CONSENT_WITHDRAWN,
)


def d(text: str) -> date:
    return date.fromisoformat(text)


# instance -> (install method, backend, [(category, day, version)])
INSTANCES = {
    "A": (
        "pip",
        "sqlite",
        [
            (INSTALL, "2026-01-05", "1.0.0"),
            (HEARTBEAT, "2026-01-13", "1.0.0"),
            (HEARTBEAT, "2026-01-20", "1.0.0"),
            (HEARTBEAT, "2026-01-27", "1.0.0"),
            (HEARTBEAT, "2026-02-02", "1.0.0"),
            (UPGRADE, "2026-02-03", "1.1.0"),
            (HEARTBEAT, "2026-04-14", "1.1.0"),
        ],
    ),
    "B": (
        "docker",
        "postgresql",
        [
            (INSTALL, "2026-01-06", "1.0.0"),
            (HEARTBEAT, "2026-01-14", "1.0.0"),
            (HEARTBEAT, "2026-01-21", "1.0.0"),
        ],
    ),
    "C": (
        "pip",
        "postgresql",
        [
            (INSTALL, "2026-01-07", "1.0.0"),
            (HEARTBEAT, "2026-01-12", "1.0.0"),
            (HEARTBEAT, "2026-01-26", "1.0.0"),
            (HEARTBEAT, "2026-02-05", "1.0.0"),
            (WITHDRAWN, "2026-02-20", ""),
        ],
    ),
    "D": (
        "ansible",
        "sqlite",
        [
            (INSTALL, "2026-01-14", "1.0.0"),
            (HEARTBEAT, "2026-01-21", "1.0.0"),
            (UPGRADE, "2026-02-04", "1.1.0"),  # sent before its Heartbeat of the same day
            (HEARTBEAT, "2026-02-04", "1.0.0"),
            (HEARTBEAT, "2026-04-08", "1.1.0"),
        ],
    ),
    "E": (
        "pip",
        "sqlite",
        [(HEARTBEAT, "2026-01-22", "0.9.0"), (HEARTBEAT, "2026-01-29", "0.9.0")],
    ),
    "F": (
        "docker",
        "sqlite",
        [
            (INSTALL, "2026-02-02", "1.1.0"),
            (HEARTBEAT, "2026-02-10", "1.1.0"),
            (HEARTBEAT, "2026-03-03", "1.1.0"),
        ],
    ),
    "G": (
        "pip",
        "postgresql",
        [(INSTALL, "2026-02-09", "1.1.0"), (HEARTBEAT, "2026-02-11", "1.1.0")],
    ),
    "H": ("pip", "sqlite", [(INSTALL, "2026-02-16", "1.1.0"), (WITHDRAWN, "2026-02-25", "")]),
    "I": ("pip", "sqlite", [(INSTALL, "2026-03-25", "1.1.0")]),
}
# (category, day, version, hour)
OPENWISP = [
    (HEARTBEAT, "2026-01-02", "24.11.0", 10),
    (HEARTBEAT, "2026-01-02", "24.11.0", 14),
    (HEARTBEAT, "2026-01-03", "24.11.0", 12),
    (HEARTBEAT, "2026-01-03", "25.0.0", 12),
    (HEARTBEAT, "2026-01-05", "24.11.0", 12),
    (HEARTBEAT, "2026-01-06", "24.11.0", 12),
    (INSTALL, "2026-01-05", "24.11.0", 12),
]


def instance_id(name: str) -> str:
    """A fixed UUID4-shaped id per instance letter."""
    return f"00000000-0000-4000-8000-0000000000{ord(name):02x}"


def uploads() -> list[dict]:
    """Every upload of the population, in the order above (the re-send last)."""
    found = []
    for name, (method, backend, reports) in INSTANCES.items():
        for category, day, version in reports:
            found.append(
                fleetwatch_upload(
                    category, d(day), instance_id(name), version, method=method, backend=backend
                )
            )
    for category, day, version, hour in OPENWISP:
        found.append(openwisp_upload(category, d(day), version, hour=hour))
    found.append(found[1])  # A's Heartbeat of 01-13 again
    return found


def post_population(client: Client | None = None) -> None:
    """Post every upload to ``POST /api/v1/usage/collect/``; each must be a 204."""
    client = client or Client()
    for body in uploads():
        answer = client.post("/api/v1/usage/collect/", json.dumps(body), content_type="application/json")
        assert answer.status_code == 204, answer.content
