"""The shared REST layer (fleetwatch.api): one router, pagination on every list, django-filter
filtersets, path ids checked by the router, one error shape for every status."""

import pytest
from django.db import IntegrityError, OperationalError
from django.urls import reverse
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from fleetwatch.api.exceptions import exception_handler
from fleetwatch.inventory.models import Device
from fleetwatch.timeseries import BackendUnavailable

pytestmark = pytest.mark.django_db


def test_one_router_serves_every_viewset_under_its_app_prefix():
    assert [
        reverse("organization-list"),
        reverse("device-list"),
        reverse("webhook-list"),
        reverse("maintenance-list"),
        reverse("notification-list"),
        reverse("notification-read-all"),
        reverse("api-root"),
    ] == [
        "/api/v1/inventory/organizations/",
        "/api/v1/inventory/devices/",
        "/api/v1/notifications/webhooks/",
        "/api/v1/notifications/maintenance/",
        "/api/v1/notifications/",
        "/api/v1/notifications/read-all/",
        "/api/v1/",
    ]


def test_lists_are_paginated_with_limit_and_offset(client, alice, orgs):
    for i in range(5):
        Device.objects.create(organization=orgs[0], name=f"ap-{i}")
    Device.objects.create(organization=orgs[1], name="ap-elsewhere")
    client.force_login(alice)
    page = client.get("/api/v1/inventory/devices/?limit=2&offset=2").json()
    assert (page["count"], [d["name"] for d in page["results"]]) == (5, ["ap-2", "ap-3"])
    assert page["next"] == "http://testserver/api/v1/inventory/devices/?limit=2&offset=4"
    assert page["previous"] == "http://testserver/api/v1/inventory/devices/?limit=2"
    # Beyond the end: an empty page, not an error; a limit past the cap is the cap.
    beyond = client.get("/api/v1/inventory/devices/?offset=99999999999999999999999").json()
    assert (beyond["count"], beyond["results"]) == (5, [])
    assert len(client.get("/api/v1/inventory/devices/?limit=100000").json()["results"]) == 5


def test_device_filters(client, alice, orgs):
    Device.objects.create(organization=orgs[0], name="ap-on")
    Device.objects.create(organization=orgs[0], name="ap-off", is_active=False)
    client.force_login(alice)

    def names(query):
        response = client.get(f"/api/v1/inventory/devices/?{query}")
        assert response.status_code == 200, response.json()
        return [d["name"] for d in response.json()["results"]]

    assert names("is_active=false") == ["ap-off"]
    assert names("is_active=true&name=ap-on") == ["ap-on"]
    assert names(f"organization={orgs[0].pk}") == ["ap-off", "ap-on"]
    assert names(f"organization={orgs[1].pk}") == []  # not alice's: nothing, as for any filter
    assert names("organization_slug=org-a") == ["ap-off", "ap-on"]
    response = client.get("/api/v1/inventory/devices/?organization=nope")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "organization: Enter a valid UUID.", "errors": {"organization": ["Enter a valid UUID."]}},
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/notifications/abc/",
        f"/api/v1/notifications/{'9' * 30}/",  # beyond any integer column: never sent to the database
        "/api/v1/notifications/webhooks/-1/",
        "/api/v1/inventory/devices/not-a-uuid/",
        "/api/v1/inventory/devices/" + "-" * 36 + "/",
    ],
)
def test_malformed_path_ids_are_404(client, alice, path):
    client.force_login(alice)
    response = client.get(path)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_an_outsider_gets_404_and_a_member_403_in_the_same_shape(client, bob, charlie, device_a):
    client.force_login(charlie)
    response = client.get(f"/api/v1/inventory/devices/{device_a.pk}/")
    assert (response.status_code, response.json()) == (404, {"detail": "No Device matches the given query."})
    client.force_login(bob)
    response = client.delete(f"/api/v1/inventory/devices/{device_a.pk}/")
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "Only an administrator of the organization may change this."},
    )


@pytest.mark.parametrize(
    ("exc", "status", "body", "retry_after"),
    [
        (IntegrityError("UNIQUE constraint failed"), 409,
         {"detail": "The change conflicts with the stored data; nothing was changed."}, None),
        (OperationalError("database is locked"), 503,
         {"detail": "The database is unavailable; retry later."}, "30"),
        (BackendUnavailable("down"), 503, {"detail": "The time-series store is unavailable; retry later."}, "30"),
        (NotFound(), 404, {"detail": "Not found."}, None),
        (PermissionDenied(), 403, {"detail": "You do not have permission to perform this action."}, None),
        (ValidationError(["Both cannot be set."]), 400,
         {"detail": "Both cannot be set.", "errors": {"non_field_errors": ["Both cannot be set."]}}, None),
        (ValidationError({"a": {"b": ["Too long."]}}), 400,
         {"detail": "a: Too long.", "errors": {"a": {"b": ["Too long."]}}}, None),
    ],
)  # fmt: skip
def test_one_error_shape(exc, status, body, retry_after):
    response = exception_handler(exc, {})
    assert (response.status_code, response.data, response.get("Retry-After")) == (status, body, retry_after)


def test_an_unexpected_exception_is_left_to_django():
    assert exception_handler(ZeroDivisionError(), {}) is None


def test_no_credentials_is_a_401_asking_for_a_token_and_not_allowed_a_403(client, bob, device_a):
    """401 + ``WWW-Authenticate: Token`` without (valid) credentials, on a DRF view and on the
    chart view alike; 403 for a logged-in member who may not change the row."""
    from rest_framework.authtoken.models import Token

    for url in ["/api/v1/inventory/devices/", f"/api/v1/monitoring/device/{device_a.pk}/"]:
        response = client.get(url)
        assert (response.status_code, response["WWW-Authenticate"], response.json()) == (
            401,
            "Token",
            {"detail": "Authentication credentials were not provided."},
        )
        response = client.get(url, HTTP_AUTHORIZATION="Token " + "0" * 40)
        assert (response.status_code, response["WWW-Authenticate"], response.json()) == (
            401,
            "Token",
            {"detail": "Invalid token."},
        )
    token = Token.objects.create(user=bob)
    response = client.delete(
        f"/api/v1/inventory/devices/{device_a.pk}/", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert (response.status_code, response.has_header("WWW-Authenticate")) == (403, False)
