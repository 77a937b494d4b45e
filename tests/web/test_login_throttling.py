"""Login throttling (django-axes): after 5 failed logins of one username from one address, that
pair is refused for 15 minutes, right password or not, on the login page and the admin's; other
users, other addresses, API tokens and device keys are unaffected. Time is frozen and moved."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from freezegun import freeze_time
from rest_framework.authtoken.models import Token

import fleetwatch.urls  # noqa: F401  (imported before time is frozen: C extensions it loads check datetime)
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LOCKED = 429  # django-axes' answer to a locked-out login (AXES_HTTP_RESPONSE_CODE)


@pytest.fixture(autouse=True)
def quick_hashes(settings):
    """Dozens of password checks: a fast hasher for the users these tests make."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client, username, password, path="/login/"):
    return client.post(path, {"username": username, "password": password})


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def test_the_sixth_attempt_is_refused_even_with_the_right_password_until_the_cool_off(alice, bob):
    client = Client()
    with freeze_time(T0) as clock:
        # Four wrong passwords: the form again, with its error.
        for _ in range(4):
            response = log_in(client, "alice", "wrong")
            assert response.status_code == 200
            assert b"didn't match" in response.content
        # The fifth failure locks alice out from this address, and says so at once.
        fifth = log_in(client, "alice", "wrong")
        assert fifth.status_code == LOCKED
        assert b"Too many failed logins" in fifth.content
        assert b"refused for 15 minutes" in fifth.content
        sixth = log_in(client, "alice", "wrong")
        assert sixth.status_code == LOCKED
        right = log_in(client, "alice", "pw")
        assert right.status_code == LOCKED
        assert "sessionid" not in right.cookies
        assert not logged_in(client)

        # Another user from the same address is not locked.
        other = Client()
        assert log_in(other, "bob", "pw").status_code == 302
        assert logged_in(other)

        # Attempts during the lock-out do not extend it: 15 minutes after the fifth failure …
        clock.tick(timedelta(minutes=14, seconds=59))
        assert log_in(client, "alice", "pw").status_code == LOCKED
        clock.tick(timedelta(seconds=2))
        welcome = log_in(client, "alice", "pw")
        assert (welcome.status_code, welcome.headers["Location"]) == (302, "/")
        assert logged_in(client)


def test_the_lock_out_is_per_username_and_address(alice):
    here = Client(REMOTE_ADDR="192.0.2.10")
    there = Client(REMOTE_ADDR="192.0.2.20")
    with freeze_time(T0):
        assert [log_in(here, "alice", "wrong").status_code for _ in range(6)] == [200] * 4 + [LOCKED] * 2
        assert log_in(here, "alice", "pw").status_code == LOCKED
        assert log_in(there, "alice", "pw").status_code == 302


def test_a_successful_login_forgets_earlier_failures(alice):
    client = Client()
    with freeze_time(T0):
        assert [log_in(client, "alice", "wrong").status_code for _ in range(4)] == [200] * 4
        assert log_in(client, "alice", "pw").status_code == 302
        client.post("/logout/")
        assert [log_in(client, "alice", "wrong").status_code for _ in range(4)] == [200] * 4
        assert log_in(client, "alice", "pw").status_code == 302


def test_the_admin_login_is_throttled_too_and_shares_the_count(alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client = Client()
    with freeze_time(T0):
        for _ in range(4):
            assert log_in(client, "alice", "wrong", "/admin/login/").status_code == 200
        assert log_in(client, "alice", "wrong", "/login/").status_code == LOCKED
        refused = log_in(client, "alice", "pw", "/admin/login/")
        assert refused.status_code == LOCKED
        assert b"Too many failed logins" in refused.content
        assert client.get("/admin/").status_code == 302  # to the admin's login page


def test_tokens_and_device_keys_still_work_while_the_user_is_locked_out(alice, device_a, timeseries):
    token = Token.objects.create(user=alice)
    client = Client()
    with freeze_time(T0):
        assert [log_in(client, "alice", "wrong").status_code for _ in range(5)] == [200] * 4 + [LOCKED]
        assert log_in(client, "alice", "pw").status_code == LOCKED
        api = Client().get("/api/v1/inventory/devices/", HTTP_AUTHORIZATION=f"Token {token.key}")
        assert api.status_code == 200
        assert [d["name"] for d in api.json()["results"]] == ["ap-lobby"]
        wrong_token = Client().get("/api/v1/inventory/devices/", HTTP_AUTHORIZATION="Token " + "0" * 40)
        assert (wrong_token.status_code, wrong_token["WWW-Authenticate"]) == (
            401,
            "Token",
        )  # token auth first
    report = Client().post(
        f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}",
        example_report(),
        content_type="application/json",
    )
    assert report.status_code == 200


def test_the_limit_and_cool_off_follow_the_settings(settings, alice):
    settings.AXES_FAILURE_LIMIT = 2  # FLEETWATCH_LOGIN_FAILURES=2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)  # FLEETWATCH_LOGIN_COOLOFF=1
    client = Client()
    with freeze_time(T0) as clock:
        assert [log_in(client, "alice", "wrong").status_code for _ in range(3)] == [200, LOCKED, LOCKED]
        refused = log_in(client, "alice", "pw")
        assert refused.status_code == LOCKED
        assert b"After 2 failed logins as alice from this" in refused.content
        assert b"refused for 1 minute," in refused.content
        clock.tick(timedelta(seconds=61))
        assert log_in(client, "alice", "pw").status_code == 302
