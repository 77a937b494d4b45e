"""A relational database that fails (locked, connection lost) answers 503 + Retry-After, JSON
under /api/ and a small page elsewhere, never a 500; other errors keep their JSON shape."""

import sqlite3

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError, connection

from fleetwatch.inventory.api.views import DeviceViewSet
from fleetwatch.notifications.models import Preference

DB_DOWN = {"detail": "The database is unavailable; retry later."}
FAILURES = [OperationalError("database is locked"), InterfaceError("connection already closed")]


def fail_with(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


def assert_api_unavailable(response):
    assert (response.status_code, response.json()) == (503, DB_DOWN)
    assert response["Retry-After"] == "30"


@pytest.mark.django_db
@pytest.mark.parametrize("failure", FAILURES, ids=type)
def test_an_api_view_whose_query_fails_answers_503_json(client, alice, monkeypatch, failure):
    client.force_login(alice)
    monkeypatch.setattr(DeviceViewSet, "get_queryset", fail_with(failure))
    assert_api_unavailable(client.get("/api/v1/inventory/devices/"))


@pytest.mark.django_db
@pytest.mark.parametrize("failure", FAILURES, ids=type)
def test_a_page_whose_query_fails_answers_a_503_page(client, bob, device_a, monkeypatch, failure):
    client.force_login(bob)
    monkeypatch.setattr("fleetwatch.web.views.fleet_page", fail_with(failure))
    response = client.get("/")
    assert (response.status_code, response["Retry-After"]) == (503, "30")
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"<h1>Service unavailable</h1><p>The database is unavailable; retry later.</p>" in response.content


@pytest.mark.django_db
def test_a_failure_after_the_view_is_503_too(client, alice, monkeypatch):
    """The session saved by SessionMiddleware after a login, outside any view: handler500."""
    save = SessionStore.save

    def save_fails_unless_creating(self, must_create=False):
        if not must_create:
            raise OperationalError("database is locked")
        return save(self, must_create)

    monkeypatch.setattr(SessionStore, "save", save_fails_unless_creating)
    client.raise_request_exception = False  # Django reports the exception; the answer is ours
    response = client.post("/login/", {"username": "alice", "password": "pw"})
    assert (response.status_code, response["Retry-After"]) == (503, "30")
    assert b"The database is unavailable; retry later." in response.content


@pytest.mark.django_db(transaction=True)
def test_a_table_locked_by_another_connection_answers_503_and_writes_nothing(client, alice):
    """A real lock, no patching: another connection to the test database holds a write
    transaction on the preferences table (SQLite's shared cache refuses at once: no wait)."""
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        pytest.skip("needs the in-memory SQLite test database (shared cache)")
    client.force_login(alice)
    assert client.get("/api/v1/notifications/preferences/").json() == {"web": True, "email": True}
    other = sqlite3.connect(connection.settings_dict["NAME"], uri=True, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE notifications_preference SET email = 0")
        assert_api_unavailable(client.get("/api/v1/notifications/preferences/"))
        response = client.patch(
            "/api/v1/notifications/preferences/", '{"web": false}', content_type="application/json"
        )
        assert_api_unavailable(response)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert Preference.objects.get(user=alice).web is True
    assert client.get("/api/v1/notifications/preferences/").json() == {"web": True, "email": True}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/monitoring/device/not-a-uuid/",
        "/api/v1/monitoring/device/12/status-history/",
        "/api/v1/inventory/nothing-here/",
        "/api/v2/",
    ],
)
def test_an_unknown_api_path_is_a_json_404(client, alice, path):
    client.force_login(alice)
    response = client.get(path)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.django_db
def test_a_bad_request_page_names_the_parameter(client, bob):
    client.force_login(bob)
    response = client.get("/?org=%3Cb%3E")
    assert response.status_code == 400
    assert b"<h1>Bad request</h1><p>org: &#x27;&lt;b&gt;&#x27; is not a slug" in response.content
