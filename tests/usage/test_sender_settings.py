"""The sender's settings as the environment gives them (docs/configuration.md)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def test_defaults(load):
    loaded = load()
    assert loaded["FLEETWATCH_USAGE_METRICS"] is True
    assert loaded["FLEETWATCH_USAGE_COLLECTOR_URL"] == "https://usage.fleetwatch.org/api/v1/usage/collect/"
    assert loaded["FLEETWATCH_USAGE_SITE_ID"] == 1
    assert loaded["FLEETWATCH_INSTALL_METHOD"] == "unspecified"
    assert "fleetwatch.usage.sender" in loaded["INSTALLED_APPS"]
    assert loaded["CELERY_BEAT_SCHEDULE"]["usage-heartbeat"] == {
        "task": "fleetwatch.usage.sender.tasks.send_heartbeat",
        "schedule": 86400,
    }
    assert loaded["CELERY_BEAT_SCHEDULE"]["usage-outbox"] == {
        "task": "fleetwatch.usage.sender.tasks.flush_outbox",
        "schedule": 60,
    }


def test_values(load):
    loaded = load(
        FLEETWATCH_USAGE_METRICS="off",
        FLEETWATCH_USAGE_COLLECTOR_URL="http://127.0.0.1:18701/api/v1/usage/collect/",
        FLEETWATCH_USAGE_SITE_ID="5",
        FLEETWATCH_INSTALL_METHOD="docker",
    )
    assert loaded["FLEETWATCH_USAGE_METRICS"] is False
    assert loaded["FLEETWATCH_USAGE_COLLECTOR_URL"] == "http://127.0.0.1:18701/api/v1/usage/collect/"
    assert (loaded["FLEETWATCH_USAGE_SITE_ID"], loaded["FLEETWATCH_INSTALL_METHOD"]) == (5, "docker")
    # Switched off: no usage entries in the beat schedule.
    assert "usage-heartbeat" not in loaded["CELERY_BEAT_SCHEDULE"]
    assert "usage-outbox" not in loaded["CELERY_BEAT_SCHEDULE"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "FLEETWATCH_USAGE_METRICS",
            "maybe",
            "FLEETWATCH_USAGE_METRICS must be true or false (or 1/0, yes/no, on/off), not 'maybe'",
        ),
        (
            "FLEETWATCH_USAGE_COLLECTOR_URL",
            "usage.example.org/collect",
            "FLEETWATCH_USAGE_COLLECTOR_URL must be a URL starting with http://, https://, not 'usage.example.org/collect'",
        ),
        ("FLEETWATCH_USAGE_SITE_ID", "-1", "FLEETWATCH_USAGE_SITE_ID must be at least 0, not '-1'"),
    ],
)
def test_bad_values_name_the_variable(load, name, value, message):
    with pytest.raises(ImproperlyConfigured) as raised:
        load(**{name: value})
    assert str(raised.value) == message


def test_the_test_run_has_the_sender_switched_off():
    assert settings.FLEETWATCH_USAGE_METRICS is False
    assert os.environ["FLEETWATCH_USAGE_METRICS"] == "false"  # for the servers tests start
