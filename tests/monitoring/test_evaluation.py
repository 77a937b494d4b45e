"""Alert evaluation of reported values in batches: a report records one row and queues no task;
one evaluation pass judges every pending report, in time order per device, exactly once."""

from datetime import UTC, datetime, timedelta

import pytest
from celery.app.task import Task

from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.evaluation import _evaluate_batch, evaluate_pending
from fleetwatch.monitoring.models import EvaluationLease, Metric, PendingEvaluation, StatusChange
from fleetwatch.notifications.models import Notification
from fleetwatch.timeseries import BackendUnavailable
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db

# Live reports: within the last five minutes (older ones are history and raise no alert).
START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=4)


@pytest.fixture(autouse=True)
def _live_start():
    """START is taken again before each test: set once at import, it fell out of the live
    window when the whole suite took more than a minute to reach this module."""
    global START
    START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=4)


STEP = timedelta(seconds=30)
DISK_SIZE = 258016 + 16112  # both file systems of the example report


def report(cpu: float = 10, disk: float = 10) -> dict:
    """The example report with CPU usage and disk usage (%) set."""
    body = example_report()
    body["resources"]["load"][0] = cpu / 100  # one CPU: usage = 100 × load
    body["resources"]["disk"][0]["used_bytes"] = round(disk / 100 * DISK_SIZE) - 3872
    return body


