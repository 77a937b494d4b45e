"""Administrators' side of registration: enrollment tokens (shown once, revoked), approvals, the
organization's registration secret, the admin site; who may do what (the contract test has every
status, these the exact messages)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from freezegun import freeze_time

from fleetwatch.inventory.models import Device, Enrollment, EnrollmentToken, hash_secret

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ADMINS_ONLY = {"detail": "Only an administrator of the organization may manage enrollments."}


def logged_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_a_token_is_shown_once_then_only_its_prefix(alice, orgs):
    admin = logged_in(alice)
    with freeze_time(NOW):
        created = post(
            admin,
            "/api/v1/enrollment-tokens/",
            {"organization": str(orgs[0].pk), "name": "stations", "expires": "2026-12-31T00:00:00Z"},
        )
    assert created.status_code == 201
    body = created.json()
    text = body.pop("token")
    assert text.startswith("fwe_")
    assert len(text) == 44
    row = EnrollmentToken.objects.get()
    assert row.token_hash == hash_secret(text)
    assert row.created_by == alice
    assert body == {
        "id": str(row.pk),
        "organization": str(orgs[0].pk),
        "name": "stations",
        "prefix": text[:10],
        "requires_approval": False,
        "expires": "2026-12-31T00:00:00Z",
        "revoked": None,
        "state": "active",
        "created": body["created"],
        "last_used": None,
    }
    listed = admin.get("/api/v1/enrollment-tokens/").json()["results"]
    assert [t["prefix"] for t in listed] == [text[:10]]
    assert "token" not in listed[0]
    assert "token" not in admin.get(f"/api/v1/enrollment-tokens/{row.pk}/").json()


def test_an_expiry_in_the_past_is_refused(alice, orgs):
    with freeze_time(NOW):
        response = post(
            logged_in(alice),
            "/api/v1/enrollment-tokens/",
            {"organization": str(orgs[0].pk), "name": "x", "expires": "2026-12-01T09:59:59Z"},
        )
    assert (response.status_code, response.json()["detail"]) == (
        400,
        "expires: The expiry must be in the future.",
    )
    assert EnrollmentToken.objects.count() == 0


def test_revoking_ends_a_token_for_good(alice, orgs):
    row, text = EnrollmentToken.issue(orgs[0], "stations")
    admin = logged_in(alice)
    with freeze_time(NOW):
        revoked = post(admin, f"/api/v1/enrollment-tokens/{row.pk}/revoke/")
    assert (revoked.status_code, revoked.json()["state"], revoked.json()["revoked"]) == (
        200,
        "revoked",
        "2026-12-01T10:00:00Z",
    )
    with freeze_time(NOW + timedelta(hours=1)):
        again = post(admin, f"/api/v1/enrollment-tokens/{row.pk}/revoke/")
    assert again.json()["revoked"] == "2026-12-01T10:00:00Z"  # idempotent: the first time stays
    enroll = post(Client(), "/api/v1/enroll/", {"token": text, "serial": "SG-1"})
    assert (enroll.status_code, enroll.json()) == (403, {"detail": "The enrollment token has been revoked."})


def test_the_state_of_an_expired_token(alice, orgs):
    row, _ = EnrollmentToken.issue(orgs[0], "stations", expires=NOW)
    with freeze_time(NOW):
        assert logged_in(alice).get(f"/api/v1/enrollment-tokens/{row.pk}/").json()["state"] == "expired"


def test_members_are_refused_with_the_reason_and_outsiders_see_nothing(bob, charlie, orgs):
    row, _ = EnrollmentToken.issue(orgs[0], "stations")
    enrollment = Enrollment.objects.create(organization=orgs[0], token=row, serial="SG-1", name="SG-1")
    member = logged_in(bob)
    for url in (
        "/api/v1/enrollment-tokens/",
        f"/api/v1/enrollment-tokens/{row.pk}/",
        "/api/v1/enrollments/",
        f"/api/v1/enrollments/{enrollment.pk}/",
    ):
        response = member.get(url)
        assert (response.status_code, response.json()) == (403, ADMINS_ONLY), url
    response = post(member, f"/api/v1/enrollments/{enrollment.pk}/approve/")
    assert (response.status_code, response.json()) == (403, ADMINS_ONLY)
    outsider = logged_in(charlie)
    assert outsider.get(f"/api/v1/enrollments/{enrollment.pk}/").status_code == 404
    assert post(outsider, f"/api/v1/enrollments/{enrollment.pk}/approve/").status_code == 404
    assert outsider.get("/api/v1/enrollments/").json()["results"] == []
    assert Device.objects.count() == 0


def test_an_admin_of_another_organization_who_is_a_member_here_gets_403(bob, orgs):
    from fleetwatch.inventory.models import Membership

    Membership.objects.create(user=bob, organization=orgs[1], role="admin")
    row, _ = EnrollmentToken.issue(orgs[0], "stations")
    member = logged_in(bob)
    response = member.get(f"/api/v1/enrollment-tokens/{row.pk}/")
    assert (response.status_code, response.json()) == (403, ADMINS_ONLY)
    created = post(member, "/api/v1/enrollment-tokens/", {"organization": str(orgs[0].pk), "name": "x"})
    assert (created.status_code, created.json()) == (
        403,
        {"detail": "You are not an administrator of that organization."},
    )


def test_anonymous_callers_are_asked_to_log_in():
    response = Client().get("/api/v1/enrollments/")
    assert (response.status_code, response["WWW-Authenticate"]) == (401, "Token")


def test_enrollments_are_listed_by_status(alice, orgs):
    row, _ = EnrollmentToken.issue(orgs[0], "stations")
    for serial, status in (("SG-1", "pending"), ("SG-2", "rejected"), ("SG-3", "pending")):
        Enrollment.objects.create(organization=orgs[0], token=row, serial=serial, name=serial, status=status)
    admin = logged_in(alice)
    pending = admin.get("/api/v1/enrollments/?status=pending").json()["results"]
    assert sorted(e["serial"] for e in pending) == ["SG-1", "SG-3"]
    bad = admin.get("/api/v1/enrollments/?status=maybe")
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("status: Select a valid choice.")


def test_the_registration_secret_is_read_rotated_and_turned_off_by_admins(alice, bob, charlie, orgs):
    url = f"/api/v1/inventory/organizations/{orgs[0].pk}/registration-secret/"
    admin = logged_in(alice)
    assert admin.get(url).json() == {"registration_secret": orgs[0].registration_secret}
    rotated = post(admin, url).json()["registration_secret"]
    assert rotated != orgs[0].registration_secret
    assert len(rotated) == 32
    orgs[0].refresh_from_db()
    assert orgs[0].registration_secret == rotated
    assert admin.delete(url).json() == {"registration_secret": ""}
    register = Client().post(
        "/controller/register/",
        {
            "secret": rotated,
            "backend": "netjsonconfig.OpenWrt",
            "name": "ap",
            "mac_address": "00:11:22:33:44:55",
        },
    )
    assert register.status_code == 403
    member = logged_in(bob).get(url)
    assert (member.status_code, member.json()) == (
        403,
        {"detail": "Only an administrator of the organization may see or change its registration secret."},
    )
    assert logged_in(charlie).get(url).status_code == 404
    assert (
        "registration_secret"
        not in logged_in(alice).get(f"/api/v1/inventory/organizations/{orgs[0].pk}/").json()
    )


def test_the_admin_site_approves_rejects_and_revokes(orgs):
    root = logged_in(get_user_model().objects.create_superuser("root", password="pw"))
    token, _ = EnrollmentToken.issue(orgs[0], "stations", requires_approval=True)
    first = Enrollment.objects.create(organization=orgs[0], token=token, serial="SG-1", name="st-1")
    second = Enrollment.objects.create(organization=orgs[0], token=token, serial="SG-2", name="st-2")
    assert root.get("/admin/inventory/enrollment/").status_code == 200
    assert root.get(f"/admin/inventory/enrollment/{first.pk}/change/").status_code == 200
    root.post("/admin/inventory/enrollment/", {"action": "approve", "_selected_action": [first.pk]})
    root.post("/admin/inventory/enrollment/", {"action": "reject", "_selected_action": [first.pk, second.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.device.name, first.device.serial) == ("approved", "st-1", "SG-1")
    assert (second.status, second.device) == ("rejected", None)  # the approved one stays approved
    assert root.get("/admin/inventory/enrollmenttoken/").status_code == 200
    root.post("/admin/inventory/enrollmenttoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked is not None
