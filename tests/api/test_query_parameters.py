"""Malformed query parameters of the REST API are a 400 naming the parameter, never a 500
(a non-UUID reaching a UUID column, a NUL character reaching PostgreSQL, a date whose bucket
arithmetic overflows)."""

import uuid

import pytest

from fleetwatch.inventory.models import Location

pytestmark = pytest.mark.django_db

EARLY = "start=0001-01-01%2000:00:00&end=0001-01-01%2023:00:00&timezone=Etc/GMT-14"
SLUG = "(letters, digits, - and _)"
MANY = ",".join(str(uuid.UUID(int=i)) for i in range(101))
CASES = {
    "dashboard/?location_id=abc": "location_id: 'abc' is not a valid UUID",
    f"dashboard/?location_id={uuid.UUID(int=1)},12": "location_id: '12' is not a valid UUID",
    f"dashboard/?location_id={MANY}": "location_id: at most 100 values",
    "dashboard/?organization_slug=org-a,a%20b": f"organization_slug: 'a b' is not a slug {SLUG}",
    "dashboard/?organization_slug=%00": "organization_slug: '\\x00' contains a control character",
    "dashboard/?ifname=wan,eth%0A1": "ifname: 'wan,eth\\n1' contains a control character",
    "dashboard/?time=2d": "time range not supported: '2d'; use one of 1d, 3d, 7d, 30d, 365d",
    "dashboard/?timezone=Mars/Olympus": "unknown time zone 'Mars/Olympus'",
    "dashboard/?timezone=America": "unknown time zone 'America'",  # a directory of the zone database
    f"dashboard/?timezone={'x' * 300}": f"unknown time zone '{'x' * 300}'",  # too long for a file name
    "dashboard/?start=yesterday&end=today": "start must look like 'YYYY-MM-DD HH:MM:SS', got 'yesterday'",
    "dashboard/?start=2026-10-20": "give both start and end, as 'YYYY-MM-DD HH:MM:SS'",
    f"dashboard/?{EARLY}": "start must not be before 1900-01-01",
    "device/{pk}/?time=2d": "time range not supported: '2d'; use one of 1d, 3d, 7d, 30d, 365d",
    "device/{pk}/?timezone=%00": "unknown time zone '\\x00'",
    f"device/{{pk}}/?{EARLY}": "start must not be before 1900-01-01",
}
# List filters (django-filter filtersets): every problem under "errors", the first in "detail".
NOT_UUID = {"detail": "device: Enter a valid UUID.", "errors": {"device": ["Enter a valid UUID."]}}
NOTIFICATION_CASES = {
    "maintenance/?device=abc": NOT_UUID,
    "maintenance/?device=%00": NOT_UUID,
    f"maintenance/?device={'9' * 5000}": NOT_UUID,
    "maintenance/?device=abc&organization=x": {
        "detail": "organization: Enter a valid UUID.",
        "errors": {"organization": ["Enter a valid UUID."], "device": ["Enter a valid UUID."]},
    },
    "?kind=nonsense": {
        "detail": "kind: Select a valid choice. nonsense is not one of the available choices.",
        "errors": {"kind": ["Select a valid choice. nonsense is not one of the available choices."]},
    },
}


@pytest.mark.parametrize(("path", "detail"), CASES.items(), ids=CASES.keys())
def test_a_malformed_monitoring_parameter_is_400(client, alice, device_a, path, detail):
    client.force_login(alice)
    response = client.get("/api/v1/monitoring/" + path.format(pk=device_a.pk))
    assert (response.status_code, response.json()) == (400, {"detail": detail})


@pytest.mark.parametrize(("path", "detail"), NOTIFICATION_CASES.items(), ids=NOTIFICATION_CASES.keys())
def test_a_malformed_notifications_parameter_is_400(client, alice, path, detail):
    client.force_login(alice)
    response = client.get("/api/v1/notifications/" + path)
    assert (response.status_code, response.json()) == (400, detail)


def test_well_formed_ids_still_select(client, alice, orgs, device_a, timeseries):
    lobby = Location.objects.create(organization=orgs[0], name="Lobby")
    client.force_login(alice)
    # Any spelling of a UUID is one; an unknown or foreign one is 404, as before.
    for spelling in (str(lobby.pk), str(lobby.pk).upper(), lobby.pk.hex):
        response = client.get(f"/api/v1/monitoring/dashboard/?location_id={spelling}")
        assert (response.status_code, response.json()) == (200, {"x": [], "charts": []})
    response = client.get(f"/api/v1/monitoring/dashboard/?location_id={uuid.uuid4()}")
    assert (response.status_code, response.json()) == (404, {"detail": "No such location."})
    response = client.get(f"/api/v1/notifications/maintenance/?device={device_a.pk}")
    assert (response.status_code, response.json()) == (
        200,
        {"count": 0, "next": None, "previous": None, "results": []},
    )
