"""A device added before its router is flashed is "waiting for first report": unknown, no check
runs, nobody is paged, until its first report or until FLEETWATCH_FIRST_REPORT_GRACE has passed
(issue 13: it used to turn critical within a minute and notify everyone)."""

import json
from datetime import timedelta

import pytest

from fleetwatch.inventory.api.serializers import health_status
from fleetwatch.monitoring.check_runner import run_check
from fleetwatch.monitoring.health import waiting_for_first_report
from fleetwatch.monitoring.models import Check, Metric, StatusChange
from fleetwatch.notifications.models import Notification
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_router(device_a, timeseries, settings):
    """Device A, just added, with a management IP that answers no ping (a documentation
    address), fast ping parameters and no tolerance: without the grace it would page at once."""
    settings.FLEETWATCH_FIRST_REPORT_GRACE = 600
    settings.FLEETWATCH_ALERT_TOLERANCE = 0
    device_a.management_ip = "198.51.100.1"
    device_a.save()
    Check.objects.filter(device=device_a, check_type="ping").update(
        params={"count": 2, "interval": 10, "timeout": 100}
    )
    return device_a


def run_all(device, now):
    for check in Check.objects.filter(device=device).select_related("device__organization"):
        run_check(check, now)


def test_a_new_device_is_waiting_and_raises_nothing_within_the_grace(
    new_router, alice, bob, django_capture_on_commit_callbacks
):
    created = new_router.created
    assert sorted(Check.objects.filter(device=new_router).values_list("check_type", flat=True)) == [
        "data_collected",
        "ping",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for minute in range(1, 10):  # nine minutes of check runs, every minute
            run_all(new_router, created + timedelta(minutes=minute))
    assert waiting_for_first_report(new_router, created + timedelta(minutes=9, seconds=59)) is True
    assert Metric.objects.filter(device=new_router).count() == 0  # no ping, no "data collected"
    new_router.refresh_from_db()
    assert health_status(new_router) == "unknown"
    assert StatusChange.objects.filter(device=new_router).count() == 0
    assert Notification.objects.count() == 0


def test_after_the_grace_the_usual_checks_apply(new_router, alice, django_capture_on_commit_callbacks):
    after = new_router.created + timedelta(seconds=600)
    assert waiting_for_first_report(new_router, after) is False
    with django_capture_on_commit_callbacks(execute=True):
        run_all(new_router, after)
        run_all(new_router, after + timedelta(minutes=1))
    assert sorted(Metric.objects.filter(device=new_router).values_list("configuration", "is_healthy")) == [
        ("data_collected", False),
        ("ping", False),
    ]
    new_router.refresh_from_db()
    assert health_status(new_router) == "critical"
    # Never installed after all: the team hears of it now (both checks ran before either was down,
    # so "no data" was not yet known to be explained by ping).
    assert sorted(Notification.objects.filter(user=alice).values_list("title", flat=True)) == [
        "ap-lobby: Monitoring Data Collected problem",
        "ap-lobby: Ping problem",
    ]


def test_the_first_report_ends_the_wait_at_once(
    client, new_router, alice, django_capture_on_commit_callbacks
):
    response = client.post(
        f"/api/v1/monitoring/device/{new_router.pk}/?key={new_router.key}",
        json.dumps(example_report()),
        content_type="application/json",
    )
    assert response.status_code == 200
    new_router.refresh_from_db()
    now = new_router.last_seen + timedelta(seconds=1)
    assert now < new_router.created + timedelta(seconds=600)  # well within the grace
    assert waiting_for_first_report(new_router, now) is False
    with django_capture_on_commit_callbacks(execute=True):
        run_all(new_router, now)
    metrics = dict(
        Metric.objects.filter(device=new_router, configuration__in=["ping", "data_collected"]).values_list(
            "configuration", "is_healthy"
        )
    )
    assert metrics == {"ping": False, "data_collected": True}  # checked: data came, ping fails
    new_router.refresh_from_db()
    assert health_status(new_router) == "problem"


def test_a_grace_of_zero_checks_from_the_start(new_router, settings):
    settings.FLEETWATCH_FIRST_REPORT_GRACE = 0
    assert waiting_for_first_report(new_router, new_router.created) is False
    run_all(new_router, new_router.created + timedelta(minutes=1))
    assert Metric.objects.filter(device=new_router).count() == 2


def test_the_pages_say_waiting_for_first_report(client, bob, device_a):
    client.force_login(bob)
    fleet = client.get("/").content.decode()
    assert '<span class="status unknown">waiting for first report</span>' in fleet
    page = client.get(f"/devices/{device_a.pk}/").content.decode()
    assert '<span class="status unknown" id="health-status">waiting for first report</span>' in page
    # Once it reported, an unknown status is just unknown (nothing judged yet).
    device_a.last_seen = device_a.created + timedelta(minutes=1)
    device_a.save()
    assert '<span class="status unknown">unknown</span>' in client.get("/").content.decode()
    page = client.get(f"/devices/{device_a.pk}/").content.decode()
    assert '<span class="status unknown" id="health-status">unknown</span>' in page


@pytest.mark.django_db(transaction=True)
def test_the_demo_shows_a_router_waiting_for_its_first_report(live_server, timeseries, client):
    from datetime import UTC, datetime
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from fleetwatch.inventory.models import Device

    def simulate():  # as `fleetwatch serve --demo` runs it, without --live
        argv = [
            "--devices",
            "2",
            "--days",
            "0.01",
            "--org",
            "demo",
            "--url",
            live_server.url,
            "--waiting",
            "1",
            # One report at a time: the live server shares the test's in-memory SQLite connection
            # across its threads, and two requests at once interleave their savepoints on it.
            "--concurrency",
            "1",
        ]
        call_command("simulate", *argv, stdout=StringIO())

    simulate()
    new = Device.objects.get(name="new-000")
    assert (new.organization.slug, new.last_seen, new.management_ip) == ("demo", None, "192.0.2.1")
    assert Device.objects.get(name="sim-000").last_seen is not None  # the others report
    now = datetime.now(UTC)
    run_all(new, now)
    assert Metric.objects.filter(device=new).count() == 0  # not even pinged
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    row = client.get("/").content.decode().split(f'data-device="{new.pk}"')[1].split("</tr>")[0]
    assert '<span class="status unknown">waiting for first report</span>' in row
    # The next start of the demo counts it as added just now again.
    Device.objects.filter(pk=new.pk).update(created=now - timedelta(days=3))
    simulate()
    new.refresh_from_db()
    assert new.created >= now
    assert Device.objects.filter(name__startswith="new-").count() == 1