def post(client, device, body, when: datetime):
    import json

    stamp = when.strftime("%d-%m-%Y_%H:%M:%S.%f")
    response = client.post(
        f"/api/v1/monitoring/device/{device.pk}/?key={device.key}&time={stamp}",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 200
    return response


@pytest.fixture
def no_tolerance(settings):
    settings.FLEETWATCH_ALERT_TOLERANCE = "0"  # alert settings created from now on act at once


@pytest.fixture
def queued(monkeypatch):
    """Names of the tasks queued (tests run them inline, so count the calls)."""
    names = []
    original = Task.apply_async

    def spy(self, *args, **kwargs):
        names.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", spy)
    return names


def kinds(user, device):
    return list(
        Notification.objects.filter(user=user, device_id=device.pk)
        .order_by("time", "id")
        .values_list("kind", flat=True)
    )


def history(device):
    return list(
        StatusChange.objects.filter(device=device).order_by("time", "id").values_list("status", "time")
    )


@pytest.fixture
def fleet(orgs):
    return [Device.objects.create(organization=orgs[0], name=f"ap-{i}") for i in range(3)]


def test_reports_queue_no_task_and_one_pass_judges_them_all_in_order(
    client, timeseries, alice, fleet, no_tolerance, queued
):
    flapping, healthy, full_disk = fleet
    cpu = [50, 95, 50, 95, 95]
    for step in range(5):  # posted as a fleet does: every device, step after step
        when = START + step * STEP
        post(client, flapping, report(cpu=cpu[step]), when)
        post(client, healthy, report(), when)
        post(client, full_disk, report(disk=95 if step == 4 else 10), when)

    assert queued == []  # 15 reports of 3 devices: no task at all …
    assert PendingEvaluation.objects.count() == 15  # … one row each, nothing judged yet
    assert not Metric.objects.filter(is_healthy__isnull=False).exists()

    assert evaluate_pending() == 15
    assert not PendingEvaluation.objects.exists()
    statuses = {d.name: d.health.status for d in Device.objects.filter(pk__in=[d.pk for d in fleet])}
    assert statuses == {"ap-0": "problem", "ap-1": "ok", "ap-2": "problem"}
    # Every value was judged at its own time, oldest first.
    times = [START + step * STEP for step in range(5)]
    assert history(flapping) == [
        ("ok", times[0]),
        ("problem", times[1]),
        ("ok", times[2]),
        ("problem", times[3]),
    ]
    assert history(healthy) == [("ok", times[0])]
    assert history(full_disk) == [("ok", times[0]), ("problem", times[4])]
    assert kinds(alice, flapping) == ["problem", "recovery", "problem"]
    assert kinds(alice, healthy) == []
    assert kinds(alice, full_disk) == ["problem"]

    # The next tick has nothing to do, and nobody hears twice.
    assert evaluate_pending() == 0
    assert Notification.objects.filter(user=alice).count() == 4
    assert StatusChange.objects.count() == 7


def test_a_pass_evaluates_in_batches(client, timeseries, fleet, no_tolerance):
    for step in range(4):
        for device in fleet:
            post(client, device, report(cpu=95 if step == 3 else 10), START + step * STEP)
    assert evaluate_pending(batch=5) == 12  # three batches, one pass
    assert not PendingEvaluation.objects.exists()
    assert {d.health.status for d in Device.objects.filter(pk__in=[d.pk for d in fleet])} == {"problem"}


def test_a_device_s_values_are_judged_in_time_order_whatever_the_arrival(
    client, timeseries, device_a, no_tolerance
):
    post(client, device_a, report(cpu=20), START + 2 * STEP)  # the latest value arrives first
    post(client, device_a, report(cpu=95), START + STEP)  # an older one (an agent's retry) after
    evaluate_pending()
    cpu = Metric.objects.get(device=device_a, configuration="cpu")
    assert cpu.is_healthy is True  # the latest value decides
    assert history(device_a) == [("problem", START + STEP), ("ok", START + 2 * STEP)]


def test_back_dated_reports_record_nothing(client, timeseries, device_a, queued):
    post(client, device_a, report(cpu=95), datetime.now(UTC) - timedelta(minutes=6))
    assert not PendingEvaluation.objects.exists()
    assert queued == []


def test_a_redelivered_pass_changes_nothing(client, timeseries, alice, device_a, no_tolerance):
    """A pass that read the rows before another one committed them (acks_late redelivery, or an
    expired lease) finds them gone and evaluates nothing."""
    post(client, device_a, report(cpu=95), START)
    stale = list(PendingEvaluation.objects.all())
    assert evaluate_pending() == 1
    assert _evaluate_batch(stale) == (0, False, False)
    assert kinds(alice, device_a) == ["problem"]
    assert len(history(device_a)) == 1


def test_one_pass_at_a_time(client, timeseries, device_a):
    post(client, device_a, report(), START)
    now = datetime.now(UTC)
    EvaluationLease.objects.create(pk=1, holder="another pass", expires=now + timedelta(seconds=30))
    assert evaluate_pending() == 0  # the running pass will take it
    assert PendingEvaluation.objects.count() == 1
    EvaluationLease.objects.filter(pk=1).update(expires=now - timedelta(seconds=1))  # it died
    assert evaluate_pending() == 1
    assert EvaluationLease.objects.get(pk=1).expires <= datetime.now(UTC)  # released


def test_values_wait_while_the_time_series_store_is_down(client, timeseries, device_a, monkeypatch):
    post(client, device_a, report(cpu=95), START)  # CPU > 90 %: the tolerance window is read
    post(client, device_a, report(cpu=96), START + STEP)

    def down(*args, **kwargs):
        raise BackendUnavailable("connection refused")

    monkeypatch.setattr(type(timeseries), "read", down)
    assert evaluate_pending() == 0
    assert PendingEvaluation.objects.count() == 2
    assert Metric.objects.get(device=device_a, configuration="cpu").is_healthy is None
    monkeypatch.undo()
    assert evaluate_pending() == 2
    assert Metric.objects.get(device=device_a, configuration="cpu").is_healthy is False


def test_a_pass_logs_how_long_its_oldest_report_waited(client, timeseries, device_a, caplog):
    """The lag bench/scale.py reads from the worker's log: now − the oldest report's time."""
    from freezegun import freeze_time

    post(client, device_a, report(), START)
    post(client, device_a, report(), START + STEP)
    with (
        freeze_time(START + timedelta(minutes=5)),
        caplog.at_level("DEBUG", "fleetwatch.monitoring.evaluation"),
    ):
        assert evaluate_pending() == 2
    assert [r.getMessage() for r in caplog.records if r.name == "fleetwatch.monitoring.evaluation"] == [
        "evaluation pass: 2 reports in 0.00 s; the oldest waited 300.0 s"
    ]
    caplog.clear()
    assert evaluate_pending() == 0  # an idle pass logs nothing
    assert caplog.records == []


def test_a_batch_loads_only_the_metrics_of_the_configurations_reported(client, timeseries, fleet, caplog):
    """The batch's metric query is narrowed to the reported configurations; a row that does
    not parse narrows nothing and is dropped, logged, by its own device's evaluation."""
    from fleetwatch.monitoring.evaluation import _configurations

    good, bad, _ = fleet
    post(client, good, report(disk=95), START)
    broken = PendingEvaluation.objects.create(device=bad, time=START, reported="not json")
    rows = list(PendingEvaluation.objects.order_by("pk"))
    assert _configurations(rows) == {"cpu", "disk", "memory"}
    assert Metric.objects.filter(device=good).exclude(configuration__in=["cpu", "disk", "memory"]).exists()

    with caplog.at_level("ERROR", "fleetwatch.monitoring.evaluation"):
        assert evaluate_pending() == 1
    assert not PendingEvaluation.objects.exists()
    assert Metric.objects.get(device=good, configuration="disk").is_healthy is False
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"alert evaluation of device {bad.pk} failed; 1 reports dropped"
    ]
    assert broken.pk not in set(PendingEvaluation.objects.values_list("pk", flat=True))
