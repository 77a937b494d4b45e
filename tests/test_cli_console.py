"""The console of ``fleetwatch serve``/``worker`` (issue 21): libraries at WARNING, Fleetwatch's
events at INFO, one line each: a device changing health, a notification sent or failed, a
time-series store outage and its end (once for all the processes of a data directory)."""

import io
import logging
import logging.config
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.core.timeseries import OutageWatch
from fleetwatch.timeseries import BackendUnavailable
from tests.test_cli_settings import ROOT


def console_of(env: dict[str, str], tmp_path) -> str:
    """What a process configured by settings.LOGGING (with ``env``) prints for one library INFO
    line (Celery's per-task line), one library WARNING, and one event at INFO and DEBUG."""
    code = (
        "import django, logging; django.setup()\n"
        "logging.getLogger('celery.app.trace').info('Task fleetwatch.monitoring.tasks.run_checks succeeded')\n"
        "logging.getLogger('kombu.connection').warning('a library warning')\n"
        "logging.getLogger('fleetwatch.events').info('device ap-lobby (org-a) is critical, was ok')\n"
        "logging.getLogger('fleetwatch.monitoring.evaluation').debug('evaluation pass: 1 reports')\n"
    )
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT / "src"),
        "HOME": str(tmp_path),
        "FLEETWATCH_DATA_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "fleetwatch.settings",
        "FLEETWATCH_BROKER": "amqp://guest:guest@127.0.0.1:5672//",  # kombu's warnings shown
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "")
    return "".join(line.split(" ", 2)[2] + "\n" for line in result.stderr.splitlines())  # no date/time


def test_libraries_log_warnings_and_fleetwatch_its_events(tmp_path):
    assert console_of({}, tmp_path) == (
        "WARNING kombu.connection: a library warning\n"
        "INFO fleetwatch.events: device ap-lobby (org-a) is critical, was ok\n"
    )


def test_fleetwatch_log_level_changes_it(tmp_path):
    assert console_of({"FLEETWATCH_LOG_LEVEL": "DEBUG"}, tmp_path) == (
        "WARNING kombu.connection: a library warning\n"
        "INFO fleetwatch.events: device ap-lobby (org-a) is critical, was ok\n"
        "DEBUG fleetwatch.monitoring.evaluation: evaluation pass: 1 reports\n"
    )
    assert console_of({"FLEETWATCH_LOG_LEVEL": "ERROR"}, tmp_path) == ""


def test_the_worker_takes_the_logging_of_the_settings_not_celerys():
    from celery import signals

    from fleetwatch import celery as fleetwatch_celery

    receivers = [r() for _, r in signals.setup_logging.receivers]
    assert fleetwatch_celery._django_logging in receivers
    from fleetwatch.cli import _worker_command

    command = _worker_command(concurrency=1, beat=False)
    assert "--loglevel" not in command
    assert command[command.index("celery") + 1] == "--quiet"  # no banner
    if os.geteuid() == 0:  # Celery's root warning silenced, explained once by the command instead
        assert command[1:3] == ["-W", "ignore:You're running the worker with superuser privileges"]


@pytest.mark.django_db
def test_a_health_change_is_one_line(caplog, orgs):
    from fleetwatch.inventory.models import Device
    from fleetwatch.monitoring.health import refresh_status
    from fleetwatch.monitoring.models import Metric

    device = Device.objects.create(organization=orgs[0], name="ap-lobby")
    now = datetime.now(UTC)
    Metric.objects.create(
        device=device, configuration="ping", name="ping", key="ping", field_name="reachable", is_healthy=False
    )
    Metric.objects.create(
        device=device,
        configuration="data_collected",
        name="data",
        key="data_collected",
        field_name="data_collected",
        is_healthy=False,
    )
    with caplog.at_level("INFO", "fleetwatch.events"):
        assert refresh_status(device, now, reason="no answer to ping") == "critical"
        assert refresh_status(device, now + timedelta(minutes=1), reason="no answer to ping") == "critical"
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("fleetwatch.events", "INFO", "device ap-lobby (org-a) is critical, was unknown: no answer to ping")
    ]


@pytest.mark.django_db
def test_a_webhook_sent_or_failed_is_one_line(caplog, orgs, monkeypatch):
    from fleetwatch.notifications import webhooks
    from fleetwatch.notifications.models import Webhook, WebhookDelivery
    from fleetwatch.notifications.tasks import attempt_delivery

    hook = Webhook.objects.create(organization=orgs[0], name="pager", url="https://hooks.example.org/x")
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    answers = iter([(200, ""), (None, "connection refused")])
    monkeypatch.setattr(webhooks, "post", lambda *a, **k: next(answers))
    sent = WebhookDelivery.objects.create(webhook=hook, kind="problem", payload={}, created=now)
    failed = WebhookDelivery.objects.create(webhook=hook, kind="recovery", payload={}, created=now)
    with caplog.at_level("INFO", "fleetwatch.events"):
        assert attempt_delivery(sent, now) is False
        assert attempt_delivery(failed, now) is True
    next_at = failed.next_attempt.strftime("%H:%M:%S")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "webhook pager: problem notification sent (HTTP 200)"),
        ("WARNING", f"webhook pager: attempt 1 failed (connection refused); next attempt at {next_at}"),
    ]


class Store:
    """A store that is up or down as the test says."""

    up = True

    def read(self, query):
        if not self.up:
            raise BackendUnavailable("connection refused")
        return ["row"]


def test_a_store_outage_and_its_end_are_one_line_each_for_all_processes(tmp_path, caplog):
    marker = tmp_path / "timeseries-outage"
    web, worker = Store(), Store()
    watch_web, watch_worker = OutageWatch(marker, recheck=0), OutageWatch(marker, recheck=0)
    # two processes: their watches share only the marker file
    web.read = watch_web.wrap(web, "read")
    worker.read = watch_worker.wrap(worker, "read")
    with caplog.at_level("INFO", "fleetwatch.events"):
        assert web.read("q") == ["row"]
        Store.up = False
        try:
            for store in (web, worker, web, worker):
                with pytest.raises(BackendUnavailable):
                    store.read("q")
        finally:
            Store.up = True
        assert worker.read("q") == ["row"]
        assert web.read("q") == ["row"]
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert messages[0] == ("WARNING", "the time-series store is unavailable: connection refused")
    assert len(messages) == 2
    assert messages[1][0] == "INFO"
    assert messages[1][1].startswith("the time-series store answers again (unavailable for ")
    assert not marker.exists()


def test_the_projects_backend_is_watched(timeseries):
    for name in ("read", "write", "chart"):  # instance attributes wrapping the class's methods
        assert "watched" in vars(timeseries)[name].__code__.co_name
        assert vars(timeseries)[name].__wrapped__ is getattr(type(timeseries), name)


def test_log_lines_of_a_configured_console_have_their_time_level_and_logger():
    from django.conf import settings

    stream = io.StringIO()
    config = {**settings.LOGGING, "handlers": {"console": {**settings.LOGGING["handlers"]["console"]}}}
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        logging.getLogger("fleetwatch.events").info("device x (o) is ok, was unknown")
        logging.getLogger("celery.app.trace").info("Task x succeeded")
    finally:
        logging.config.dictConfig(settings.LOGGING)
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert line.split(" ", 2)[2] == "INFO fleetwatch.events: device x (o) is ok, was unknown\n"
