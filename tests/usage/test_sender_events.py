"""When the sender reports (reference usage-metrics C.4) and the once-a-day promise (C.7):
Install, Upgrade and Heartbeat detection against the stored snapshot, the post_migrate trigger,
the dedupe, the opt-out, and nothing queued while switched off or in DEBUG."""

from __future__ import annotations

import platform
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

import fleetwatch
from fleetwatch.usage import payload
from fleetwatch.usage.collector import ingest
from fleetwatch.usage.models import Consent, Outbox, SentEvent, VersionSnapshot
from fleetwatch.usage.sender import events, facts

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 1796126400
DAY = timedelta(days=1)


@pytest.fixture
def sender(settings, db, monkeypatch):
    settings.FLEETWATCH_USAGE_METRICS = True
    settings.DEBUG = False
    settings.FLEETWATCH_USAGE_SITE_ID = 7
    monkeypatch.setattr(fleetwatch, "__version__", "0.1.0")


def categories():
    return list(Outbox.objects.order_by("id").values_list("category", flat=True))


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        ({"Fleetwatch Version": "0.1.0"}, None, (True, False)),
        ({"Fleetwatch Version": "0.1.0"}, {"Fleetwatch Version": "0.1.0"}, (False, False)),
        ({"Fleetwatch Version": "0.2.0"}, {"Fleetwatch Version": "0.1.0"}, (False, True)),
        ({"Fleetwatch Version": "0.10.0"}, {"Fleetwatch Version": "0.9.0"}, (False, True)),  # not by text
        ({"Fleetwatch Version": "1.0.0"}, {"Fleetwatch Version": "1.0.0rc1"}, (False, True)),
        ({"Fleetwatch Version": "0.1.0"}, {"Fleetwatch Version": "0.2.0"}, (False, False)),  # downgrade
        ({"a": "1", "fleetwatch-agent": "0.1.0"}, {"a": "1"}, (False, True)),  # a new module
        ({"a": "1"}, {"a": "1", "fleetwatch-agent": "0.1.0"}, (False, False)),  # a module gone
        ({"kernel_version": "5.15.0"}, {"kernel_version": "6.1.0"}, (False, True)),  # OS: any change
        ({"os_version": "Debian 12"}, {"os_version": "Debian 11"}, (False, True)),
        ({"hardware_platform": "aarch64"}, {"hardware_platform": "x86_64"}, (False, True)),
        ({"a": "build-7"}, {"a": "build-6"}, (False, True)),  # not a version: a change counts
    ],
)
def test_detect(current, previous, expected):
    assert events.detect(current, previous) == expected


def content(events: list[dict]) -> str:
    """The sender's key of a payload's events: their digest without timestamps."""
    return payload.digest(7, events[0]["category"], events, timestamps=False)


def test_the_digest_leaves_the_timestamps_out_and_nothing_else():
    first = [payload.event("Heartbeat", "a", "1", 100), payload.event("Heartbeat", "b", "2", 100)]
    later = [payload.event("Heartbeat", "b", "2", 200), payload.event("Heartbeat", "a", "1", 200)]
    other = [payload.event("Heartbeat", "a", "1", 100), payload.event("Heartbeat", "b", "3", 100)]
    assert content(first) == content(later)
    assert content(first) != content(other)
    assert len(content(first)) == 64
    # The collector's key for uploads without an instance id keeps them; site and category count.
    assert payload.digest(7, "Heartbeat", first, timestamps=True) != payload.digest(
        7, "Heartbeat", later, timestamps=True
    )
    assert content(first) != payload.digest(8, "Heartbeat", first, timestamps=False)
    assert content(first) != payload.digest(7, "Upgrade", first, timestamps=False)


def test_the_sender_keys_a_payload_as_the_collector_will(sender):
    outbox = events.report(payload.HEARTBEAT, now=NOON)
    [group] = ingest.parse(outbox.payload, now=NOON)
    assert SentEvent.objects.get().digest == group.digest()


