"""POST /api/v1/enroll/ and the administrators' enrollment tokens and approvals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from freezegun import freeze_time

from fleetwatch.inventory.models import Device, Enrollment, EnrollmentToken
from fleetwatch.messaging.models import DeviceChannel

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def station():
    return Client(raise_request_exception=False)


@pytest.fixture
def token(orgs):
    row, text = EnrollmentToken.issue(orgs[0], "stations")
    row.text = text
    return row


@pytest.fixture
def approval_token(orgs):
    row, text = EnrollmentToken.issue(orgs[0], "hosts", requires_approval=True)
    row.text = text
    return row


def enroll(client, body, **headers):
    return client.post("/api/v1/enroll/", json.dumps(body), content_type="application/json", **headers)


def facts(issued, /, **changes) -> dict:
    body = {
        "token": issued.text,
        "serial": "SG-5113RPI4A1B2",
        "hardware_id": "10000000a1b2c3d4",
        "model": "Raspberry Pi 4 Model B Rev 1.4",
        "os": "Debian GNU/Linux 12 (bookworm)",
        "system": "aarch64",
        "mac_address": "DC-A6-32-01-02-03",
        "agent": "fleetwatch-agent/0.1.0",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_a_station_enrolls_and_gets_its_credentials(station, token, orgs, settings):
    settings.FLEETWATCH_BASE_URL_IS_SET, settings.FLEETWATCH_BASE_URL = True, "https://fleet.example.org"
    with freeze_time(NOW):
        response = enroll(station, facts(token))
    assert response.status_code == 201
    device = Device.objects.get()
    assert response.json() == {
        "status": "approved",
        "device": {"id": str(device.pk), "name": "SG-5113RPI4A1B2", "organization": str(orgs[0].pk)},
        "http": {"url": "https://fleet.example.org", "key": device.key},
        "broker": None,  # device channels are not configured
    }
    assert (
        device.serial,
        device.hardware_id,
        device.model,
        device.os,
        device.system,
        device.mac_address,
    ) == (
        "SG-5113RPI4A1B2",
        "10000000a1b2c3d4",
        "Raspberry Pi 4 Model B Rev 1.4",
        "Debian GNU/Linux 12 (bookworm)",
        "aarch64",
        "dc:a6:32:01:02:03",
    )
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.device, enrollment.token, enrollment.last_attempt) == (
        "approved",
        device,
        token,
        NOW,
    )
    assert enrollment.facts == {
        "hardware_id": "10000000a1b2c3d4",
        "model": "Raspberry Pi 4 Model B Rev 1.4",
        "os": "Debian GNU/Linux 12 (bookworm)",
        "system": "aarch64",
        "mac_address": "dc:a6:32:01:02:03",
        "agent": "fleetwatch-agent/0.1.0",
        "address": "127.0.0.1",
    }
    assert DeviceChannel.objects.get().device == device
    token.refresh_from_db()
    assert token.last_used == NOW


def test_the_same_serial_again_gets_the_same_identity(station, token):
    first = enroll(station, facts(token, name="north-ridge")).json()
    again = enroll(station, facts(token, os="Debian GNU/Linux 13 (trixie)", name="ignored"))
    assert again.status_code == 200
    assert again.json() == first
    assert first["device"]["name"] == "north-ridge"
    device = Device.objects.get()
    assert device.os == "Debian GNU/Linux 13 (trixie)"
    assert (Enrollment.objects.count(), DeviceChannel.objects.count()) == (1, 1)


def test_the_token_may_come_as_a_bearer_header(station, token):
    response = enroll(station, facts(token, token=None), HTTP_AUTHORIZATION=f"Bearer {token.text}")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "headers", "detail"),
    [
        ({}, {}, "An enrollment token is required: send it as `token` or `Authorization: Bearer fwe_…`."),
        ({"token": "fwe_unknown"}, {}, "Unknown enrollment token."),
        ({"token": "no-prefix"}, {}, "Unknown enrollment token."),
        ({}, {"HTTP_AUTHORIZATION": "Bearer fwe_nope"}, "Unknown enrollment token."),
        ({}, {"HTTP_AUTHORIZATION": "Token fwe_nope"}, None),
    ],
)
def test_no_token_or_an_unknown_one_is_a_401(station, token, body, headers, detail):
    response = enroll(station, {"serial": "SG-1", **body}, **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="enroll"'
    if detail is not None:
        assert response.json() == {"detail": detail}
    assert (Device.objects.count(), Enrollment.objects.count()) == (0, 0)


def test_a_revoked_or_expired_token_is_a_403_saying_which(station, token):
    token.expires = NOW
    token.save()
    with freeze_time(NOW - timedelta(seconds=1)):
        assert enroll(station, facts(token)).status_code == 201
    with freeze_time(NOW):
        response = enroll(station, facts(token, serial="SG-2"))
    assert (response.status_code, response.json()) == (403, {"detail": "The enrollment token has expired."})
    token.revoked = NOW
    token.save()
    with freeze_time(NOW - timedelta(days=1)):
        response = enroll(station, facts(token))  # even an enrolled serial
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "The enrollment token has been revoked."},
    )
    assert (Device.objects.count(), Enrollment.objects.count()) == (1, 1)


def test_a_deactivated_organization_is_a_403(station, token, orgs):
    orgs[0].is_active = False
    orgs[0].save()
    response = enroll(station, facts(token))
    assert (response.status_code, response.json()) == (403, {"detail": "The organization is deactivated."})


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"serial": None}, "serial", "This field is required."),
        ({"serial": ""}, "serial", "This field may not be blank."),
        ({"serial": "x" * 65}, "serial", "Ensure this field has no more than 64 characters."),
        ({"serial": "SG\n1"}, "serial", "Control characters are not allowed."),
        ({"model": "\ud800"}, "model", "Not a valid string."),
        ({"mac_address": "zz"}, "mac_address", "Enter a MAC address like 00:11:22:33:44:55."),
        ({"name": ["a"]}, "name", "Not a valid string."),
    ],
)
def test_an_invalid_body_is_a_400_naming_the_field_and_writes_nothing(
    station, token, changes, field, message
):
    response = enroll(station, facts(token, **changes))
    assert response.status_code == 400
    assert response.json()["detail"] == f"{field}: {message}"
    assert (Device.objects.count(), Enrollment.objects.count()) == (0, 0)
    token.refresh_from_db()
    assert token.last_used is None


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"{", b"\xff", b"null", b"1e400"])
def test_garbage_is_a_400(station, token, body):
    response = station.post("/api/v1/enroll/", body, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_a_token_that_is_not_text_is_a_400(station, token):
    response = enroll(station, {"token": 12, "serial": "SG-1"})
    assert (response.status_code, response.json()["detail"]) == (400, "token: Not a valid string.")


def test_a_pending_device_may_change_the_name_it_asks_for(station, approval_token):
    enroll(station, facts(approval_token, name="first"))
    enroll(station, facts(approval_token, name="ridge-2"))
    assert Enrollment.objects.get().name == "ridge-2"


def test_other_content_types_and_methods_are_refused(station, token):
    assert station.post("/api/v1/enroll/", facts(token)).status_code == 415  # a form
    assert station.get("/api/v1/enroll/").status_code == 405


def test_with_approval_the_device_waits_then_gets_its_credentials(station, approval_token, alice, orgs):
    with freeze_time(NOW):
        waiting = enroll(station, facts(approval_token))
    assert (waiting.status_code, waiting["Retry-After"]) == (202, "60")
    assert waiting.json() == {
        "status": "pending",
        "detail": "The enrollment awaits approval by an administrator of the organization; retry later.",
    }
    assert Device.objects.count() == 0
    with freeze_time(NOW + timedelta(minutes=1)):
        assert enroll(station, facts(approval_token, model="Pi 5")).status_code == 202
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.last_attempt, enrollment.facts["model"]) == (
        "pending",
        NOW + timedelta(minutes=1),
        "Pi 5",
    )
    admin = Client()
    admin.force_login(alice)
    approved = admin.post(f"/api/v1/enrollments/{enrollment.pk}/approve/")
    assert approved.status_code == 200
    device = Device.objects.get()
    assert approved.json()["status"] == "approved"
    assert approved.json()["device"] == str(device.pk)
    assert approved.json()["decided_by"] == "alice"
    assert (device.name, device.model) == ("SG-5113RPI4A1B2", "Pi 5")
    assert DeviceChannel.objects.get().device == device  # made at approval
    # Idempotent: approving again changes nothing and makes no second device.
    assert admin.post(f"/api/v1/enrollments/{enrollment.pk}/approve/").json() == approved.json()
    assert Device.objects.count() == 1
    answer = enroll(station, facts(approval_token))
    assert answer.status_code == 200
    assert answer.json()["http"]["key"] == device.key


def test_a_rejected_device_is_refused_for_good_and_only_its_attempt_is_recorded(
    station, approval_token, alice
):
    enroll(station, facts(approval_token))
    enrollment = Enrollment.objects.get()
    admin = Client()
    admin.force_login(alice)
    rejected = admin.post(f"/api/v1/enrollments/{enrollment.pk}/reject/")
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert admin.post(f"/api/v1/enrollments/{enrollment.pk}/reject/").status_code == 200  # idempotent
    with freeze_time(NOW):
        response = enroll(station, facts(approval_token, model="changed"))
    assert (response.status_code, response.json()) == (
        403,
        {
            "detail": "The enrollment of this device has been rejected by an administrator of the organization."
        },
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.last_attempt, enrollment.facts["model"]) == (
        "rejected",
        NOW,
        "Raspberry Pi 4 Model B Rev 1.4",
    )
    assert Device.objects.count() == 0
    # An administrator may still change their mind.
    assert admin.post(f"/api/v1/enrollments/{enrollment.pk}/approve/").status_code == 200
    assert enroll(station, facts(approval_token)).status_code == 200


def test_an_approved_enrollment_with_its_device_is_not_rejected(station, token, alice):
    enroll(station, facts(token))
    admin = Client()
    admin.force_login(alice)
    response = admin.post(f"/api/v1/enrollments/{Enrollment.objects.get().pk}/reject/")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "status: The enrollment is approved and its device exists: deactivate or delete the device instead."
    )


def test_a_deactivated_device_is_refused(station, token):
    enroll(station, facts(token))
    Device.objects.update(is_active=False)
    response = enroll(station, facts(token))
    assert (response.status_code, response.json()) == (403, {"detail": "The device is deactivated."})


def test_a_deleted_device_enrolls_again_as_a_new_one(station, token):
    first = enroll(station, facts(token)).json()
    Device.objects.all().delete()
    again = enroll(station, facts(token))
    assert again.status_code == 201
    assert again.json()["device"]["id"] != first["device"]["id"]


def test_an_existing_device_with_the_serial_is_taken_not_duplicated(station, token, orgs):
    device = Device.objects.create(organization=orgs[0], name="made by hand", serial="SG-5113RPI4A1B2")
    response = enroll(station, facts(token))
    assert response.status_code == 200
    assert response.json()["device"] == {
        "id": str(device.pk),
        "name": "made by hand",
        "organization": str(orgs[0].pk),
    }


def test_serials_are_per_organization(station, token, orgs):
    _, text = EnrollmentToken.issue(orgs[1], "b")
    a = enroll(station, facts(token)).json()
    b = enroll(station, facts(token, token=text)).json()
    assert a["device"]["id"] != b["device"]["id"]
    assert b["device"]["organization"] == str(orgs[1].pk)


def test_with_channels_configured_the_answer_has_the_broker_account(station, token, settings, monkeypatch):
    from fleetwatch.messaging import broker

    settings.FLEETWATCH_CHANNELS_BROKER_URL = "amqp://fleetwatch:pw@127.0.0.1:5672/stations"
    settings.FLEETWATCH_CHANNELS_BROKER_API_URL = "http://fleetwatch:pw@127.0.0.1:15672/api/"
    settings.FLEETWATCH_CHANNELS_MQTT_URL = "mqtt://127.0.0.1:1883"
    calls = []
    monkeypatch.setattr(
        broker, "provision", lambda channel, api=None, now=None: calls.append(channel.username)
    )
    response = enroll(station, facts(token))
    device = Device.objects.get()
    channel = DeviceChannel.objects.get()
    assert response.json()["broker"] == {
        "username": str(device.pk),
        "password": channel.broker_password,
        "mqtt_url": "mqtt://127.0.0.1:1883",
        "amqp_url": "amqp://127.0.0.1:5672",
        "vhost": "stations",
    }
    assert calls == [str(device.pk)]


def test_a_broker_that_does_not_answer_still_enrolls_the_device(station, token, settings):
    settings.FLEETWATCH_CHANNELS_BROKER_URL = "amqp://fleetwatch:pw@127.0.0.1:9/stations"
    settings.FLEETWATCH_CHANNELS_BROKER_API_URL = "http://fleetwatch:pw@127.0.0.1:9/api/"
    response = enroll(station, facts(token))
    assert response.status_code == 201
    assert response.json()["broker"]["password"] == DeviceChannel.objects.get().broker_password
    assert DeviceChannel.objects.get().provisioned is None  # the worker's pass retries
