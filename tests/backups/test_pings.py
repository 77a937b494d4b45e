"""Healthchecks-compatible ping URLs (fleetwatch.backups.pings): signals, rid, retries, bodies,
refusals; and the acceptance test with real curl against a live gunicorn server."""

import json
import os
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from bench.server import Server, free_port
from django.test import Client
from freezegun import freeze_time

from fleetwatch.backups.models import BackupJob, BackupRun

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
PORTS = range(8201, 8211)  # the api helper's live-server ports


@pytest.fixture
def job(orgs):
    return BackupJob.objects.create(organization=orgs[0], section="s4", type="dump", datacenter="eqiad")


@pytest.fixture
def client():
    # As curl sends it: no cookie, no CSRF token.
    return Client(enforce_csrf_checks=True)


def ping(client, job, suffix="", method="get", body=None, at=T0, rid=None):
    url = f"/ping/{job.pk if hasattr(job, 'pk') else job}{suffix}"
    if rid:
        url += f"?rid={rid}"
    with freeze_time(at):
        if method == "post":
            return client.post(url, body or b"", content_type="text/plain")
        return getattr(client, method)(url)


def runs(job):
    return list(
        BackupRun.objects.filter(job=job)
        .order_by("start_date", "pk")
        .values_list("status", "start_date", "end_date", "exit_status", "origin")
    )


def test_start_then_success_is_one_finished_run_with_its_duration(client, job):
    started = ping(client, job, "/start")
    ended = ping(client, job, "/0", at=T0 + timedelta(minutes=42))
    for response in (started, ended):
        assert (response.status_code, response["Content-Type"], response.content) == (
            200,
            "text/plain; charset=utf-8",
            b"OK",
        )
    assert runs(job) == [("finished", T0, T0 + timedelta(minutes=42), 0, "ping")]
    assert BackupRun.objects.get().duration == 2520.0
    assert BackupRun.objects.get().name == "dump.s4.2026-11-30--02-00-00"


@pytest.mark.parametrize(
    ("suffix", "status", "exit_status"),
    [
        ("", "finished", None),
        ("/", "finished", None),
        ("/fail", "failed", None),
        ("/3", "failed", 3),
        ("/255", "failed", 255),
    ],
)
def test_a_signal_without_a_start_is_a_run_that_starts_and_ends_now(client, job, suffix, status, exit_status):
    assert ping(client, job, suffix).content == b"OK"
    assert runs(job) == [(status, T0, T0, exit_status, "ping")]


def test_head_and_post_are_pings_too(client, job):
    assert ping(client, job, "/start", method="head").status_code == 200
    assert (
        ping(client, job, "", method="post", body=b"dumped 42 tables", at=T0 + timedelta(seconds=90)).content
        == b"OK"
    )
    run = BackupRun.objects.get()
    assert (run.status, run.duration, run.log) == ("finished", 90.0, "dumped 42 tables")


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        (f"/ping/{uuid.UUID(int=7)}", 404, b"not found"),
        ("/ping/not-a-uuid", 404, b"not found"),
        ("/ping/{job}/restart", 404, b"not found"),
        ("/ping/{job}/256", 400, b"invalid exit status: use 0-255"),
        ("/ping/{job}/99999999999", 404, b"not found"),
        ("/ping/{job}?rid=abc", 400, b"invalid rid: use a UUID"),
    ],
)
def test_refusals_are_plain_text(client, job, path, status, body):
    response = client.get(path.format(job=job.pk))
    assert (response.status_code, response["Content-Type"], response.content) == (
        status,
        "text/plain; charset=utf-8",
        body,
    )
    assert BackupRun.objects.count() == 0


def test_a_method_other_than_get_head_post_is_a_405(client, job):
    response = client.put(f"/ping/{job.pk}")
    assert (response.status_code, response["Allow"], response.content) == (
        405,
        "GET, HEAD, POST",
        b"method not allowed",
    )


def test_a_job_of_a_disabled_organization_is_not_found(client, job):
    job.organization.is_active = False
    job.organization.save()
    assert ping(client, job).status_code == 404


def test_an_inactive_job_still_records_its_pings(client, job):
    job.is_active = False
    job.save()
    assert ping(client, job).status_code == 200
    assert len(runs(job)) == 1


