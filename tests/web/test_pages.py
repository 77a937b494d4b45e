"""Web pages given malformed ids and filters: 400 or 404, never a 500."""

import uuid
from datetime import UTC, datetime

import pytest

from fleetwatch.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/devices/not-a-uuid/", "/devices/12/", f"/devices/{uuid.uuid4()}/", "/devices/%00/"],
)
def test_a_device_page_of_a_malformed_or_unknown_id_is_404(client, bob, path):
    client.force_login(bob)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("query", ["org=a%20b", "org=%00", "q=ap%00", "q=%0D"])
def test_a_malformed_fleet_filter_is_400(client, bob, device_a, query):
    client.force_login(bob)
    assert client.get(f"/?{query}").status_code == 400


def test_well_formed_fleet_filters_still_filter(client, bob, device_a):
    client.force_login(bob)
    assert device_a.name.encode() in client.get("/?org=org-a&q=lobby").content
    assert device_a.name.encode() not in client.get("/?org=org-b").content


@pytest.mark.parametrize("bad_id", ["abc", "\x00", "1.5", "-1", "9" * 20, "9" * 5000])
def test_marking_a_notification_read_with_a_malformed_id_is_400(client, alice, device_a, bad_id):
    notification = Notification.objects.create(
        user=alice, organization=device_a.organization, kind="problem", title="t", time=datetime.now(UTC)
    )
    client.force_login(alice)
    assert client.post("/notifications/", {"action": "read", "id": bad_id}).status_code == 400
    assert client.post("/notifications/", {"action": "read", "id": notification.pk}).status_code == 302
    notification.refresh_from_db()
    assert notification.read_at is not None
