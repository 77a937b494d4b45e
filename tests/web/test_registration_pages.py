"""The registrations page (``/registrations/``) through Django's test client: who may see and
do what (administrators of the organization; members 403 on every POST; outsiders 404), approve
and reject with exact outcomes, enrollment tokens created once per form token and shown once,
revoked."""

import re
import textwrap
import tomllib
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from fleetwatch.inventory.models import Device, Enrollment, EnrollmentToken, hash_secret
from fleetwatch.web.registration import agent_configuration

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(orgs, alice):
    row, _text = EnrollmentToken.issue(orgs[0], "Solar sites", requires_approval=True, created_by=alice)
    return row


@pytest.fixture
def pending(orgs, token):
    return Enrollment.objects.create(
        organization=orgs[0],
        token=token,
        serial="SG-5E21RPI3A1B2",
        name="station-ridge",
        facts={"model": "Raspberry Pi 3", "agent": "fleetwatch-agent/0.1.0"},
    )


@pytest.fixture
def pending_b(orgs):
    return Enrollment.objects.create(organization=orgs[1], serial="SG-B", name="station-b")


def new_token(client, org, name="Hosts", approval=True, expires="30", nonce=None):
    data = {
        "organization": str(org.pk),
        "name": name,
        "expires_in": expires,
        "once": str(nonce or uuid.uuid4()),
    }
    if approval:
        data["requires_approval"] = "on"
    return client.post("/registrations/tokens/", data)


# ------------------------------------------------------------------------------ access


def test_the_navigation_links_the_page_for_administrators_only(client, alice, bob):
    client.force_login(alice)
    assert 'id="registrations-link"' in client.get("/").content.decode()
    client.force_login(bob)
    assert 'id="registrations-link"' not in client.get("/").content.decode()


def test_a_member_gets_403_on_the_page_and_every_post(client, bob, pending, token):
    client.force_login(bob)
    assert client.get("/registrations/").status_code == 403
    assert client.post(f"/registrations/{pending.pk}/approve/").status_code == 403
    assert client.post(f"/registrations/{pending.pk}/reject/").status_code == 403
    assert client.post(f"/registrations/tokens/{token.pk}/revoke/").status_code == 403
    assert client.get(f"/registrations/tokens/{token.pk}/").status_code == 403
    assert new_token(client, pending.organization).status_code == 403
    pending.refresh_from_db()
    token.refresh_from_db()
    assert (pending.status, token.revoked, EnrollmentToken.objects.count()) == ("pending", None, 1)


def test_an_outsider_gets_404_for_another_organizations_enrollment_and_token(client, charlie, pending, token):
    client.force_login(charlie)
    assert client.get("/registrations/").status_code == 200  # charlie administers org B
    assert client.post(f"/registrations/{pending.pk}/approve/").status_code == 404
    assert client.post(f"/registrations/{pending.pk}/reject/").status_code == 404
    assert client.post(f"/registrations/tokens/{token.pk}/revoke/").status_code == 404
    assert client.get(f"/registrations/tokens/{token.pk}/").status_code == 404
    # nor may charlie make a token for organization A
    assert new_token(client, pending.organization).status_code == 400
    assert EnrollmentToken.objects.count() == 1


def test_the_page_lists_only_the_administered_organizations_enrollments(client, alice, pending, pending_b):
    client.force_login(alice)
    response = client.get("/registrations/")
    assert response.status_code == 200
    assert [e.serial for e in response.context["pending"]] == ["SG-5E21RPI3A1B2"]
    html = response.content.decode()
    assert "station-ridge" in html
    assert "station-b" not in html
    assert "<code>Raspberry Pi 3</code>" in html


@pytest.mark.parametrize("decision", ["delete", "APPROVE"])
def test_an_unknown_decision_is_404(client, alice, pending, decision):
    client.force_login(alice)
    assert client.post(f"/registrations/{pending.pk}/{decision}/").status_code == 404


def test_decisions_are_posts(client, alice, pending):
    client.force_login(alice)
    assert client.get(f"/registrations/{pending.pk}/approve/").status_code == 405
    pending.refresh_from_db()
    assert pending.status == "pending"


# ------------------------------------------------------------------------------ decisions


