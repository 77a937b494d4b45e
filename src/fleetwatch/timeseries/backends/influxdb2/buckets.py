"""Server administration of the InfluxDB 2.x backend: one bucket per retention tier, and its two
rollup buckets.

The default tier is the bucket ``<namespace>``, every other tier ``<namespace>_<tier>``; a tier's
hourly and daily rollups (see ``downsampling``) live in ``<bucket>:1h`` and ``<bucket>:1d``. A
bucket is created on first use with the tier's duration as its retention rule (none with
``server_retention=false``), its rule updated when the tier's duration changes, and every
bucket of the namespace deleted by ``drop``. Each bucket's description names its namespace and
tier, so a flush also finds buckets of tiers no longer configured.
"""

from __future__ import annotations

import threading

from fleetwatch.timeseries.backends.influxdb2.client import Influx2Client
from fleetwatch.timeseries.errors import TimeseriesError

HOUR = 3600
DAY = 86400
DESCRIPTION = "fleetwatch:{namespace}:{tier}"
ROLLUP_SUFFIXES = (":1h", ":1d")  # hourly and daily rollups (see ``downsampling``)


class Buckets:
    """The buckets of one namespace, with the durations already applied on the server (so
    ``ensure`` costs nothing once they are in place)."""

    def __init__(self, server: Influx2Client, namespace: str, server_retention: bool = True):
        self.server = server
        self.namespace = namespace
        self.server_retention = server_retention
        self.lock = threading.Lock()
        self.applied: dict[str, int] = {}  # tier → duration applied on the server
        # Tiers whose rollup buckets were just created next to a raw bucket that already
        # existed (a store older than rollups): the backend builds their rollups once.
        self.unbuilt: set[str] = set()
        # Tiers whose raw bucket was just created: the backend records their first horizon.
        self.fresh: set[str] = set()

    def name(self, tier: str) -> str:
        return self.namespace if tier == "default" else f"{self.namespace}_{tier}"

    def rollup_name(self, tier: str, every: str) -> str:
        """The bucket of a tier's rollups of one step (``every``: ``"1h"`` or ``"1d"``)."""
        return f"{self.name(tier)}:{every}"

    def rules(self, seconds: int) -> list:
        every = max(seconds, HOUR) if self.server_retention else 0
        return [{"type": "expire", "everySeconds": every}]

    def ensure(self, tiers: dict[str, int]) -> None:
        """Create or update each tier's bucket (``{tier: seconds}``) not yet in place."""
        if self.applied == tiers:
            return
        with self.lock:
            org_id = self.server.org_id()
            for tier, seconds in tiers.items():
                if self.applied.get(tier) == seconds:
                    continue
                rules = self.rules(seconds)
                raw_existed = self._ensure_bucket(self.name(tier), tier, rules, org_id)
                # A rollup point is stamped with its unit's start, up to a day before the raw
                # points it sums: its bucket keeps a day more, or the server would refuse the
                # units that straddle the raw bucket's retention bound. Charts never read a unit
                # older than the tier's floor, so the extra day is never seen.
                rollup_rules = self.rules(seconds + DAY)
                created = [
                    not self._ensure_bucket(self.name(tier) + suffix, tier + suffix, rollup_rules, org_id)
                    for suffix in ROLLUP_SUFFIXES
                ]
                if raw_existed and any(created):
                    self.unbuilt.add(tier)
                if not raw_existed:
                    self.fresh.add(tier)
                self.applied[tier] = seconds
            for tier in list(self.applied):
                if tier not in tiers:
                    del self.applied[tier]

    def _ensure_bucket(self, name: str, tier: str, rules: list, org_id: str) -> bool:
        """Create bucket ``name`` with ``rules``, or update its rules; whether it existed."""
        found = self.find(name, org_id)
        if found:
            existing = found[0]
            current = [r.get("everySeconds", 0) for r in existing.get("retentionRules") or []] or [0]
            if current != [rules[0]["everySeconds"]]:
                self.server.api(
                    f"updating bucket {name}", "PATCH", f"/api/v2/buckets/{existing['id']}",
                    body={"retentionRules": rules},
                )  # fmt: skip
            return True
        body = {
            "orgID": org_id,
            "name": name,
            "retentionRules": rules,
            "description": DESCRIPTION.format(namespace=self.namespace, tier=tier),
        }
        try:
            self.server.api(f"creating bucket {name}", "POST", "/api/v2/buckets", body=body)
        except TimeseriesError as exc:
            if "already exists" not in str(exc):  # a race with another process: fine
                raise
            return True
        return False

    def find(self, name: str, org_id: str) -> list:
        # A 404 is what InfluxDB answers when no bucket has that name.
        found = self.server.api(
            f"finding bucket {name}", "GET", "/api/v2/buckets", {"name": name, "orgID": org_id}
        )
        return (found or {}).get("buckets") or []

    def forget(self) -> None:
        """Assume nothing is in place (the next ``ensure`` checks every bucket again)."""
        self.applied = {}

    def drop(self, tiers) -> None:
        """Delete the buckets of ``tiers`` and every other bucket of this namespace."""
        org_id = self.server.org_id()
        names = {self.name(tier) + suffix for tier in tiers for suffix in ("", *ROLLUP_SUFFIXES)}
        prefix = DESCRIPTION.format(namespace=self.namespace, tier="")
        buckets, offset = [], 0
        while True:
            page = self.server.api(
                "listing buckets",
                "GET",
                "/api/v2/buckets",
                {"orgID": org_id, "limit": 100, "offset": offset},
            )
            found = (page or {}).get("buckets") or []
            buckets += found
            if len(found) < 100:
                break
            offset += 100
        for found in buckets:
            if found["name"] in names or (found.get("description") or "").startswith(prefix):
                self.server.api(
                    f"deleting bucket {found['name']}", "DELETE", f"/api/v2/buckets/{found['id']}"
                )
        self.applied = {}
