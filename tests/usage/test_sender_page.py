"""The System information page and the opt-out (issue 16 acceptance): superusers only; unticking
the consent checkbox sends exactly one Consent Withdrawn payload to a real receiver and nothing
after it; consenting again makes a new instance id. The one-time notice."""

from __future__ import annotations

import re
import uuid

import pytest
from celery import current_app
from django.test import Client

import fleetwatch
from fleetwatch.celery import app as celery_app
from fleetwatch.usage import payload
from fleetwatch.usage.models import Consent, Outbox
from fleetwatch.usage.sender import events, facts, tasks
from fleetwatch.web.system import NOTICE
from tests.usage.sender_receiver import Receiver


@pytest.fixture
def sender(settings, monkeypatch):
    settings.FLEETWATCH_USAGE_METRICS = True
    settings.DEBUG = False
    settings.FLEETWATCH_INSTALL_METHOD = "pip"
    monkeypatch.setattr(fleetwatch, "__version__", "0.1.0")
    # The page queues the delivery with flush_outbox.delay(): a shared task runs on the current
    # Celery app, which the suite's broker tests (tests/tasks) leave set to an app of their own.
    previous = current_app._get_current_object()
    celery_app.set_current()
    yield
    previous.set_current()


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", password="pw")


def csrf_token(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def without_times(body: dict) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ("period_start", "period_end")} for e in body["events"]]


@pytest.mark.django_db(transaction=True)
def test_opting_out_sends_one_consent_withdrawn_and_nothing_after_it(sender, settings, monkeypatch, root):
    with Receiver() as receiver:
        settings.FLEETWATCH_USAGE_COLLECTOR_URL = receiver.url
        tasks.send_heartbeat()
        assert receiver.categories == ["Install"]
        instance = Consent.objects.get().instance_id

        client = Client(enforce_csrf_checks=True)
        client.force_login(root)
        page = client.get("/system/")
        assert page.status_code == 200
        assert '<input type="checkbox" name="user_consented" checked>' in page.content.decode()
        # Unticked: the browser sends no user_consented field.
        response = client.post("/system/", {"csrfmiddlewaretoken": csrf_token(page)})
        assert (response.status_code, response["Location"]) == (302, "/system/")

        assert receiver.categories == ["Install", "Consent Withdrawn"]
        withdrawn = receiver.bodies[1]
        assert withdrawn["idsite"] == 1
        assert without_times(withdrawn) == [
            {"category": "Consent Withdrawn", "action": "Action", "name": "Opt-out", "value": 1, "times": 1},
            {
                "category": "Consent Withdrawn",
                "action": "Instance ID",
                "name": instance,
                "value": 1,
                "times": 1,
            },
        ]
        first = withdrawn["events"][0]
        assert first["period_start"] == first["period_end"] == withdrawn["events"][1]["period_start"]
        consent = Consent.objects.get()
        assert (consent.user_consented, consent.instance_id) == (False, "")
        page = client.get("/system/")
        assert '<input type="checkbox" name="user_consented">' in page.content.decode()
        assert 'id="usage-preview"' not in page.content.decode()

        # Nothing after it: the daily heartbeat, an upgrade's migrate, the outbox task.
        tasks.send_heartbeat()
        monkeypatch.setattr(fleetwatch, "__version__", "0.2.0")
        events.migrated(sender=None, plan=[])
        tasks.send_heartbeat()
        tasks.flush_outbox()
        assert receiver.categories == ["Install", "Consent Withdrawn"]
        assert Outbox.objects.count() == 0

        # Consenting again: a new random instance id, and reports resume under it.
        response = client.post("/system/", {"csrfmiddlewaretoken": csrf_token(page), "user_consented": "on"})
        assert response.status_code == 302
        again = Consent.objects.get()
        assert again.user_consented is True
        assert again.instance_id != instance
        assert uuid.UUID(again.instance_id).version == 4
        assert receiver.categories == ["Install", "Consent Withdrawn"]
        tasks.send_heartbeat()
        assert receiver.categories == ["Install", "Consent Withdrawn", "Upgrade"]
        assert receiver.bodies[2]["events"][-1]["action"] == "Instance ID"
        assert receiver.bodies[2]["events"][-1]["name"] == again.instance_id


