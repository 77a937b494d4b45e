"""GET /api/v1/backups/metrics: the Prometheus text exposition, read back with prometheus_client's
own parser, value for value."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from fleetwatch.backups.models import BackupJob, JobCheck, RunnerToken
from fleetwatch.backups.runs import close_run, open_run

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL = "/api/v1/backups/metrics"
S1 = {"organization": "org-a", "section": "s1", "type": "dump", "datacenter": "eqiad"}
S2 = {"organization": "org-a", "section": "s2", "type": "snapshot", "datacenter": ""}
B = {"organization": "org-b", "section": "s1", "type": "dump", "datacenter": "eqiad"}


@pytest.fixture
def matrix(orgs):
    a, b = orgs
    s1 = BackupJob.objects.create(
        organization=a, section="s1", type="dump", datacenter="eqiad", status="critical"
    )
    s2 = BackupJob.objects.create(organization=a, section="s2", type="snapshot", freshness=3600)
    other = BackupJob.objects.create(organization=b, section="s1", type="dump", datacenter="eqiad")
    # s1: a good run 2 days ago (1 GiB, 30 min), a failed one 6 days ago, an empty finished one
    # 10 days ago (finished but 0 bytes: not a success for A.6), one 40 days ago (outside every window).
    for days, status, size in [
        (40, "finished", 5),
        (10, "finished", 0),
        (6, "failed", None),
        (2, "finished", 2**30),
    ]:
        start = NOW - timedelta(days=days)
        run, _ = open_run(s1, start_date=start)
        close_run(run, status, end_date=start + timedelta(minutes=30), total_size=size)
    open_run(s1, start_date=NOW - timedelta(hours=1))  # ongoing: not counted
    JobCheck.objects.create(job=s1, kind="freshness", status=0, message="ok", since=NOW, checked=NOW)
    JobCheck.objects.create(job=s1, kind="long_running", status=2, message="slow", since=NOW, checked=NOW)
    run, _ = open_run(other, start_date=NOW - timedelta(hours=3))
    close_run(run, "finished", end_date=NOW - timedelta(hours=2), total_size=10)
    return s1, s2, other


def scrape(client) -> dict:
    with freeze_time(NOW):
        response = client.get(URL)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        assert family.type == "gauge"
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_per_job_gauges(matrix, bob):
    samples = scrape(Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}"))
    good_end = (NOW - timedelta(days=2) + timedelta(minutes=30)).timestamp()
    assert value(samples, "fleetwatch_backup_job_last_good_backup_timestamp_seconds", S1) == good_end
    assert value(samples, "fleetwatch_backup_job_last_size_bytes", S1) == 2**30
    assert value(samples, "fleetwatch_backup_job_last_duration_seconds", S1) == 1800.0
    assert value(samples, "fleetwatch_backup_job_expected_freshness_seconds", S1) == 691200.0
    assert value(samples, "fleetwatch_backup_job_expected_freshness_seconds", S2) == 3600.0
    assert value(samples, "fleetwatch_backup_job_status", S1) == 2.0
    assert value(samples, "fleetwatch_backup_job_status", S2) == 3.0
    assert value(samples, "fleetwatch_backup_job_check_status", {**S1, "check": "freshness"}) == 0.0
    assert value(samples, "fleetwatch_backup_job_check_status", {**S1, "check": "long_running"}) == 2.0
    # No finished run: absent, not zero.
    assert value(samples, "fleetwatch_backup_job_last_size_bytes", S2) is None
    # Another organization's job: not there at all.
    assert [key for key in samples if ("organization", "org-b") in key[1]] == []


def test_success_rates_over_1_7_30_days(matrix, bob):
    samples = scrape(Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}"))
    rates = {
        window: (
            value(samples, f"fleetwatch_backup_job_runs_last_{window}", S1),
            value(samples, f"fleetwatch_backup_job_runs_last_{window}_successful", S1),
        )
        for window in ("day", "week", "month")
    }
    assert rates == {"day": (0, 0), "week": (2, 1), "month": (3, 1)}
    org = {"organization": "org-a"}
    assert [value(samples, f"fleetwatch_backups_last_{w}", org) for w in ("day", "week", "month")] == [
        0,
        2,
        3,
    ]
    assert [
        value(samples, f"fleetwatch_backups_last_{w}_successful", org) for w in ("day", "week", "month")
    ] == [
        0,
        1,
        1,
    ]


def test_a_runner_token_scrapes_its_organization_only(matrix, orgs):
    token = RunnerToken.issue(orgs[1], "prometheus")[1]
    samples = scrape(Client(HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert value(samples, "fleetwatch_backup_job_last_size_bytes", B) == 10
    assert {dict(key[1])["organization"] for key in samples} == {"org-b"}


def test_without_credentials_a_json_401(matrix):
    response = Client().get(URL, HTTP_ACCEPT="text/plain")
    assert (response.status_code, response["WWW-Authenticate"], response.json()) == (
        401,
        "Token",
        {"detail": "Authentication credentials were not provided."},
    )