def test_retries_within_a_minute_are_the_same_event(client, job):
    for seconds in (0, 5, 59):  # curl --retry of /start
        ping(client, job, "/start", at=T0 + timedelta(seconds=seconds))
    for seconds in (120, 125, 179):  # and of /0
        ping(client, job, "/0", at=T0 + timedelta(seconds=seconds))
    assert runs(job) == [("finished", T0, T0 + timedelta(seconds=120), 0, "ping")]
    # A minute later it is a new success, and another outcome at once is a new event.
    ping(client, job, "/0", at=T0 + timedelta(seconds=181))
    ping(client, job, "/1", at=T0 + timedelta(seconds=182))
    assert [r[0] for r in runs(job)] == ["finished", "finished", "failed"]


def test_rid_pairs_overlapping_runs(client, job):
    first, second = uuid.uuid4(), uuid.uuid4()
    ping(client, job, "/start", rid=first)
    ping(client, job, "/start", rid=second, at=T0 + timedelta(minutes=1))
    ping(client, job, "/fail", rid=first, at=T0 + timedelta(minutes=10))
    ping(client, job, "", rid=second, at=T0 + timedelta(minutes=30))
    ping(client, job, "", rid=second, at=T0 + timedelta(minutes=40))  # a retry, however late
    assert runs(job) == [
        ("failed", T0, T0 + timedelta(minutes=10), None, "ping"),
        ("finished", T0 + timedelta(minutes=1), T0 + timedelta(minutes=30), None, "ping"),
    ]
    conflict = ping(client, job, "/fail", rid=second, at=T0 + timedelta(minutes=50))
    assert (conflict.status_code, conflict.content.decode()) == (
        409,
        "conflict: Run dump.s4.2026-11-30--02-01-00 was already closed as finished; it cannot become failed.",
    )


def test_a_start_older_than_72_hours_is_not_paired(client, job):
    ping(client, job, "/start")
    ping(client, job, "", at=T0 + timedelta(hours=73))
    assert runs(job) == [
        ("ongoing", T0, None, None, "ping"),
        ("finished", T0 + timedelta(hours=73), T0 + timedelta(hours=73), None, "ping"),
    ]


def test_a_body_keeps_its_first_100000_bytes(client, job):
    body = b"a" * 99_999 + "é".encode() + b"b" * 3_000_000  # above DATA_UPLOAD_MAX_MEMORY_SIZE too
    assert ping(client, job, "/1", method="post", body=body).status_code == 200
    assert BackupRun.objects.get().log == "a" * 99_999  # the cut é is dropped, not mangled


def test_log_adds_to_the_latest_run_and_changes_nothing_else(client, job):
    assert ping(client, job, "/log", method="post", body=b"nothing yet").status_code == 200
    assert BackupRun.objects.count() == 0  # no run to keep it
    ping(client, job, "/start", method="post", body=b"starting")
    for seconds in (10, 11):  # a retry adds it once
        ping(client, job, "/log", method="post", body=b"50% done", at=T0 + timedelta(seconds=seconds))
    run = BackupRun.objects.get()
    assert (run.status, run.log) == ("ongoing", "starting\n50% done")


# --------------------------------------------------------------------------------- real curl, live server
SETUP = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from fleetwatch.backups.models import BackupJob, RunnerToken
from fleetwatch.inventory.models import Membership, Organization

