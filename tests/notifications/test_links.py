"""Webhook and e-mail links follow the served address unless FLEETWATCH_BASE_URL is set (issue
13: ``externalURL`` and ``generatorURL`` pointed to port 8000 whatever the server served on)."""

import os
import runpy
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import RequestFactory

from fleetwatch import cli
from fleetwatch.core.hosts import served_url
from fleetwatch.monitoring.alerts import evaluate
from fleetwatch.monitoring.check_runner import metric_for
from fleetwatch.notifications.links import base_url, served_from
from fleetwatch.notifications.models import Webhook, WebhookDelivery

SETTINGS = Path(cli.__file__).with_name("settings.py")


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("127.0.0.1:8171", "http://127.0.0.1:8171"),
        ("192.0.2.7:80", "http://192.0.2.7"),
        ("[::1]:8443", "http://[::1]:8443"),
        ("[::1]", "http://[::1]:8000"),
        ("fleet.lan", "http://fleet.lan:8000"),
        ("0.0.0.0:8172", f"http://{socket.gethostname()}:8172"),
        ("[::]:8172", f"http://{socket.gethostname()}:8172"),
        ("unix:/run/fleetwatch.sock", "http://localhost"),
    ],
)
def test_the_served_url_of_a_bind_address(bind, url):
    assert served_url(bind) == url


@pytest.fixture
def unset(settings):
    """FLEETWATCH_BASE_URL unset, `fleetwatch serve --bind 127.0.0.1:8171`."""
    settings.FLEETWATCH_BASE_URL_IS_SET = False
    settings.FLEETWATCH_BASE_URL = "http://127.0.0.1:8171"
    settings.ALLOWED_HOSTS = ["fleet.lan"]


def test_unset_it_follows_the_bind_address_or_the_request(unset):
    request = RequestFactory().get("/", HTTP_HOST="fleet.lan:8080")
    assert base_url() == "http://127.0.0.1:8171"
    assert base_url(request) == "http://fleet.lan:8080"
    with served_from(request):
        assert base_url() == "http://fleet.lan:8080"
    assert base_url() == "http://127.0.0.1:8171"


def test_set_it_is_used_everywhere(unset, settings):
    settings.FLEETWATCH_BASE_URL_IS_SET = True
    settings.FLEETWATCH_BASE_URL = "https://fleetwatch.example.org"
    request = RequestFactory().get("/", HTTP_HOST="fleet.lan:8080")
    assert base_url(request) == "https://fleetwatch.example.org"
    with served_from(request):
        assert base_url() == "https://fleetwatch.example.org"


@pytest.mark.django_db
@pytest.mark.parametrize("in_request", [False, True])
def test_webhook_payload_links(unset, device_a, timeseries, allow_private_webhooks, in_request):
    webhook = Webhook.objects.create(
        organization=device_a.organization, name="ops", url="http://127.0.0.1:9/alerts"
    )
    disk = metric_for(device_a, "disk")  # > 90 %, no tolerance
    now = datetime.now(UTC) - timedelta(minutes=1)
    if in_request:  # e.g. a check a view runs right after its settings were saved
        with served_from(RequestFactory().get("/", HTTP_HOST="fleet.lan:8080")):
            assert evaluate(disk, 97.0, now) == "problem"
        expected = "http://fleet.lan:8080"
    else:  # the worker
        assert evaluate(disk, 97.0, now) == "problem"
        expected = "http://127.0.0.1:8171"
    payload = WebhookDelivery.objects.get(webhook=webhook).payload
    assert payload["externalURL"] == expected
    assert payload["alerts"][0]["generatorURL"] == f"{expected}/devices/{device_a.pk}/"


def test_serve_exports_its_bind_address_to_the_processes_it_starts(monkeypatch, tmp_path):
    """`fleetwatch serve --bind` (also `make run`, whose worker is started by serve): the
    gunicorn processes and the worker load the settings afresh, from this environment."""
    monkeypatch.setenv("FLEETWATCH_BIND", "127.0.0.1:8000")  # restored afterwards
    monkeypatch.delenv("FLEETWATCH_BASE_URL", raising=False)
    monkeypatch.setenv("FLEETWATCH_DATA_DIR", str(tmp_path))
    started = []

    class Started(Exception):
        pass

    def execvp(file, args):
        started.append((args, dict(os.environ)))
        raise Started

    monkeypatch.setattr(cli.os, "execvp", execvp)
    monkeypatch.setattr("django.core.management.call_command", lambda *a, **k: None)
    with pytest.raises(Started):
        cli.serve(["--bind", "127.0.0.1:8171", "--no-migrate"])
    [(args, env)] = started
    assert args[args.index("--bind") + 1] == "127.0.0.1:8171"
    assert env["FLEETWATCH_BIND"] == "127.0.0.1:8171"
    assert runpy.run_path(str(SETTINGS))["FLEETWATCH_BASE_URL"] == "http://127.0.0.1:8171"
