"""When Fleetwatch reports, and the once-a-day promise (reference usage-metrics C.4, C.7).

- ``report(category)``: an Install, Upgrade or Heartbeat. The versions of ``facts.versions()``
  are compared with the newest ``VersionSnapshot`` (``detect``): none stored is an install; a
  module new, or its version greater (``packaging.version``), or an OS key different, is an
  upgrade, and a new snapshot is stored. A Heartbeat is sent as Install or Upgrade when one is
  detected (migrate not run, or run while metrics were off); an Install or Upgrade asked for
  with nothing detected sends nothing.
- ``migrated``: the ``post_migrate`` receiver: Install when the plan began with
  ``contenttypes.0001_initial`` applied forward (a brand-new database), else Upgrade.
- ``set_consent(False)``: consent withdrawn; one ``Consent Withdrawn`` payload (the opt-out
  event and the instance id), sent although consent is now off, so the collector can tell an
  opt-out from an abandoned deployment; the instance id is forgotten and payloads still waiting
  are dropped. ``set_consent(True)`` makes a new instance id and sends nothing.

Nothing is queued while ``enabled()`` is false (``FLEETWATCH_USAGE_METRICS=false`` or
``DEBUG``). A payload is queued (``Outbox``) with its ``SentEvent`` in one transaction: at most
one per (category, ``payload.digest`` of its content without timestamps, UTC day), even for two
workers at once (the unique constraint). ``delivery.flush()`` sends the queue.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from packaging.version import InvalidVersion, Version

from fleetwatch.usage import payload
from fleetwatch.usage.models import Consent, Outbox, SentEvent, VersionSnapshot, new_instance_id
from fleetwatch.usage.sender import facts

logger = logging.getLogger(__name__)

REQUESTS = (payload.INSTALL, payload.UPGRADE, payload.HEARTBEAT)


def enabled() -> bool:
    """Whether anything may be collected or sent: ``FLEETWATCH_USAGE_METRICS`` on, not DEBUG."""
    return settings.FLEETWATCH_USAGE_METRICS and not settings.DEBUG


def _greater(new: str, old: str) -> bool:
    try:
        return Version(new) > Version(old)
    except InvalidVersion:
        return new != old  # not a version we can order: any change counts


def detect(current: dict[str, str], previous: dict[str, str] | None) -> tuple[bool, bool]:
    """``(installed, upgraded)`` of ``current`` against the ``previous`` snapshot (C.4): no
    snapshot is an install; a key new, a version greater, or an OS key different is an upgrade.
    A lower version (a downgrade) or a key gone is neither."""
    if previous is None:
        return True, False
    for key, value in current.items():
        if key not in previous:
            return False, True
        if key in facts.OS_KEYS:
            if value != previous[key]:
                return False, True
        elif _greater(value, previous[key]):
            return False, True
    return False, False


def _queue(category: str, events: list[dict], now: datetime) -> Outbox | None:
    """The payload in the outbox with its ``SentEvent``; None when it was taken today already.
    Call inside a transaction."""
    site = settings.FLEETWATCH_USAGE_SITE_ID
    content = payload.digest(site, category, events, timestamps=False)
    key = {"category": category, "digest": content, "day": now.astimezone(UTC).date()}
    if SentEvent.objects.filter(**key).exists():
        return None
    SentEvent.objects.create(**key)
    return Outbox.objects.create(category=category, payload=payload.upload(site, events), next_attempt=now)


def report(requested: str, now: datetime | None = None) -> Outbox | None:
    """Queue an Install, Upgrade or Heartbeat (module docstring); returns the queued row, or
    None when nothing is to be sent (off, consent withdrawn, nothing detected, sent today)."""
    if requested not in REQUESTS:
        raise ValueError(f"not a report category: {requested!r}")
    if not enabled():
        return None
    now = now or timezone.now()
    try:
        with transaction.atomic():
            consent = Consent.objects.select_for_update().filter(pk=Consent.SINGLETON).first()
            consent = consent or Consent.load()
            if not consent.user_consented:
                return None
            current = facts.versions()
            previous = VersionSnapshot.objects.first()
            installed, upgraded = detect(current, previous.versions if previous else None)
            if installed:
                category = payload.INSTALL
            elif upgraded:
                category = payload.UPGRADE
            elif requested == payload.HEARTBEAT:
                category = payload.HEARTBEAT
            else:
                return None
            if installed or upgraded:
                VersionSnapshot.objects.create(versions=current)
            at = int(now.timestamp())
            events = [payload.event(category, a, n, at) for a, n in facts.facts(consent.instance_id)]
            return _queue(category, events, now)
    except IntegrityError:
        return None  # another run queued the same payload at the same moment


def set_consent(consented: bool, now: datetime | None = None) -> Outbox | None:
    """Apply a superuser's answer. Withdrawing queues the one ``Consent Withdrawn`` payload
    (returned; None when consent was already off, or nothing may be sent) and drops the
    payloads still waiting; consenting again makes a new instance id. No change: nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        consent = Consent.objects.select_for_update().filter(pk=Consent.SINGLETON).first()
        consent = consent or Consent.load()
        if consent.user_consented == consented:
            return None
        if consented:
            consent.user_consented, consent.instance_id = True, new_instance_id()
            consent.save(update_fields=["user_consented", "instance_id", "modified"])
            return None
        withdrawn_id = consent.instance_id
        consent.user_consented, consent.instance_id = False, ""
        consent.save(update_fields=["user_consented", "instance_id", "modified"])
        # Reports queued before the opt-out are not sent after it.
        Outbox.objects.exclude(category=payload.CONSENT_WITHDRAWN).delete()
        if not enabled():
            return None
        at = int(now.timestamp())
        events = [
            payload.event(payload.CONSENT_WITHDRAWN, payload.OPT_OUT_ACTION, payload.OPT_OUT_NAME, at),
            payload.event(payload.CONSENT_WITHDRAWN, payload.INSTANCE_ID, withdrawn_id, at),
        ]
        return _queue(payload.CONSENT_WITHDRAWN, events, now)


def is_install(plan) -> bool:
    """Whether a migrate ``plan`` (``[(Migration, backwards), ...]``) made a new database: its
    first step applies ``contenttypes.0001_initial`` forward (C.4)."""
    if not plan:
        return False
    migration, backwards = plan[0]
    return (migration.app_label, migration.name) == ("contenttypes", "0001_initial") and not backwards


def migrated(sender, plan=None, **kwargs) -> None:
    """``post_migrate`` receiver of the usage app: queue an Install or Upgrade. A flush (the
    signal without a plan) is no migration and queues nothing. Delivery is left to the
    outbox task, so ``migrate`` itself never waits on the network."""
    if plan is None or not enabled():
        return
    report(payload.INSTALL if is_install(plan) else payload.UPGRADE)
