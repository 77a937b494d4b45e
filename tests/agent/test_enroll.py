"""Enrollment by the agent (a subprocess) against a live Fleetwatch's ``POST /api/v1/enroll/``
with a real enrollment token: pending (202) until an administrator approves
(``fleetwatch.inventory.enrollment.approve``), then the credentials, kept with mode 0600 and
used; refusals (unknown or revoked token, a serial the server refuses) end the agent."""

from __future__ import annotations

import json
import os
import stat

import pytest
from fleetwatch_agent import AGENT

from tests.agent.live import LiveFleetwatch, run_agent, write_config

PORTS = range(18850, 18900)  # helper F's live servers
SERIAL = "SG-1234RPI4ABCD"

SETUP = """
import json
from django.contrib.auth import get_user_model
from fleetwatch.inventory.models import EnrollmentToken, Membership, Organization
org = Organization.objects.create(name="Field", slug="field")
admin = get_user_model().objects.create_user("admin", password="unused-admin")
Membership.objects.create(user=admin, organization=org, role="admin")
_, approval = EnrollmentToken.issue(org, "approval", requires_approval=True)
revoked, text = EnrollmentToken.issue(org, "old")
from django.utils import timezone
EnrollmentToken.objects.filter(pk=revoked.pk).update(revoked=timezone.now())
print(json.dumps({"approval": approval, "revoked": text}))
"""

APPROVE = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from fleetwatch.inventory.enrollment import approve
from fleetwatch.inventory.models import Enrollment
enrollment = Enrollment.objects.get(serial=%r)
enrollment = approve(enrollment, get_user_model().objects.get(username="admin"), timezone.now())
print(enrollment.status)
"""

DEVICE = """
import json
from fleetwatch.inventory.models import Device, Enrollment
enrollment = Enrollment.objects.get(serial=%r)
device = Device.objects.get(pk=enrollment.device_id)
print(json.dumps({"status": enrollment.status, "id": str(device.pk), "key": device.key, "name": device.name,
                  "organization": str(device.organization_id),
                  "slug": device.organization.slug, "serial": device.serial}))
"""


@pytest.fixture(scope="module")
def live():
    server = LiveFleetwatch(PORTS)
    try:
        server.start()
        server.tokens = json.loads(server.shell(SETUP))
        yield server
    finally:
        server.remove()


def config(tmp_path, live, token, serial=SERIAL, **values):
    return write_config(
        tmp_path / "agent.toml",
        server=live.url,
        token=token,
        serial=serial,
        name="station-7",
        state_dir=str(tmp_path / "state"),
        **values,
    )


def test_pending_then_approved_then_remembered(tmp_path, live):
    path = config(tmp_path, live, live.tokens["approval"])
    pending = run_agent(path, "--once")
    assert pending.returncode == 75, pending.stderr
    assert (
        "enrollment: The enrollment awaits approval by an administrator of the organization; retry later."
        in pending.stderr
    )
    assert not (tmp_path / "state" / "credentials.json").exists()

    assert live.shell(APPROVE % SERIAL) == "approved"
    approved = run_agent(path, "--once")
    assert approved.returncode == 0, approved.stderr
    device = json.loads(live.shell(DEVICE % SERIAL))
    assert device["status"] == "approved"
    assert (device["name"], device["slug"], device["serial"]) == ("station-7", "field", SERIAL)
    credentials = tmp_path / "state" / "credentials.json"
    answer = json.loads(credentials.read_text())
    assert answer["status"] == "approved"
    assert answer["device"] == {
        "id": device["id"],
        "name": "station-7",
        "organization": device["organization"],
    }
    assert answer["http"]["key"] == device["key"]
    assert answer["broker"] is None  # this server has no device channels
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600

    # The credentials are kept and used: a second run enrolls nothing and sends its report.
    again = run_agent(path, "--once")
    assert again.returncode == 0, again.stderr
    assert json.loads(credentials.read_text()) == answer
    points = live.read("memory", {"id": device["id"]})
    assert len(points) == 2  # one report per run since the approval
    agent = json.loads(live.shell(CHANNEL % device["id"]))
    assert agent == {"agent": AGENT, "channel": "http", "features": ""}


CHANNEL = """
import json
from fleetwatch.messaging.models import DeviceChannel
c = DeviceChannel.objects.get(device_id=%r)
print(json.dumps({"agent": c.agent, "channel": c.channel, "features": c.features}))
"""


@pytest.mark.parametrize(
    ("token", "serial", "status", "detail"),
    [
        ("fwe_unknown", SERIAL, 401, "Unknown enrollment token."),
        ("revoked", SERIAL, 403, "The enrollment token has been revoked."),
        ("approval", "S" * 65, 400, "serial: Ensure this field has no more than 64 characters."),
    ],
)
def test_a_refusal_ends_the_agent(tmp_path, live, token, serial, status, detail):
    result = run_agent(config(tmp_path, live, live.tokens.get(token, token), serial=serial), "--once")
    assert result.returncode == 77, result.stderr
    assert f"enrollment refused ({status}): {detail}" in result.stderr
    assert not (tmp_path / "state" / "credentials.json").exists()
