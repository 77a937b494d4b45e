"""Settings read from the environment: what each variable turns into and what bad values do;
for running behind a TLS-terminating proxy, also what the settings do to requests and cookies.
Login throttling itself is tested in tests/web/test_login_throttling.py."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

VARIABLES = (
    "FLEETWATCH_SECURE_COOKIES",
    "FLEETWATCH_PROXY_SSL_HEADER",
    "FLEETWATCH_HSTS_SECONDS",
    "FLEETWATCH_LOGIN_FAILURES",
    "FLEETWATCH_LOGIN_COOLOFF",
)


def test_defaults_assume_plain_http(load):
    loaded = load()
    assert loaded["SECURE_PROXY_SSL_HEADER"] is None
    assert loaded["SESSION_COOKIE_SECURE"] is False
    assert loaded["CSRF_COOKIE_SECURE"] is False
    assert loaded["SECURE_HSTS_SECONDS"] == 0
    assert loaded["AXES_FAILURE_LIMIT"] == 5
    assert loaded["AXES_COOLOFF_TIME"] == timedelta(minutes=15)
    assert loaded["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"]]


def test_tls_variables(load):
    loaded = load(
        FLEETWATCH_SECURE_COOKIES="true",
        FLEETWATCH_PROXY_SSL_HEADER="X-Forwarded-Proto",
        FLEETWATCH_HSTS_SECONDS="31536000",
    )
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert loaded["SESSION_COOKIE_SECURE"] is True
    assert loaded["CSRF_COOKIE_SECURE"] is True
    assert loaded["SECURE_HSTS_SECONDS"] == 31536000
    assert load(FLEETWATCH_PROXY_SSL_HEADER="x-forwarded-ssl-proto")["SECURE_PROXY_SSL_HEADER"] == (
        "HTTP_X_FORWARDED_SSL_PROTO",
        "https",
    )


def test_login_throttling_variables(load):
    loaded = load(FLEETWATCH_LOGIN_FAILURES="3", FLEETWATCH_LOGIN_COOLOFF="60")
    assert loaded["AXES_FAILURE_LIMIT"] == 3
    assert loaded["AXES_COOLOFF_TIME"] == timedelta(minutes=60)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "FLEETWATCH_SECURE_COOKIES",
            "sometimes",
            "FLEETWATCH_SECURE_COOKIES must be true or false (or 1/0, yes/no, on/off), not 'sometimes'",
        ),
        (
            "FLEETWATCH_PROXY_SSL_HEADER",
            "X-Forwarded-Proto: https",
            "FLEETWATCH_PROXY_SSL_HEADER must be a header name, not 'X-Forwarded-Proto: https'",
        ),
        ("FLEETWATCH_HSTS_SECONDS", "a year", "FLEETWATCH_HSTS_SECONDS must be an integer, not 'a year'"),
        ("FLEETWATCH_HSTS_SECONDS", "-1", "FLEETWATCH_HSTS_SECONDS must be at least 0, not '-1'"),
        ("FLEETWATCH_LOGIN_FAILURES", "0", "FLEETWATCH_LOGIN_FAILURES must be at least 1, not '0'"),
        ("FLEETWATCH_LOGIN_FAILURES", "five", "FLEETWATCH_LOGIN_FAILURES must be an integer, not 'five'"),
        ("FLEETWATCH_LOGIN_COOLOFF", "0", "FLEETWATCH_LOGIN_COOLOFF must be at least 1, not '0'"),
        ("FLEETWATCH_LOGIN_COOLOFF", "15m", "FLEETWATCH_LOGIN_COOLOFF must be an integer, not '15m'"),
    ],
)
def test_bad_values_stop_start_up_naming_the_variable(load, name, value, message):
    with pytest.raises(ImproperlyConfigured) as raised:
        load(**{name: value})
    assert str(raised.value) == message


def test_the_proxy_header_makes_requests_secure(load, settings):
    settings.SECURE_PROXY_SSL_HEADER = load(FLEETWATCH_PROXY_SSL_HEADER="X-Forwarded-Proto")[
        "SECURE_PROXY_SSL_HEADER"
    ]
    factory = RequestFactory()
    assert factory.get("/", HTTP_X_FORWARDED_PROTO="https").is_secure() is True
    assert factory.get("/", HTTP_X_FORWARDED_PROTO="http").is_secure() is False
    assert factory.get("/").is_secure() is False
    # Unset (the default), the header is ignored: a client cannot claim HTTPS.
    settings.SECURE_PROXY_SSL_HEADER = None
    assert factory.get("/", HTTP_X_FORWARDED_PROTO="https").is_secure() is False


@pytest.mark.django_db
def test_hsts_is_sent_on_requests_the_proxy_marks_as_https(load, settings, client):
    loaded = load(FLEETWATCH_PROXY_SSL_HEADER="X-Forwarded-Proto", FLEETWATCH_HSTS_SECONDS="3600")
    settings.SECURE_PROXY_SSL_HEADER = loaded["SECURE_PROXY_SSL_HEADER"]
    settings.SECURE_HSTS_SECONDS = loaded["SECURE_HSTS_SECONDS"]
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=3600"
    plain = client.get("/login/")
    assert plain.status_code == 200
    assert "Strict-Transport-Security" not in plain.headers


def test_cookies_are_secure_when_enabled(load, settings, client, alice):
    loaded = load(FLEETWATCH_SECURE_COOKIES="true")
    settings.SESSION_COOKIE_SECURE = loaded["SESSION_COOKIE_SECURE"]
    settings.CSRF_COOKIE_SECURE = loaded["CSRF_COOKIE_SECURE"]
    page = client.get("/login/")
    assert page.cookies["csrftoken"]["secure"] is True
    logged_in = client.post("/login/", {"username": "alice", "password": "pw"})
    assert (logged_in.status_code, logged_in.headers["Location"]) == (302, "/")
    assert logged_in.cookies["sessionid"]["secure"] is True


def test_cookies_are_not_secure_by_default(client, alice):
    page = client.get("/login/")
    assert page.cookies["csrftoken"]["secure"] == ""
    logged_in = client.post("/login/", {"username": "alice", "password": "pw"})
    assert logged_in.status_code == 302
    assert logged_in.cookies["sessionid"]["secure"] == ""
