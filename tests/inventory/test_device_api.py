"""/api/v1/inventory/devices/: members read, admins write, outsiders see nothing."""

import pytest
from django.core.management import call_command

from fleetwatch.inventory.models import Device

pytestmark = pytest.mark.django_db


def test_members_list_only_their_organizations_devices(client, bob, device_a, device_b):
    client.force_login(bob)
    names = [d["name"] for d in client.get("/api/v1/inventory/devices/").json()["results"]]
    assert names == ["ap-lobby"]
    assert client.get(f"/api/v1/inventory/devices/{device_b.pk}/").status_code == 404


def test_an_admin_creates_a_device_and_gets_its_key(client, alice, orgs):
    client.force_login(alice)
    response = client.post(
        "/api/v1/inventory/devices/",
        {"name": "ap-2", "organization": str(orgs[0].pk), "mac_address": "00-11-22-33-44-55"},
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["mac_address"] == "00:11:22:33:44:55"
    assert len(body["key"]) == 32
    assert Device.objects.get(pk=body["id"]).key == body["key"]


def test_writes_into_another_organization_are_refused(client, alice, charlie, orgs, device_a):
    client.force_login(alice)
    response = client.post(
        "/api/v1/inventory/devices/",
        {"name": "x", "organization": str(orgs[1].pk)},
        content_type="application/json",
    )
    # Not alice's organization: answered as an unknown id (tests/api/test_contract.py has all cases).
    message = f'Invalid pk "{orgs[1].pk}" - object does not exist.'
    assert (response.status_code, response.json()["errors"]) == (400, {"organization": [message]})
    client.force_login(charlie)
    assert client.delete(f"/api/v1/inventory/devices/{device_a.pk}/").status_code == 404
    assert (
        client.patch(
            f"/api/v1/inventory/devices/{device_a.pk}/", {"name": "hijacked"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert Device.objects.get(pk=device_a.pk).name == "ap-lobby"


def test_a_member_cannot_change_devices(client, bob, device_a):
    client.force_login(bob)
    response = client.patch(
        f"/api/v1/inventory/devices/{device_a.pk}/", {"name": "renamed"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_bad_mac_is_a_400_naming_the_field(client, alice, orgs):
    client.force_login(alice)
    response = client.post(
        "/api/v1/inventory/devices/",
        {"name": "x", "organization": str(orgs[0].pk), "mac_address": "zz"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()) == (
        400,
        {
            "detail": "mac_address: Enter a MAC address like 00:11:22:33:44:55.",
            "errors": {"mac_address": ["Enter a MAC address like 00:11:22:33:44:55."]},
        },
    )


def test_anonymous_requests_are_refused(client, device_a):
    assert client.get("/api/v1/inventory/devices/").status_code == 401


def test_the_cli_creates_organization_user_and_device(capsys):
    call_command("org", "create", "--name", "Demo Org")
    call_command(
        "user", "create", "--username", "demo", "--password", "pw", "--org", "demo-org", "--role", "admin"
    )
    call_command("device", "create", "--org", "demo-org", "--name", "router-1", "--mac", "00:11:22:33:44:55")
    out = capsys.readouterr().out
    device = Device.objects.get(name="router-1")
    assert f"id: {device.pk}" in out
    assert f"key: {device.key}" in out
    assert "token: " in out
