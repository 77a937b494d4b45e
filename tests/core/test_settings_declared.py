"""Every FLEETWATCH_* variable is read in settings.py, through the typed readers, and documented
in docs/configuration.md; the rest of the code reads settings, never the environment, and never
with a made-up default (``getattr(settings, name, default)``)."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

import fleetwatch.settings
from tests.settings_env import SETTINGS, variables_read_in_settings

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "fleetwatch"


def variables_documented() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    table = text.split("\n## Variables\n", 1)[1].split("\n## ", 1)[0]
    return {match for line in table.splitlines() for match in re.findall(r"^\| `(FLEETWATCH_\w+)`", line)}


def test_the_documented_variables_are_exactly_the_ones_settings_reads():
    read = variables_read_in_settings()
    assert len(read) == 74
    assert variables_documented() == read


def test_nothing_else_reads_fleetwatch_variables_from_the_environment():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SETTINGS:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"(environ\.get|environ\[|getenv)\(?\s*[\"']FLEETWATCH_", line):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
            if re.search(r"getattr\(settings,", line):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []


def test_every_fleetwatch_setting_the_code_uses_is_declared():
    used = set()
    for path in SRC.rglob("*.py"):
        used.update(re.findall(r"\bsettings\.(FLEETWATCH_\w+)", path.read_text()))
    assert len(used) >= 15
    assert sorted(name for name in used if not hasattr(fleetwatch.settings, name)) == []
    assert sorted(name for name in used if not hasattr(django_settings, name)) == []


# ------------------------------------------------------------------ what the variables turn into
def test_defaults(load):
    loaded = load()
    assert loaded["CHECK_INTERVAL_SECONDS"] == 300.0
    assert loaded["ALERT_EVALUATION_INTERVAL_SECONDS"] == 5.0
    assert loaded["FLEETWATCH_ALERT_TOLERANCE"] is None
    assert loaded["FLEETWATCH_TOLERANCE_INTERVAL"] == 300
    assert loaded["FLEETWATCH_FIRST_REPORT_GRACE"] == 86400.0
    assert loaded["FLEETWATCH_AUTO_CHECKS"] is None
    assert loaded["FLEETWATCH_CHECK_PARAMS"] == {}
    assert loaded["FLEETWATCH_WIFI_CLIENTS_SNOOZE"] == []
    assert loaded["EMAIL_PORT"] == 25
    assert (loaded["EMAIL_USE_TLS"], loaded["EMAIL_USE_SSL"]) == (False, False)
    assert (loaded["SECURE_SSL_REDIRECT"], loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"]) == (False, False)
    assert loaded["SECURE_HSTS_PRELOAD"] is False
    assert loaded["SILENCED_SYSTEM_CHECKS"] == []
    # libraries at WARNING (no line per Celery task), Fleetwatch's events at INFO
    assert (loaded["LOGGING"]["root"]["level"], loaded["LOGGING"]["loggers"]["fleetwatch"]["level"]) == (
        "WARNING",
        "INFO",
    )
    assert (loaded["FLEETWATCH_BIND"], loaded["FLEETWATCH_WORKERS"], loaded["FLEETWATCH_THREADS"]) == (
        "127.0.0.1:8000",
        2,
        4,
    )
    assert loaded["FLEETWATCH_DEMO_WEBHOOK"] == ""
    assert (loaded["FLEETWATCH_BASE_URL"], loaded["FLEETWATCH_BASE_URL_IS_SET"]) == (
        "http://127.0.0.1:8000",
        False,
    )
    assert load(FLEETWATCH_BIND="127.0.0.1:8171")["FLEETWATCH_BASE_URL"] == "http://127.0.0.1:8171"
    assert loaded["CELERY_BEAT_SCHEDULE"]["run-checks"]["schedule"] == 300.0


def test_values(load):
    loaded = load(
        FLEETWATCH_CHECK_INTERVAL="60",
        FLEETWATCH_ALERT_EVALUATION_INTERVAL="0.5",
        FLEETWATCH_ALERT_TOLERANCE="0",
        FLEETWATCH_TOLERANCE_INTERVAL="600",
        FLEETWATCH_FIRST_REPORT_GRACE="3600",
        FLEETWATCH_AUTO_CHECKS="ping, wifi_clients",
        FLEETWATCH_CHECK_PARAMS='{"ping": {"count": 3}}',
        FLEETWATCH_WIFI_CLIENTS_SNOOZE='[["12-24", "01-06"], ["22:00", "06:00"]]',
        FLEETWATCH_EMAIL_PORT="465",
        FLEETWATCH_EMAIL_SSL="yes",
        FLEETWATCH_LOG_LEVEL="debug",
        FLEETWATCH_SILENCED_CHECKS="security.W021",
        FLEETWATCH_BASE_URL="https://fleetwatch.example.org/",
    )
    assert loaded["CELERY_BEAT_SCHEDULE"]["run-checks"]["schedule"] == 60.0
    assert loaded["ALERT_EVALUATION_INTERVAL_SECONDS"] == 0.5
    assert loaded["FLEETWATCH_ALERT_TOLERANCE"] == 0
    assert loaded["FLEETWATCH_TOLERANCE_INTERVAL"] == 600
    assert loaded["FLEETWATCH_FIRST_REPORT_GRACE"] == 3600.0
    assert loaded["FLEETWATCH_AUTO_CHECKS"] == ["ping", "wifi_clients"]
    assert loaded["FLEETWATCH_CHECK_PARAMS"] == {"ping": {"count": 3}}
    assert loaded["FLEETWATCH_WIFI_CLIENTS_SNOOZE"] == [["12-24", "01-06"], ["22:00", "06:00"]]
    assert (loaded["EMAIL_PORT"], loaded["EMAIL_USE_SSL"]) == (465, True)
    # Fleetwatch's loggers follow it; libraries stay at WARNING (no line per Celery task)
    assert loaded["LOGGING"]["loggers"]["fleetwatch"]["level"] == "DEBUG"
    assert loaded["LOGGING"]["root"]["level"] == "WARNING"
    assert load(FLEETWATCH_LOG_LEVEL="error")["LOGGING"]["root"]["level"] == "ERROR"
    assert loaded["SILENCED_SYSTEM_CHECKS"] == ["security.W021"]
    assert loaded["FLEETWATCH_BASE_URL"] == "https://fleetwatch.example.org"
    assert loaded["FLEETWATCH_BASE_URL_IS_SET"] is True
    assert load(FLEETWATCH_AUTO_CHECKS="none")["FLEETWATCH_AUTO_CHECKS"] == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "FLEETWATCH_CHECK_INTERVAL",
            "0",
            "FLEETWATCH_CHECK_INTERVAL must be a duration longer than 0 seconds, not '0'",
        ),
        (
            "FLEETWATCH_ALERT_EVALUATION_INTERVAL",
            "often",
            "FLEETWATCH_ALERT_EVALUATION_INTERVAL must be a number of seconds, e.g. 300 for five minutes, not 'often'",
        ),
        ("FLEETWATCH_ALERT_TOLERANCE", "5m", "FLEETWATCH_ALERT_TOLERANCE must be an integer, not '5m'"),
        (
            "FLEETWATCH_FIRST_REPORT_GRACE",
            "1d",
            "FLEETWATCH_FIRST_REPORT_GRACE must be a number of seconds, e.g. 300 for five minutes, not '1d'",
        ),
        ("FLEETWATCH_EMAIL_PORT", "smtp", "FLEETWATCH_EMAIL_PORT must be an integer, not 'smtp'"),
        ("FLEETWATCH_EMAIL_PORT", "0", "FLEETWATCH_EMAIL_PORT must be at least 1, not '0'"),
        ("FLEETWATCH_WORKERS", "0", "FLEETWATCH_WORKERS must be at least 1, not '0'"),
        (
            "FLEETWATCH_LOG_LEVEL",
            "verbose",
            "FLEETWATCH_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'verbose'",
        ),
        (
            "FLEETWATCH_DATABASE",
            "mysql://db/fleetwatch",
            "FLEETWATCH_DATABASE must be a URL starting with sqlite://, postgresql://, postgres://, "
            "not 'mysql://db/fleetwatch'",
        ),
        (
            "FLEETWATCH_TIMESERIES",
            "influx://127.0.0.1:8086/db",
            "FLEETWATCH_TIMESERIES must be a URL starting with elasticsearch://, influxdb://, influxdb2://, "
            "postgres://, postgresql://, sqlite://, not 'influx://127.0.0.1:8086/db'",
        ),
        (
            "FLEETWATCH_BASE_URL",
            "fleetwatch.example.org",
            "FLEETWATCH_BASE_URL must be a URL starting with http://, https://, not 'fleetwatch.example.org'",
        ),
        (
            "FLEETWATCH_CHECK_PARAMS",
            '{"ping": {"count": "3"}}',
            "FLEETWATCH_CHECK_PARAMS must be JSON: an object of check types to objects of integer parameters, "
            'e.g. {"ping": {"count": 3}}, not \'{"ping": {"count": "3"}}\'',
        ),
        (
            "FLEETWATCH_WIFI_CLIENTS_SNOOZE",
            '[["12-24", "06:00"]]',
            "FLEETWATCH_WIFI_CLIENTS_SNOOZE must be JSON: a list of [start, end] pairs of MM-DD dates or "
            'HH:MM times, e.g. [["12-24", "01-06"], ["22:00", "06:00"]], not \'[["12-24", "06:00"]]\'',
        ),
        (
            "FLEETWATCH_DEMO_WEBHOOK",
            "ftp://127.0.0.1/hook",
            "FLEETWATCH_DEMO_WEBHOOK must be a URL starting with http://, https://, not 'ftp://127.0.0.1/hook'",
        ),
    ],
)
def test_bad_values_name_the_variable(load, name, value, message):
    with pytest.raises(ImproperlyConfigured) as raised:
        load(**{name: value})
    assert str(raised.value) == message