def test_anonymous_is_sent_to_the_login_page(client, db):
    response = client.get("/system/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/system/")
    response = client.post("/system/", {})
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/system/")


def test_a_non_superuser_gets_403_and_changes_nothing(client, sender, alice):
    consent = Consent.load()
    client.force_login(alice)
    page = client.get("/system/")
    assert page.status_code == 403
    assert 'id="error-page"' in page.content.decode()
    assert client.post("/system/", {}).status_code == 403
    after = Consent.objects.get()
    assert (after.user_consented, after.instance_id) == (True, consent.instance_id)
    assert Outbox.objects.count() == 0
    assert 'id="system-link"' not in client.get("/").content.decode()


def test_the_page_shows_what_is_sent(client, sender, settings, root, tmp_path):
    settings.TIMESERIES_DATABASE = f"sqlite:///{tmp_path / 'ts.sqlite3'}"
    client.force_login(root)
    assert 'id="system-link"' in client.get("/dashboard/").content.decode()
    text = client.get("/system/").content.decode()
    versions = facts.versions()
    assert '<td id="fleetwatch-version">0.1.0</td>' in text
    assert "<li><code>fleetwatch.backups</code> 0.1.0</li>" in text
    assert f'<td id="os-version">{versions[payload.OS_VERSION]}</td>' in text
    assert f'<td id="kernel-version">{versions[payload.KERNEL_VERSION]}</td>' in text
    assert f'<td id="hardware-platform">{versions[payload.HARDWARE_PLATFORM]}</td>' in text
    assert '<td id="timeseries-backend">sqlite</td>' in text
    assert '<td id="install-method">pip</td>' in text
    assert '<a href="#why">Why we collect</a>' in text
    assert "&quot;Instance ID&quot;" in text  # the next report, shown as it will be sent
    assert Consent.objects.get().instance_id in text
    assert 'id="usage-debug"' not in text


def test_switched_off_the_page_says_so_and_has_no_form(client, sender, settings, root):
    settings.FLEETWATCH_USAGE_METRICS = False
    client.force_login(root)
    text = client.get("/system/").content.decode()
    assert 'id="usage-off"' in text
    assert 'id="usage-consent"' not in text
    assert client.post("/system/", {}).status_code == 302
    assert Consent.objects.count() == 0
    assert Outbox.objects.count() == 0


def test_in_debug_the_answer_is_kept_and_nothing_is_sent(client, sender, settings, root):
    with Receiver() as receiver:
        settings.FLEETWATCH_USAGE_COLLECTOR_URL = receiver.url
        Consent.load()
        settings.DEBUG = True
        client.force_login(root)
        assert 'id="usage-debug"' in client.get("/system/").content.decode()
        assert client.post("/system/", {}).status_code == 302
        assert Consent.objects.get().user_consented is False
        assert receiver.requests == []


def test_the_notice_goes_once_to_the_first_superuser(client, sender, root, alice, django_user_model):
    client.force_login(alice)
    assert NOTICE not in client.get("/").content.decode()  # not a superuser: not shown, not used up
    client.force_login(root)
    assert NOTICE in client.get("/").content.decode()
    assert Consent.objects.get().shown_once is True
    assert NOTICE not in client.get("/").content.decode()
    other = Client()
    other.force_login(django_user_model.objects.create_superuser("admin2", password="pw"))
    assert NOTICE not in other.get("/dashboard/").content.decode()


def test_no_notice_while_switched_off(client, sender, settings, root):
    settings.FLEETWATCH_USAGE_METRICS = False
    client.force_login(root)
    assert NOTICE not in client.get("/").content.decode()
    assert Consent.objects.count() == 0