def test_the_first_report_is_an_install_with_every_fact(sender):
    row = events.report(payload.HEARTBEAT, now=NOON)
    consent = Consent.objects.get()
    assert uuid.UUID(consent.instance_id).version == 4
    assert row.category == "Install"
    assert row.payload == {
        "idsite": 7,
        "events": [
            {
                "category": "Install",
                "action": action,
                "name": name,
                "value": 1,
                "times": 1,
                "period_start": 1796126400,
                "period_end": 1796126400,
            }
            for action, name in facts.facts(consent.instance_id)
        ],
    }
    assert row.payload["events"][0]["action"] == "Fleetwatch Version"
    assert row.payload["events"][0]["name"] == "0.1.0"
    assert row.payload["events"][-1]["action"] == "Instance ID"
    assert row.payload["events"][-1]["name"] == consent.instance_id
    assert VersionSnapshot.objects.get().versions == facts.versions()
    assert (row.attempts, row.next_attempt) == (0, NOON)


def test_then_heartbeats_then_an_upgrade_relabels_the_heartbeat(sender, monkeypatch):
    assert events.report(payload.INSTALL, now=NOON).category == "Install"
    assert events.report(payload.HEARTBEAT, now=NOON + DAY).category == "Heartbeat"
    monkeypatch.setattr(fleetwatch, "__version__", "0.2.0")
    upgrade = events.report(payload.HEARTBEAT, now=NOON + 2 * DAY)
    assert upgrade.category == "Upgrade"
    assert {e["name"] for e in upgrade.payload["events"] if e["action"] == "Fleetwatch Version"} == {"0.2.0"}
    assert {e["category"] for e in upgrade.payload["events"]} == {"Upgrade"}  # the full snapshot
    assert VersionSnapshot.objects.count() == 2
    # A migrate afterwards finds nothing new: an Upgrade asked for sends nothing.
    assert events.report(payload.UPGRADE, now=NOON + 2 * DAY) is None
    assert events.report(payload.HEARTBEAT, now=NOON + 3 * DAY).category == "Heartbeat"
    assert categories() == ["Install", "Heartbeat", "Upgrade", "Heartbeat"]


def test_an_os_change_is_an_upgrade_and_a_downgrade_is_not(sender, monkeypatch):
    events.report(payload.HEARTBEAT, now=NOON)
    monkeypatch.setattr(platform, "release", lambda: "1.0.0-old")
    assert events.report(payload.UPGRADE, now=NOON + DAY).category == "Upgrade"
    monkeypatch.setattr(fleetwatch, "__version__", "0.0.9")
    assert events.report(payload.UPGRADE, now=NOON + 2 * DAY) is None
    assert events.report(payload.HEARTBEAT, now=NOON + 2 * DAY).category == "Heartbeat"
    assert VersionSnapshot.objects.count() == 2


def test_an_install_asked_for_on_a_known_database_sends_nothing(sender):
    events.report(payload.INSTALL, now=NOON)
    assert events.report(payload.INSTALL, now=NOON + DAY) is None
    assert categories() == ["Install"]


def test_once_a_day_per_category_and_content(sender, settings):
    events.report(payload.HEARTBEAT, now=NOON)  # the install
    first = events.report(payload.HEARTBEAT, now=NOON + DAY)
    assert events.report(payload.HEARTBEAT, now=NOON + DAY + timedelta(hours=11)) is None
    again = events.report(payload.HEARTBEAT, now=NOON + 2 * DAY)
    assert (first.category, again.category) == ("Heartbeat", "Heartbeat")
    assert content(first.payload["events"]) == content(again.payload["events"])
    # Same day, other content (the install method changed): a second heartbeat that day.
    settings.FLEETWATCH_INSTALL_METHOD = "docker"
    assert events.report(payload.HEARTBEAT, now=NOON + 2 * DAY).category == "Heartbeat"
    assert list(SentEvent.objects.order_by("id").values_list("category", "day")) == [
        ("Install", date(2026, 12, 1)),
        ("Heartbeat", date(2026, 12, 2)),
        ("Heartbeat", date(2026, 12, 3)),
        ("Heartbeat", date(2026, 12, 3)),
    ]
    assert Outbox.objects.count() == 4


def test_the_day_is_the_utc_day(sender):
    events.report(payload.HEARTBEAT, now=NOON)
    late = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    assert events.report(payload.HEARTBEAT, now=late).category == "Heartbeat"
    assert events.report(payload.HEARTBEAT, now=late + timedelta(hours=1)).category == "Heartbeat"  # Dec 3