def test_approving_creates_the_device_and_lists_the_decision(client, alice, pending):
    client.force_login(alice)
    response = client.post(f"/registrations/{pending.pk}/approve/")
    assert (response.status_code, response["Location"]) == (302, "/registrations/")
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == ("approved", alice)
    device = Device.objects.get(organization=pending.organization, serial="SG-5E21RPI3A1B2")
    assert pending.device == device
    assert device.name == "station-ridge"
    page = client.get("/registrations/")
    assert list(page.context["pending"]) == []
    assert list(page.context["decided"]) == [pending]
    html = page.content.decode()
    assert f'<a href="/devices/{device.pk}/">station-ridge</a>' in html
    assert "station-ridge is approved: it gets its credentials at its next attempt." in html
    # a second approval (a double click) changes nothing
    assert client.post(f"/registrations/{pending.pk}/approve/").status_code == 302
    assert Device.objects.filter(serial="SG-5E21RPI3A1B2").count() == 1


def test_rejecting_creates_no_device(client, alice, pending):
    client.force_login(alice)
    assert client.post(f"/registrations/{pending.pk}/reject/").status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by, pending.device) == ("rejected", alice, None)
    assert not Device.objects.filter(serial="SG-5E21RPI3A1B2").exists()
    # a rejected enrollment is not approved by a late click
    assert client.post(f"/registrations/{pending.pk}/approve/").status_code == 302
    pending.refresh_from_db()
    assert pending.status == "rejected"


# ------------------------------------------------------------------------------ tokens


def test_a_new_token_is_shown_once_with_the_agents_configuration(client, alice, orgs):
    client.force_login(alice)
    response = new_token(client, orgs[0], name="Hosts", approval=False, expires="7")
    row = EnrollmentToken.objects.get(name="Hosts")
    assert (response.status_code, response["Location"]) == (302, f"/registrations/tokens/{row.pk}/")
    assert (row.organization, row.requires_approval, row.created_by) == (orgs[0], False, alice)
    assert timedelta(days=7) - timedelta(minutes=1) < row.expires - timezone.now() <= timedelta(days=7)
    shown = client.get(f"/registrations/tokens/{row.pk}/")
    text = shown.context["text"]
    assert text.startswith("fwe_")
    assert hash_secret(text) == row.token_hash
    html = shown.content.decode()
    assert f'<code id="enrollment-token">{text}</code>' in html
    assert f"server = &quot;http://testserver&quot;\ntoken = &quot;{text}&quot;" in html
    again = client.get(f"/registrations/tokens/{row.pk}/").content.decode()
    assert text not in again
    assert 'id="token-hidden"' in again


def test_the_same_token_form_sent_twice_creates_one_token(client, alice, orgs):
    client.force_login(alice)
    nonce = uuid.uuid4()
    first = new_token(client, orgs[0], nonce=nonce)
    second = new_token(client, orgs[0], nonce=nonce)
    row = EnrollmentToken.objects.get(name="Hosts")
    assert first["Location"] == second["Location"] == f"/registrations/tokens/{row.pk}/"
    assert EnrollmentToken.objects.filter(name="Hosts").count() == 1
    assert client.get(second["Location"]).context["text"].startswith("fwe_")


@pytest.mark.parametrize(
    ("field", "value"), [("name", ""), ("expires_in", "3"), ("once", "nope"), ("organization", "x")]
)
def test_a_malformed_token_form_is_400_and_creates_nothing(client, alice, orgs, field, value):
    client.force_login(alice)
    data = {"organization": str(orgs[0].pk), "name": "Hosts", "expires_in": "30", "once": str(uuid.uuid4())}
    data[field] = value
    assert client.post("/registrations/tokens/", data).status_code == 400
    assert EnrollmentToken.objects.count() == 0


def test_revoking_a_token(client, alice, token):
    client.force_login(alice)
    assert client.post(f"/registrations/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked is not None
    assert token.refusal(timezone.now()) == "The enrollment token has been revoked."
    revoked = token.revoked
    assert client.post(f"/registrations/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked == revoked
    html = client.get("/registrations/").content.decode()
    assert f'<tr data-token="{token.pk}" class="revoked">' in html


def test_the_agent_configuration_in_the_docs_is_what_the_token_page_gives():
    """docs/web.md shows the lines of /etc/fleetwatch-agent.toml the token page gives."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text()
    (block,) = re.findall(r"```toml\n(.*?)```", docs, re.S)
    given = agent_configuration("https://fleet.example.org", "fwe_…")
    assert tomllib.loads(textwrap.dedent(block)) == tomllib.loads(given)
    assert tomllib.loads(given) == {
        "server": "https://fleet.example.org",
        "token": "fwe_…",
        "channel": "http",
        "commands": False,
    }
