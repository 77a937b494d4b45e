"""The commands REST API for people (fleetwatch.messaging.api.views): administrators of the
device's organization only, exact answers per persona, the lifecycle's refusals as 400/409."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from fleetwatch.messaging import commands
from fleetwatch.messaging.models import Command

ADMINS_ONLY = {"detail": "Only an administrator of the organization may send commands or see them."}


def as_user(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_an_administrator_queues_and_reads_a_command(alice, device_a):
    client = as_user(alice)
    created = post(
        client, f"/api/v1/devices/{device_a.pk}/commands/", {"action": "exec", "argument": " df -h "}
    )
    assert created.status_code == 201
    body = created.json()
    command = Command.objects.get()
    assert body == {
        "id": str(command.pk),
        "device": str(device_a.pk),
        "device_name": "ap-lobby",
        "seq": 1,
        "action": "exec",
        "argument": "df -h",
        "status": "queued",
        "output": "",
        "output_truncated": False,
        "batch": None,
        "requested_by": "alice",
        "cancelled_by": None,
        "channel": "",
        "created": body["created"],
        "delivered": None,
        "finished": None,
        "expires": body["expires"],
    }
    commands.offer(device_a, "mqtt")
    commands.record_result(device_a, 1, "OK", "/dev/sda1 50%")
    listed = client.get(f"/api/v1/devices/{device_a.pk}/commands/").json()
    assert listed["count"] == 1
    assert "output" not in listed["results"][0]
    assert (listed["results"][0]["status"], listed["results"][0]["channel"]) == ("ok", "mqtt")
    detail = client.get(f"/api/v1/commands/{command.pk}/").json()
    assert (detail["status"], detail["output"]) == ("ok", "/dev/sda1 50%")


def test_personas_on_a_devices_commands(alice, bob, charlie, device_a):
    url = f"/api/v1/devices/{device_a.pk}/commands/"
    body = {"action": "test"}
    answers = {
        "member": (as_user(bob).get(url), post(as_user(bob), url, body)),
        "outsider": (as_user(charlie).get(url), post(as_user(charlie), url, body)),
        "anonymous": (as_user(None).get(url), post(as_user(None), url, body)),
    }
    got = {who: [(r.status_code, r.json()) for r in pair] for who, pair in answers.items()}
    assert got == {
        "member": [(403, ADMINS_ONLY)] * 2,
        "outsider": [(404, {"detail": "No such device."})] * 2,
        "anonymous": [(401, {"detail": "Authentication credentials were not provided."})] * 2,
    }
    assert Command.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"action": "exec"}, {"argument": ["exec needs a command line."]}),
        ({"action": "reboot", "argument": "now"}, {"argument": ["reboot takes no argument."]}),
        ({"action": "format"}, {"action": ['"format" is not a valid choice.']}),
        ({"argument": "x"}, {"action": ["This field is required."]}),
        (
            {"action": "logs", "argument": "/var/log/syslog 2048"},
            {"argument": ["logs: KiB must be between 1 and 1024, not 2048."]},
        ),
    ],
)
def test_a_refused_command_is_a_400_naming_the_field(alice, device_a, body, errors):
    response = post(as_user(alice), f"/api/v1/devices/{device_a.pk}/commands/", body)
    field, messages = next(iter(errors.items()))
    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"{field}: {messages[0]}", "errors": errors},
    )
    assert Command.objects.count() == 0


def test_cancel(alice, bob, device_a):
    command = commands.queue(device_a, "reboot", "", alice)
    url = f"/api/v1/commands/{command.pk}/cancel/"
    denied = post(as_user(bob), url)
    assert (denied.status_code, denied.json()) == (403, ADMINS_ONLY)
    done = post(as_user(alice), url)
    assert (done.status_code, done.json()["status"], done.json()["cancelled_by"]) == (
        200,
        "cancelled",
        "alice",
    )
    again = post(as_user(alice), url)
    assert (again.status_code, again.json()) == (
        409,
        {"detail": "Command 1 is cancelled: only a queued or delivered command can be cancelled."},
    )


def test_the_commands_list_shows_administered_organizations_only_and_filters(
    alice, bob, charlie, device_a, device_b
):
    mine = commands.queue(device_a, "test", "", alice)
    commands.queue(device_a, "exec", "uptime", alice)
    theirs = commands.queue(device_b, "test", "", charlie)

    def ids(user, query=""):
        return [row["id"] for row in as_user(user).get(f"/api/v1/commands/{query}").json()["results"]]

    assert len(ids(alice)) == 2
    assert ids(alice, "?action=test") == [str(mine.pk)]
    assert ids(alice, f"?device={device_b.pk}") == []
    assert ids(bob) == []
    assert ids(charlie) == [str(theirs.pk)]
    bad = as_user(alice).get("/api/v1/commands/?status=done")
    assert bad.status_code == 400
    assert bad.json()["errors"] == {
        "status": ["Select a valid choice. done is not one of the available choices."]
    }


def test_a_batch_and_its_progress(alice, bob, charlie, orgs, device_a, device_b):
    from fleetwatch.inventory.models import Device

    other = Device.objects.create(organization=orgs[0], name="ap-2")
    client = as_user(alice)
    created = post(
        client, "/api/v1/command-batches/", {"devices": [str(device_a.pk), str(other.pk)], "action": "test"}
    )
    assert created.status_code == 201
    body = created.json()
    assert (
        body["organization"],
        body["action"],
        body["argument"],
        body["requested_by"],
        body["devices"],
    ) == (
        str(orgs[0].pk),
        "test",
        "",
        "alice",
        2,
    )
    assert body["progress"] == {"queued": 2, "delivered": 0, "ok": 0, "err": 0, "expired": 0, "cancelled": 0}
    assert [(c["device_name"], c["seq"], c["status"]) for c in body["commands"]] == [
        ("ap-2", 1, "queued"),
        ("ap-lobby", 1, "queued"),
    ]
    commands.offer(device_a, "http")
    commands.record_result(other, 1, "ERR", "no")
    detail = client.get(f"/api/v1/command-batches/{body['id']}/").json()
    assert detail["progress"] == {
        "queued": 0,
        "delivered": 1,
        "ok": 0,
        "err": 1,
        "expired": 0,
        "cancelled": 0,
    }
    listed = client.get("/api/v1/command-batches/").json()["results"]
    assert [(row["id"], "commands" in row) for row in listed] == [(body["id"], False)]
    assert as_user(bob).get(f"/api/v1/command-batches/{body['id']}/").json() == ADMINS_ONLY
    assert as_user(charlie).get(f"/api/v1/command-batches/{body['id']}/").status_code == 404
    assert Command.objects.filter(batch_id=body["id"]).count() == 2


def test_batch_refusals(alice, bob, charlie, device_a, device_b):
    mixed = post(
        as_user(charlie),
        "/api/v1/command-batches/",
        {"devices": [str(device_b.pk)], "action": "test", "argument": "x"},
    )
    assert mixed.json() == {
        "detail": "argument: test takes no argument.",
        "errors": {"argument": ["test takes no argument."]},
    }
    member = post(as_user(bob), "/api/v1/command-batches/", {"devices": [str(device_a.pk)], "action": "test"})
    assert (member.status_code, member.json()) == (
        403,
        {"detail": "You are not an administrator of that organization."},
    )
    foreign = post(
        as_user(alice), "/api/v1/command-batches/", {"devices": [str(device_b.pk)], "action": "test"}
    )
    message = f'Invalid pk "{device_b.pk}" - object does not exist.'
    assert (foreign.status_code, foreign.json()) == (
        400,
        {"detail": f"devices: {message}", "errors": {"devices": [message]}},
    )
    empty = post(as_user(alice), "/api/v1/command-batches/", {"devices": [], "action": "test"})
    assert empty.json()["errors"] == {"devices": ["This list may not be empty."]}
    assert Command.objects.count() == 0


def test_a_superuser_sees_two_organizations_but_a_batch_is_of_one(device_a, device_b, django_user_model):
    root = django_user_model.objects.create_superuser("root")
    response = post(
        as_user(root),
        "/api/v1/command-batches/",
        {"devices": [str(device_a.pk), str(device_b.pk)], "action": "test"},
    )
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"devices": ["The devices of a batch must belong to one organization."]},
    )