org = Organization.objects.create(name="Org A", slug="org-a")
admin = get_user_model().objects.create_user("admin", password="unused-admin")
Membership.objects.create(user=admin, organization=org, role="admin")
jobs = {name: str(BackupJob.objects.create(organization=org, section=name, type="dump").pk) for name in ("s1", "s2", "s3", "docs")}
print(json.dumps({
    "jobs": jobs,
    "token": RunnerToken.issue(org, "curl")[1],
    "admin": Token.objects.create(user=admin).key,
    "organization": str(org.pk),
}))
"""


@pytest.fixture(scope="module")
def live():
    server = Server(port=free_port(PORTS), log="gunicorn.log")
    server.env.pop("FLEETWATCH_TIMESERIES", None)
    server.env.pop("FLEETWATCH_DATABASE", None)
    server.start()
    try:
        created = json.loads(server.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        server.jobs, server.token = created["jobs"], created["token"]
        server.admin, server.organization = created["admin"], created["organization"]
        yield server
    finally:
        server.stop()


def curl(*args: str) -> str:
    done = subprocess.run(
        ["curl", "-fsS", "-m", "10", "--retry", "3", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def stored(live, section: str) -> list[dict]:
    request = Request(
        f"{live.url}/api/v1/backups/runs/?job={live.jobs[section]}",
        headers={"Authorization": f"Bearer {live.token}"},
    )
    with urlopen(request, timeout=30) as response:
        return json.loads(response.read())["results"]


def test_curl_start_then_exit_status_0_records_one_finished_run_with_its_duration(live):
    url = f"{live.url}/ping/{live.jobs['s1']}"
    assert curl(f"{url}/start") == "OK"
    assert curl(f"{url}/0") == "OK"
    assert curl(f"{url}/0") == "OK"  # what a retry sends again: the same event
    [run] = stored(live, "s1")
    start = datetime.fromisoformat(run["start_date"])
    end = datetime.fromisoformat(run["end_date"])
    assert (run["status"], run["exit_status"], run["origin"]) == ("finished", 0, "ping")
    assert run["duration"] == (end - start).total_seconds()
    assert 0 < run["duration"] < 60


def test_curl_fail_with_exit_status_3_and_its_output_as_the_log(live):
    url = f"{live.url}/ping/{live.jobs['s2']}"
    assert curl("--data-raw", "mydumper: error 1045 access denied", f"{url}/3") == "OK"
    [run] = stored(live, "s2")
    assert (run["status"], run["exit_status"], run["duration"]) == ("failed", 3, 0.0)
    with urlopen(
        Request(
            f"{live.url}/api/v1/backups/runs/{run['id']}/", headers={"Authorization": f"Bearer {live.token}"}
        ),
        timeout=30,
    ) as response:
        assert json.loads(response.read())["log"] == "mydumper: error 1045 access denied"


def test_curl_head_is_a_success_and_refusals_fail_curl(live):
    url = f"{live.url}/ping/{live.jobs['s3']}"
    head = curl("-I", url)
    assert head.splitlines()[0].strip() == "HTTP/1.1 200 OK"
    assert [r["status"] for r in stored(live, "s3")] == ["finished"]
    for path, code in [(f"/ping/{uuid.UUID(int=1)}", "404"), (f"/ping/{live.jobs['s3']}/300", "400")]:
        done = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", f"{live.url}{path}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.stdout == code


def doc_examples() -> list[str]:
    """The ``sh`` blocks of docs/backups.md's "REST API and ping URLs" section."""
    text = (Path(__file__).parents[2] / "docs" / "backups.md").read_text()
    section = text.split("## REST API and ping URLs", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def test_the_docs_examples_work_as_written(live, tmp_path):
    token_example, cron_example = doc_examples()
    env = {
        "PATH": os.environ["PATH"],
        "FLEETWATCH": live.url,
        "ADMIN_TOKEN": live.admin,
        "ORGANIZATION": live.organization,
        "JOB": live.jobs["docs"],
        "BACKUP_DIR": str(tmp_path),
    }
    made = subprocess.run(["bash", "-ec", token_example], env=env, capture_output=True, text=True, timeout=60)
    issued = json.loads(made.stdout)
    assert sorted(issued) == [
        "created",
        "id",
        "is_active",
        "last_used",
        "name",
        "organization",
        "prefix",
        "token",
    ]
    assert (issued["name"], issued["prefix"]) == ("dbprov1002", issued["token"][:10])
    # The cron script, with a stand-in for mariadb-dump that reports on stderr and succeeds.
    stub = 'mariadb-dump() { echo "-- dump completed" >&2; }\n'
    done = subprocess.run(
        ["bash", "-c", stub + cron_example], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "OKOK", "")
    [run] = stored(live, "docs")
    assert (run["status"], run["exit_status"]) == ("finished", 0)
    assert run["duration"] > 0
    assert (tmp_path / "dump.sql").exists()
