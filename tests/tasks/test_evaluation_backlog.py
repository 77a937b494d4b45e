"""A real worker on the embedded (filesystem) broker drains a backlog: reports pending
evaluation behind a queue of other tasks, with the broker options Fleetwatch configures."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db import OperationalError

from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.models import PendingEvaluation, StatusChange
from tests.ingest.payloads import example_report
from tests.tasks.test_brokers import broker_app

DEVICES, REPORTS, OTHER_TASKS = 6, 5, 30


def backlog_left(queue) -> int | None:
    try:
        return PendingEvaluation.objects.count() + len(list(queue.glob("*.msg")))
    except OperationalError:  # the test database is shared in memory: the worker holds a lock
        return None


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_filesystem_broker_drains_a_backlog(client, tmp_path, orgs, timeseries, settings):
    settings.FLEETWATCH_ALERT_TOLERANCE = "0"
    fleet = [Device.objects.create(organization=orgs[0], name=f"ap-{i}") for i in range(DEVICES)]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=4)
    for step in range(REPORTS):
        stamp = (start + step * timedelta(seconds=30)).strftime("%d-%m-%Y_%H:%M:%S.%f")
        for i, device in enumerate(fleet):
            body = example_report()
            body["resources"]["load"][0] = 0.95 if i % 2 and step == REPORTS - 1 else 0.2  # CPU %
            response = client.post(
                f"/api/v1/monitoring/device/{device.pk}/?key={device.key}&time={stamp}",
                json.dumps(body),
                content_type="application/json",
            )
            assert response.status_code == 200
    assert PendingEvaluation.objects.count() == DEVICES * REPORTS

    app = broker_app("filesystem", tmp_path)
    app.conf.broker_transport_options["polling_interval"] = django_settings.FILESYSTEM_BROKER_POLLING_INTERVAL
    import fleetwatch.monitoring.tasks  # noqa: F401  (shared tasks join every app)

    # Checks queued ahead (of checks that no longer exist: quick no-ops), then the schedule's ticks.
    for _ in range(OTHER_TASKS):
        app.send_task("fleetwatch.monitoring.tasks.perform_check", args=[0])
    for _ in range(3):
        app.send_task("fleetwatch.monitoring.tasks.evaluate_pending")
    queue = tmp_path / "broker"
    assert len(list(queue.glob("*.msg"))) == OTHER_TASKS + 3

    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and backlog_left(queue) != 0:
            time.sleep(0.1)
    assert backlog_left(queue) == 0
    statuses = {d.name: d.health.status for d in Device.objects.filter(pk__in=[d.pk for d in fleet])}
    assert statuses == {f"ap-{i}": "problem" if i % 2 else "ok" for i in range(DEVICES)}
    # Each report judged once: ok at the first report, problem at the last for every other device.
    assert StatusChange.objects.count() == DEVICES + DEVICES // 2
