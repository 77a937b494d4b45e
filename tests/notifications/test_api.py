"""Notifications, webhooks, maintenance windows and status history over the API: each user sees
their own notifications, administrators manage their organization's hooks and windows, and
another organization's rows are 404 (or 403 for a member who may see but not change)."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from fleetwatch.monitoring.models import StatusChange
from fleetwatch.notifications.models import MaintenanceWindow, Notification, Webhook

pytestmark = pytest.mark.django_db
NOW = datetime.now(UTC).replace(microsecond=0)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def notify(user, org, device, kind="problem", minutes=0):
    return Notification.objects.create(
        user=user,
        organization=org,
        device=device,
        kind=kind,
        title=f"{device.name}: Ping {kind}",
        time=NOW + timedelta(minutes=minutes),
    )


def test_users_see_and_mark_only_their_own_notifications(orgs, alice, bob, charlie, device_a):
    mine = notify(alice, orgs[0], device_a)
    notify(alice, orgs[0], device_a, "recovery", 5)
    theirs = notify(bob, orgs[0], device_a)
    client = api(alice)
    listed = client.get("/api/v1/notifications/").json()
    assert listed["count"] == 2
    assert [n["kind"] for n in listed["results"]] == ["recovery", "problem"]
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}
    assert client.post(f"/api/v1/notifications/{mine.pk}/read/").json()["read_at"] is not None
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    assert [n["kind"] for n in client.get("/api/v1/notifications/?unread=1").json()["results"]] == [
        "recovery"
    ]
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    # Someone else's notification does not exist for alice; charlie sees none of org A's.
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    assert api(charlie).get("/api/v1/notifications/").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    assert api(charlie).get(f"/api/v1/notifications/{mine.pk}/").status_code == 404
    assert APIClient().get("/api/v1/notifications/").status_code == 401


def test_preferences_are_per_user(alice, bob):
    assert api(alice).get("/api/v1/notifications/preferences/").json() == {"web": True, "email": True}
    assert api(alice).put("/api/v1/notifications/preferences/", {"email": False}, format="json").json() == {
        "web": True,
        "email": False,
    }
    assert api(bob).get("/api/v1/notifications/preferences/").json() == {"web": True, "email": True}
    response = api(alice).put("/api/v1/notifications/preferences/", {"email": "perhaps"}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "email: Must be a valid boolean.", "errors": {"email": ["Must be a valid boolean."]}},
    )


def test_webhooks_and_their_deliveries_are_for_administrators_of_their_organization(
    orgs, alice, bob, charlie, settings
):
    settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = True  # the hooks below point to loopback
    created = api(alice).post(
        "/api/v1/notifications/webhooks/",
        {"organization": str(orgs[0].pk), "name": "pager", "url": "http://127.0.0.1:9/hook"},
        format="json",
    )
    assert created.status_code == 201
    hook = created.json()
    assert len(hook["secret"]) == 48
    assert api(alice).get(f"/api/v1/notifications/webhooks/{hook['id']}/deliveries/").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    # A member of the organization does not see its webhooks (their secrets) at all …
    assert api(bob).get("/api/v1/notifications/webhooks/").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    assert api(bob).get(f"/api/v1/notifications/webhooks/{hook['id']}/").status_code == 404
    # … an administrator of another organization neither, and cannot create one for org A.
    assert api(charlie).get(f"/api/v1/notifications/webhooks/{hook['id']}/deliveries/").status_code == 404
    denied = api(charlie).post(
        "/api/v1/notifications/webhooks/",
        {"organization": str(orgs[0].pk), "name": "x", "url": "http://127.0.0.1:9/"},
        format="json",
    )
    # Not charlie's organization: answered as an unknown id (tests/api/test_contract.py).
    message = f'Invalid pk "{orgs[0].pk}" - object does not exist.'
    assert (denied.status_code, denied.json()["errors"]) == (400, {"organization": [message]})
    bad = api(alice).post(
        "/api/v1/notifications/webhooks/",
        {"organization": str(orgs[0].pk), "name": "x", "url": "not a url"},
        format="json",
    )
    assert (bad.status_code, bad.json()["errors"]) == (
        400,
        {"url": ["Webhook URLs start with http:// or https://.", "Enter a valid URL."]},
    )
    assert Webhook.objects.count() == 1


def test_maintenance_windows(orgs, alice, bob, charlie, device_a, device_b):
    body = {
        "organization": str(orgs[0].pk),
        "device": str(device_a.pk),
        "start": NOW.isoformat(),
        "end": (NOW + timedelta(hours=2)).isoformat(),
        "reason": "upgrade",
    }
    created = api(alice).post("/api/v1/notifications/maintenance/", body, format="json")
    assert created.status_code == 201
    window = created.json()
    assert [
        w["reason"]
        for w in api(bob)
        .get(f"/api/v1/notifications/maintenance/?device={device_a.pk}&active=1")
        .json()["results"]
    ] == ["upgrade"]
    assert api(bob).delete(f"/api/v1/notifications/maintenance/{window['id']}/").status_code == 403
    assert api(charlie).get(f"/api/v1/notifications/maintenance/{window['id']}/").status_code == 404
    # Neither org A nor its device exists for charlie: both are unknown ids.
    denied = api(charlie).post("/api/v1/notifications/maintenance/", body, format="json")
    assert (denied.status_code, denied.json()["errors"]) == (
        400,
        {
            "organization": [f'Invalid pk "{orgs[0].pk}" - object does not exist.'],
            "device": [f'Invalid pk "{device_a.pk}" - object does not exist.'],
        },
    )
    backwards = api(alice).post(
        "/api/v1/notifications/maintenance/",
        {**body, "end": (NOW - timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert backwards.status_code == 400
    assert backwards.json() == {
        "detail": "end: The end must be after the start.",
        "errors": {"end": ["The end must be after the start."]},
    }
    foreign = api(alice).post(
        "/api/v1/notifications/maintenance/", {**body, "device": str(device_b.pk)}, format="json"
    )
    # A device of an organization alice does not belong to: as an unknown id.
    assert foreign.status_code == 400
    assert foreign.json() == {
        "detail": f'device: Invalid pk "{device_b.pk}" - object does not exist.',
        "errors": {"device": [f'Invalid pk "{device_b.pk}" - object does not exist.']},
    }
    assert MaintenanceWindow.objects.count() == 1


def test_health_status_and_its_history(alice, charlie, device_a):
    StatusChange.objects.create(device=device_a, previous="unknown", status="ok", time=NOW, reason="Ping: 1")
    StatusChange.objects.create(
        device=device_a, previous="ok", status="critical", time=NOW + timedelta(minutes=5), reason="Ping: 0"
    )
    history = api(alice).get(f"/api/v1/monitoring/device/{device_a.pk}/status-history/").json()["results"]
    assert [(h["previous"], h["status"]) for h in history] == [("ok", "critical"), ("unknown", "ok")]
    assert api(charlie).get(f"/api/v1/monitoring/device/{device_a.pk}/status-history/").status_code == 404
    assert api(alice).get(f"/api/v1/inventory/devices/{device_a.pk}/").json()["health_status"] == "unknown"
    device_a.is_active = False
    device_a.save()
    assert (
        api(alice).get(f"/api/v1/inventory/devices/{device_a.pk}/").json()["health_status"] == "deactivated"
    )