def test_post_migrate_install_on_a_new_database_else_upgrade(sender, monkeypatch):
    loader = MigrationLoader(connection)
    first = loader.get_migration("contenttypes", "0001_initial")
    later = loader.get_migration("usage", "0002_sender")
    assert events.is_install([(first, False), (later, False)]) is True
    assert events.is_install([(first, True)]) is False  # unapplied: not an install
    assert events.is_install([(later, False)]) is False
    assert events.is_install([]) is False
    events.migrated(sender=None, plan=[(first, False), (later, False)])
    events.migrated(sender=None, plan=[])  # migrate again, nothing changed
    events.migrated(sender=None)  # a flush (no plan): not a migration
    assert categories() == ["Install"]
    monkeypatch.setattr(fleetwatch, "__version__", "0.2.0")
    events.migrated(sender=None, plan=[(later, False)])
    assert categories() == ["Install", "Upgrade"]


def test_the_receiver_is_connected_to_the_usage_apps_post_migrate():
    from django.apps import apps
    from django.db.models.signals import post_migrate

    usage = apps.get_app_config("usage")
    assert post_migrate.disconnect(sender=usage, dispatch_uid="fleetwatch-usage-migrated") is True
    post_migrate.connect(events.migrated, sender=usage, dispatch_uid="fleetwatch-usage-migrated")


@pytest.mark.parametrize("switch", ["debug", "off"])
def test_nothing_is_queued_in_debug_or_when_switched_off(sender, settings, switch):
    if switch == "debug":
        settings.DEBUG = True
    else:
        settings.FLEETWATCH_USAGE_METRICS = False
    loader = MigrationLoader(connection)
    events.migrated(sender=None, plan=[(loader.get_migration("contenttypes", "0001_initial"), False)])
    assert events.report(payload.HEARTBEAT, now=NOON) is None
    assert (Outbox.objects.count(), SentEvent.objects.count(), VersionSnapshot.objects.count()) == (0, 0, 0)


def test_withdrawing_queues_one_opt_out_and_then_nothing(sender):
    events.report(payload.HEARTBEAT, now=NOON)
    old = Consent.objects.get().instance_id
    withdrawn = events.set_consent(False, now=NOON + timedelta(hours=1))
    at = 1796126400 + 3600
    assert withdrawn.payload == {
        "idsite": 7,
        "events": [
            {
                "category": "Consent Withdrawn",
                "action": "Action",
                "name": "Opt-out",
                "value": 1,
                "times": 1,
                "period_start": at,
                "period_end": at,
            },
            {
                "category": "Consent Withdrawn",
                "action": "Instance ID",
                "name": old,
                "value": 1,
                "times": 1,
                "period_start": at,
                "period_end": at,
            },
        ],
    }
    # The install still waiting is not sent after the opt-out.
    assert categories() == ["Consent Withdrawn"]
    consent = Consent.objects.get()
    assert (consent.user_consented, consent.instance_id) == (False, "")
    assert events.set_consent(False, now=NOON + timedelta(hours=2)) is None
    assert events.report(payload.HEARTBEAT, now=NOON + DAY) is None
    assert categories() == ["Consent Withdrawn"]


def test_consenting_again_makes_a_new_instance_id(sender):
    events.report(payload.HEARTBEAT, now=NOON)
    old = Consent.objects.get().instance_id
    events.set_consent(False, now=NOON)
    assert events.set_consent(True, now=NOON + DAY) is None
    new = Consent.objects.get().instance_id
    assert new != old
    assert uuid.UUID(new).version == 4
    heartbeat = events.report(payload.HEARTBEAT, now=NOON + DAY)
    assert heartbeat.category == "Heartbeat"
    assert heartbeat.payload["events"][-1] == {
        "category": "Heartbeat",
        "action": "Instance ID",
        "name": new,
        "value": 1,
        "times": 1,
        "period_start": 1796126400 + 86400,
        "period_end": 1796126400 + 86400,
    }


def test_withdrawing_in_debug_records_the_answer_and_sends_nothing(sender, settings):
    Consent.load()
    settings.DEBUG = True
    assert events.set_consent(False, now=NOON) is None
    assert Consent.objects.get().user_consented is False
    assert Outbox.objects.count() == 0


def test_an_unknown_category_is_refused(sender):
    with pytest.raises(ValueError, match="not a report category: 'Consent Withdrawn'"):
        events.report(payload.CONSENT_WITHDRAWN)
