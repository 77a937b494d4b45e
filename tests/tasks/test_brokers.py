"""Background work over real brokers: the embedded filesystem queue and RabbitMQ.

A real Celery worker (in a thread) takes a check task from the broker and runs it; the test
sees its effect in the database and the time-series store. ``FLEETWATCH_TEST_BROKERS`` narrows
the brokers on purpose; a requested broker that is not reachable fails the test.
"""

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError

from fleetwatch.monitoring.models import Check, Metric
from fleetwatch.timeseries import ReadQuery

BROKERS = [
    b.strip() for b in os.environ.get("FLEETWATCH_TEST_BROKERS", "filesystem,amqp").split(",") if b.strip()
]


def broker_app(name, tmp_path):
    app = Celery(f"fleetwatch-test-{name}")
    if name == "filesystem":
        queue = tmp_path / "broker"
        queue.mkdir()
        app.conf.update(
            broker_url="filesystem://",
            # The transport Fleetwatch configures (settings.CELERY_BROKER_TRANSPORT): kombu's own
            # lets a worker read a message file before it is written (a JSONDecodeError under load).
            broker_transport="fleetwatch.core.broker:Transport",
            broker_transport_options={
                "data_folder_in": str(queue),
                "data_folder_out": str(queue),
                "control_folder": str(queue / "control"),
            },
        )
    else:
        url = os.environ.get("FLEETWATCH_TEST_AMQP_URL")
        if not url:
            pytest.fail(
                "FLEETWATCH_TEST_AMQP_URL is not set: run `make test` (it starts RabbitMQ)", pytrace=False
            )
        app.conf.update(broker_url=url)
    app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=False)
    return app


def measured(device) -> bool:
    try:
        return Metric.objects.filter(device=device, configuration="reporting").exists()
    except OperationalError:  # the test database is shared in memory: the worker holds a lock
        return False


@pytest.mark.parametrize("broker", BROKERS)
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_queued_check(broker, tmp_path, device_a, timeseries):
    device_a.last_seen = datetime.now(UTC) - timedelta(hours=1)
    device_a.save()
    check = Check.objects.create(device=device_a, check_type="no_report", params={"minutes": 15})
    app = broker_app(broker, tmp_path)
    import fleetwatch.monitoring.tasks  # noqa: F401  (shared tasks join every app)

    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
        app.send_task("fleetwatch.monitoring.tasks.perform_check", args=[check.pk])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not measured(device_a):
            time.sleep(0.1)
    metric = Metric.objects.get(device=device_a, configuration="reporting")
    assert metric.is_healthy is False  # silent for an hour, checked against 15 minutes
    rows = timeseries.read(ReadQuery("reporting", tags={"object_id": str(device_a.pk)}, retention="short"))
    assert [r.fields for r in rows] == [{"reporting": 0}]
    assert device_a.health.status == "problem"
