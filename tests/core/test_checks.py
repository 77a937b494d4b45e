"""Fleetwatch's system checks (fleetwatch.core.checks): one test per id, on the settings as a
settings module or the environment would leave them. No server is contacted (the ``--connect``
checks are run against loopback ports in tests/test_cli_settings.py)."""

import pytest
from django.core import checks

from fleetwatch.core import checks as fleetwatch_checks


def found(deploy=False) -> list[tuple[str, str]]:
    """(id, message) of every issue Fleetwatch's checks report."""
    issues = checks.run_checks(tags=["fleetwatch"], include_deployment_checks=deploy)
    return [(issue.id, issue.msg) for issue in issues]


def test_the_test_settings_pass():
    assert found() == []


def test_the_checks_are_registered_under_the_fleetwatch_tag():
    assert checks.tag_exists("fleetwatch")
    assert checks.run_checks(tags=["fleetwatch"]) == []
    assert not checks.tag_exists("connectivity")  # only `fleetwatch check --connect` adds it


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "mysql://127.0.0.1/ts",
            "The time-series store is misconfigured: unknown time-series URL scheme 'mysql'; use one of "
            "elasticsearch, influxdb, influxdb2, postgres, postgresql, sqlite.",
        ),
        (
            {"NAME": "ts.db"},
            "The time-series store is misconfigured: TIMESERIES_DATABASE needs a BACKEND.",
        ),
        (
            {"BACKEND": "fleetwatch.no_such_backend"},
            "The time-series store is misconfigured: cannot import time-series backend "
            "'fleetwatch.no_such_backend': No module named 'fleetwatch.no_such_backend'.",
        ),
        (
            {"BACKEND": "sqlite", "NAME": "ts.db", "PORT": "fifty"},
            "The time-series store is misconfigured: invalid literal for int() with base 10: 'fifty'.",
        ),
    ],
)
def test_e001_time_series_settings_that_cannot_be_used(settings, config, message):
    settings.TIMESERIES_DATABASE = config
    assert found() == [("fleetwatch.E001", message)]


def test_e002_the_backends_client_package_is_missing(settings, monkeypatch):
    settings.TIMESERIES_DATABASE = "postgresql://fleetwatch@127.0.0.1:5432/fleetwatch"
    assert found() == []  # psycopg is installed here
    monkeypatch.setattr(fleetwatch_checks, "_installed", lambda module: module != "psycopg")
    assert found() == [
        (
            "fleetwatch.E002",
            "The postgresql time-series backend needs the psycopg package, which is not installed.",
        )
    ]
    [issue] = checks.run_checks(tags=["fleetwatch"])
    assert issue.hint == "pip install 'fleetwatch[postgres]'"


def test_e003_an_unsupported_broker(settings):
    settings.CELERY_BROKER_URL = "sqs://queue"
    assert found() == [("fleetwatch.E003", "The broker URL's scheme 'sqs' is not supported.")]


def test_e004_the_brokers_client_package_is_missing(settings, monkeypatch):
    settings.CELERY_BROKER_URL = "amqp://fleetwatch@127.0.0.1:5672/fleetwatch"
    assert found() == []  # amqp comes with Celery
    monkeypatch.setattr(fleetwatch_checks, "_installed", lambda module: module != "amqp")
    assert found() == [
        ("fleetwatch.E004", "The amqp:// broker needs the amqp package, which is not installed.")
    ]


def test_e005_starttls_and_implicit_tls_together(settings):
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = True
    assert found() == [
        (
            "fleetwatch.E005",
            "FLEETWATCH_EMAIL_TLS and FLEETWATCH_EMAIL_SSL are both on; a server speaks one of them.",
        )
    ]


@pytest.mark.parametrize("port", ["25", 0, 70000, True])
def test_e006_the_email_port(settings, port):
    settings.EMAIL_PORT = port
    assert found() == [
        ("fleetwatch.E006", f"The e-mail port must be an integer from 1 to 65535, not {port!r}.")
    ]


@pytest.mark.parametrize("address", ["fleetwatch", "Fleetwatch <fleetwatch>", "a@b@c", ""])
def test_e007_the_from_address(settings, address):
    settings.DEFAULT_FROM_EMAIL = address
    assert found() == [("fleetwatch.E007", f"The e-mail from address {address!r} is not an e-mail address.")]


@pytest.mark.parametrize(
    "address", ["fleetwatch@localhost", "fleetwatch@example.org", "Fleetwatch <fleetwatch@example.org>"]
)
def test_valid_from_addresses(settings, address):
    settings.DEFAULT_FROM_EMAIL = address
    assert found() == []


def test_w008_a_password_in_clear_text(settings):
    settings.EMAIL_HOST, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = (
        "smtp.example.org",
        "u",
        "pw",
    )
    assert found() == [
        ("fleetwatch.W008", "The SMTP password would be sent to smtp.example.org without TLS.")
    ]
    settings.EMAIL_USE_TLS = True
    assert found() == []
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST = False, "127.0.0.1"  # a local relay
    assert found() == []


def test_e009_unknown_auto_checks(settings):
    settings.FLEETWATCH_AUTO_CHECKS = ["ping", "pong"]
    assert found() == [("fleetwatch.E009", "FLEETWATCH_AUTO_CHECKS names unknown check types: pong.")]
    settings.FLEETWATCH_AUTO_CHECKS = []
    assert found() == []


def test_w010_only_with_deploy(settings):
    settings.FLEETWATCH_BASE_URL = "http://127.0.0.1:8000"
    assert found() == []
    assert found(deploy=True) == [
        (
            "fleetwatch.W010",
            "FLEETWATCH_BASE_URL is 'http://127.0.0.1:8000': links in e-mails and webhook payloads "
            "would not use HTTPS.",
        )
    ]
    settings.FLEETWATCH_BASE_URL = "https://fleetwatch.example.org"
    assert found(deploy=True) == []


def test_connectivity_on_the_embedded_stack(settings, tmp_path):
    settings.TIMESERIES_DATABASE = f"sqlite:///{tmp_path / 'ts.db'}"
    assert fleetwatch_checks.check_connectivity() == []


def test_connectivity_skips_what_is_misconfigured(settings):
    # The configuration errors are reported by E001/E003; nothing is contacted for them.
    settings.TIMESERIES_DATABASE = "mysql://127.0.0.1/ts"
    settings.CELERY_BROKER_URL = "sqs://queue"
    assert fleetwatch_checks.check_connectivity() == []
