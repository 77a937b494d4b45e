"""Server administration of the Elasticsearch backend: the namespace's index template (and, with
ILM, a delete policy and template per tier), and which time-based index each point goes to.

Where the server has ILM (not in the minimal distribution), indices get a delete policy per tier
as a safety net that acts a full period after the retention floor; ``ilm`` is ``auto`` (use it
if present), true (require it) or false.
"""

from __future__ import annotations

import threading

from fleetwatch.timeseries.backend import flag
from fleetwatch.timeseries.backends.elasticsearch import layout
from fleetwatch.timeseries.backends.elasticsearch.documents import Pending
from fleetwatch.timeseries.backends.elasticsearch.transport import Transport
from fleetwatch.timeseries.errors import ConfigurationError

MICROS_PER_DAY = 86_400_000_000  # index names depend only on a point's UTC day
ILM_CHOICES = ("auto", "1", "true", "yes", "on", "0", "false", "no", "off")


def check_ilm(option) -> str:
    """The ``ilm`` option, lower-cased; ``ConfigurationError`` unless auto, true or false."""
    ilm = str(option).lower()
    if ilm not in ILM_CHOICES:
        raise ConfigurationError(f"elasticsearch option ilm must be auto, true or false, not {ilm}")
    return ilm


class Indices:
    """The indices of one namespace (``layout``), and the names this process knows exist."""

    def __init__(self, transport: Transport, names: layout.Layout, ilm: str = "auto"):
        self.transport = transport
        self.layout = names
        self.ilm = check_ilm(ilm)
        self.lock = threading.Lock()
        self.ready = False
        self.known: dict[str, set[str]] = {}  # tier → index names known to exist

    def use_ilm(self, node: dict) -> bool:
        if self.ilm != "auto" and not flag(self.ilm):
            return False
        available = any(module.get("name") == "x-pack-ilm" for module in node.get("modules", []))
        if self.ilm != "auto" and not available:
            raise ConfigurationError("elasticsearch option ilm=true, but the server has no ILM")
        return available

    def setup(self, retention: dict[str, int]) -> None:
        """One index template for the namespace (plus, with ILM, a policy and template per tier
        of ``retention``, ``{tier: seconds}``); once, until ``reset``."""
        if self.ready:
            return
        ns = self.layout.namespace
        client = self.transport.client
        with self.transport.errors():
            use_ilm = self.use_ilm(self.transport.node())
            client.indices.put_index_template(
                name=ns, body=layout.template([self.layout.all_pattern], layout.TEMPLATE_PRIORITY)
            )
            if use_ilm:
                for tier, seconds in retention.items():
                    name = self.layout.tier_prefix(tier)[:-1]
                    policy = layout.lifecycle_policy(seconds, layout.unit_for(seconds))
                    client.ilm.put_lifecycle(name=name, policy=policy)
                    body = layout.template(
                        [self.layout.tier_pattern(tier)], layout.TEMPLATE_PRIORITY + 1, name
                    )
                    client.indices.put_index_template(name=name, body=body)
        self.ready = True

    def reset(self) -> None:
        """Set the templates and policies up again on next use (the tiers changed)."""
        self.ready = False

    def forget(self, names=None) -> None:
        """Forget that the named indices exist (all of them when ``names`` is None)."""
        with self.lock:
            if names is None:
                self.known.clear()
            else:
                for known in self.known.values():
                    known.difference_update(names)

    def route(self, pending: list[Pending], retention: dict[str, int]) -> None:
        """Pick each point's index: an existing index covering its time (daily before monthly),
        else a new one of the tier's current period. Existing indices win so a point rewritten
        after a tier's period changed (its retention crossed two weeks) is not stored twice.
        Index names depend only on a point's UTC day, so the choice is made once per tier and day."""
        by_tier: dict[str, dict[int, list[Pending]]] = {}
        for p in pending:
            days = by_tier.setdefault(p.tier, {})
            day = p.micros // MICROS_PER_DAY
            same_day = days.get(day)
            if same_day is None:
                days[day] = [p]
            else:
                same_day.append(p)
        for tier, days in by_tier.items():
            with self.lock:
                cached = self.known.get(tier)
            known = set(cached) if cached is not None else None
            if known is None:
                known = set(self.transport.list_indices(self.layout.tier_pattern(tier)))
            elif any(not self.existing(known, tier, points[0].micros) for points in days.values()):
                # A new period, or one another process has started since we last looked.
                known = set(self.transport.list_indices(self.layout.tier_pattern(tier)))
            unit = layout.unit_for(retention[tier])
            for points in days.values():
                micros = points[0].micros
                index = self.existing(known, tier, micros)
                if not index:
                    daily, monthly = self.layout.index_names(tier, micros)
                    index = daily if unit == "d" else monthly
                    known.add(index)  # the first write creates it from the template
                for p in points:
                    p.index = index
            with self.lock:
                self.known[tier] = known

    def existing(self, known: set[str], tier: str, micros: int) -> str:
        daily, monthly = self.layout.index_names(tier, micros)
        return daily if daily in known else monthly if monthly in known else ""
