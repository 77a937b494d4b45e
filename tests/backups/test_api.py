"""The backups REST API (/api/v1/backups/): the runner lifecycle (open, files, close) with a
runner token and with a person's credentials, lists and their filters and CSV, jobs, tokens,
the A.7 endpoints and the refusals (exact statuses and bodies)."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from freezegun import freeze_time
from rest_framework.authtoken.models import Token

from fleetwatch.backups.models import BackupFile, BackupJob, BackupRun, JobCheck, RunnerToken
from fleetwatch.backups.runs import FileEntry, attach_files, close_run, open_run

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RUNS = "/api/v1/backups/runs/"
JOBS = "/api/v1/backups/jobs/"
TOKENS = "/api/v1/backups/tokens/"


@pytest.fixture
def jobs(orgs):
    a, b = orgs
    return {
        "s1-dump": BackupJob.objects.create(organization=a, section="s1", type="dump", datacenter="eqiad"),
        "s1-snapshot": BackupJob.objects.create(
            organization=a, section="s1", type="snapshot", datacenter="eqiad"
        ),
        "s2-dump": BackupJob.objects.create(organization=a, section="s2", type="dump", datacenter="codfw"),
        "b-s1-dump": BackupJob.objects.create(organization=b, section="s1", type="dump", datacenter="eqiad"),
    }


@pytest.fixture
def runner(orgs):
    """Org A's runner token (the text)."""
    return RunnerToken.issue(orgs[0], "dbprov")[1]


@pytest.fixture
def runner_b(orgs):
    return RunnerToken.issue(orgs[1], "dbprov-b")[1]


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def as_user(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")


def post(client: Client, url: str, body) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def files_body(*entries):
    return {"files": [dict(zip(("file_path", "file_name", "size"), e, strict=True)) for e in entries]}


# --------------------------------------------------------------------------------- lifecycle
def test_a_runner_opens_fills_and_closes_a_run_and_every_retry_answers_the_same(jobs, runner):
    client = bearer(runner)
    opening = {
        "section": "s1",
        "type": "dump",
        "host": "dbprov1002.eqiad.wmnet",
        "source": "db1145.eqiad.wmnet:3306",
        "start_date": "2026-11-29T01:51:00Z",
    }
    opened = post(client, RUNS, opening)
    assert opened.status_code == 201, opened.content
    run = opened.json()
    assert {k: run[k] for k in ("name", "status", "section", "type", "datacenter", "source", "job")} == {
        "name": "dump.s1.2026-11-29--01-51-00",
        "status": "ongoing",
        "section": "s1",
        "type": "dump",
        "datacenter": "eqiad",
        "source": "db1145.eqiad.wmnet",
        "job": str(jobs["s1-dump"].pk),
    }
    assert (run["end_date"], run["duration"], run["files_count"], run["origin"]) == (None, None, 0, "api")
    again = post(client, RUNS, opening)
    assert (again.status_code, again.json()["id"]) == (200, run["id"])

    url = f"{RUNS}{run['id']}/"
    files = files_body(("", "metadata", 120), ("s1", "db.sql.gz", 1_000_000))
    for _ in range(2):  # a retry stores them once
        attached = post(client, f"{url}files/", files)
        assert (attached.status_code, attached.json()["files_count"], attached.json()["total_size"]) == (
            200,
            2,
            1_000_120,
        )
    close = {"status": "finished", "end_date": "2026-11-29T03:51:30Z", "log": "done\n", "exit_status": 0}
    closed = post(client, f"{url}close/", close)
    assert closed.status_code == 200, closed.content
    body = closed.json()
    assert (body["status"], body["duration"], body["exit_status"], body["log"]) == (
        "finished",
        7230.0,
        0,
        "done\n",
    )
    assert post(client, f"{url}close/", close).json() == body  # an identical retry: unchanged
    conflict = post(client, f"{url}close/", {"status": "failed"})
    assert (conflict.status_code, conflict.json()) == (
        409,
        {
            "detail": "Run dump.s1.2026-11-29--01-51-00 was already closed as finished; it cannot become failed."
        },
    )
    late = post(client, f"{url}files/", files)
    assert late.status_code == 409
    assert BackupRun.objects.count() == 1


def test_opening_by_job_id_with_a_run_id_is_idempotent(jobs, runner):
    client = bearer(runner)
    rid = str(uuid.uuid4())
    body = {"job": str(jobs["s2-dump"].pk), "run_id": rid, "host": "dbprov2001.codfw.wmnet"}
    first = post(client, RUNS, body)
    second = post(client, RUNS, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["run_id"] == rid


def test_an_administrator_writes_runs_a_member_reads_them(jobs, alice, bob):
    body = {"job": str(jobs["s1-dump"].pk)}
    denied = post(as_user(bob), RUNS, body)
    assert (denied.status_code, denied.json()) == (
        403,
        {"detail": "Only an administrator of the organization may change this."},
    )
    opened = post(as_user(alice), RUNS, body)
    assert opened.status_code == 201
    assert as_user(bob).get(f"{RUNS}{opened.json()['id']}/").status_code == 200
    closing = post(as_user(bob), f"{RUNS}{opened.json()['id']}/close/", {"status": "finished"})
    assert (closing.status_code, BackupRun.objects.get().status) == (403, "ongoing")


def test_a_person_in_one_organization_opens_by_section(jobs, alice):
    opened = post(as_user(alice), RUNS, {"section": "s2", "type": "dump", "host": "dbprov2001.codfw.wmnet"})
    assert (opened.status_code, opened.json()["job"]) == (201, str(jobs["s2-dump"].pk))


# --------------------------------------------------------------------------------- refusals
def test_a_section_the_matrix_does_not_know_is_a_400_naming_it(jobs, runner):
    response = post(bearer(runner), RUNS, {"section": "s9", "type": "dump", "host": "db.eqiad.wmnet"})
    message = "'s9' is not a section of the monitoring matrix (known: s1, s2)."
    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"section: {message}", "errors": {"section": [message]}},
    )
    wrong_cell = post(bearer(runner), RUNS, {"section": "s2", "type": "snapshot", "datacenter": "codfw"})
    message = "snapshot of s2 in codfw is not in the monitoring matrix (it has: dump of s2 in codfw)."
    assert (wrong_cell.status_code, wrong_cell.json()["errors"]) == (400, {"type": [message]})
    assert BackupRun.objects.count() == 0


def test_a_file_list_with_a_negative_size_or_a_path_twice_is_refused_whole(jobs, runner):
    client = bearer(runner)
    run = post(client, RUNS, {"job": str(jobs["s1-dump"].pk)}).json()
    bad = files_body(("", "a", 1), ("", "b", -5), ("", "a", 2))
    response = post(client, f"{RUNS}{run['id']}/files/", bad)
    problems = ["files[1]: size must not be negative (-5).", "files[2]: a is listed twice."]
    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"files: {problems[0]}", "errors": {"files": problems}},
    )
    closing = post(client, f"{RUNS}{run['id']}/close/", {"status": "finished", **bad})
    assert (closing.status_code, closing.json()["errors"]) == (400, {"files": problems})
    assert (BackupFile.objects.count(), BackupRun.objects.get().status) == (0, "ongoing")


def test_another_organizations_job_and_run_do_not_exist_for_a_runner(jobs, runner, runner_b):
    run, _ = open_run(jobs["s1-dump"])
    foreign = post(bearer(runner_b), RUNS, {"job": str(jobs["s1-dump"].pk)})
    message = f'Invalid pk "{jobs["s1-dump"].pk}" - object does not exist.'
    assert (foreign.status_code, foreign.json()) == (
        400,
        {"detail": f"job: {message}", "errors": {"job": [message]}},
    )
    for method, url in [("get", f"{RUNS}{run.pk}/"), ("post", f"{RUNS}{run.pk}/close/")]:
        response = getattr(bearer(runner_b), method)(
            url, {"status": "failed"}, content_type="application/json"
        )
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "No BackupRun matches the given query."},
        )
    assert bearer(runner_b).get(f"{JOBS}{jobs['s1-dump'].pk}/").status_code == 404
    assert BackupRun.objects.get().status == "ongoing"


def test_a_runner_token_reaches_nothing_but_backups(jobs, runner, device_a):
    client = bearer(runner)
    for url in ("/api/v1/inventory/devices/", "/api/v1/inventory/organizations/", "/api/v1/notifications/"):
        response = client.get(url)
        assert (response.status_code, response["WWW-Authenticate"]) == (401, "Token"), url
    tokens = client.get(TOKENS)
    assert (tokens.status_code, tokens.json()) == (
        403,
        {"detail": "A runner token may not do this: use the token of an administrator."},
    )
    job = post(client, JOBS, {"organization": str(jobs["s1-dump"].organization_id), "section": "s3"})
    assert job.status_code == 403
    assert client.get(JOBS).json()["count"] == 3


def test_an_unknown_or_revoked_runner_token_is_a_401(jobs, orgs):
    row, token = RunnerToken.issue(orgs[0], "old")
    assert bearer(token).get(JOBS).status_code == 200
    row.is_active = False
    row.save()
    for text in (token, "fwb_nonsense", "nonsense"):
        response = bearer(text).get(JOBS)
        assert (response.status_code, response.json()) == (401, {"detail": "Invalid runner token."})


def test_a_body_larger_than_the_limit_is_a_413(jobs, runner, alice, orgs):
    run = post(bearer(runner), RUNS, {"job": str(jobs["s1-dump"].pk)}).json()
    response = bearer(runner).post(
        f"{RUNS}{run['id']}/close/", "{}", content_type="application/json", CONTENT_LENGTH=str(33 * 2**20)
    )
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "The body is larger than 33554432 bytes; nothing was stored."},
    )
    # Jobs keep Django's limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB), also answered as a 413.
    body = {"organization": str(orgs[0].pk), "section": "x1", "padding": "x" * 3_000_000}
    job = post(as_user(alice), JOBS, body)
    assert (job.status_code, job.json()) == (
        413,
        {"detail": "The body is larger than 2621440 bytes; nothing was stored."},
    )
    assert BackupRun.objects.get().status == "ongoing"


def test_a_file_list_above_djangos_body_limit_is_accepted(jobs, runner):
    """40,000 files (~2.9 MB of JSON, above DATA_UPLOAD_MAX_MEMORY_SIZE) in one request."""
    run = post(bearer(runner), RUNS, {"job": str(jobs["s1-dump"].pk)}).json()
    files = {
        "files": [
            {"file_path": "s1", "file_name": f"db.table{i:05}.sql.gz", "size": i} for i in range(40_000)
        ]
    }
    content = json.dumps(files)
    assert len(content) > 2_621_440
    response = bearer(runner).post(f"{RUNS}{run['id']}/files/", content, content_type="application/json")
    assert (response.status_code, response.json()["files_count"], response.json()["total_size"]) == (
        200,
        40_000,
        sum(range(40_000)),
    )


def test_an_oversized_log_is_kept_bounded(jobs, runner):
    run = post(bearer(runner), RUNS, {"job": str(jobs["s1-dump"].pk)}).json()
    log = "x" * 150_000 + "the end"
    closed = post(bearer(runner), f"{RUNS}{run['id']}/close/", {"status": "failed", "log": log})
    assert closed.status_code == 200
    stored = BackupRun.objects.get().log
    assert (len(stored), stored[-7:]) == (100_000, "the end")


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"status": "done"}, {"status": ['"done" is not a valid choice.']}),
        (
            {"status": "finished", "end_date": "2000-01-01T00:00:00Z"},
            {"end_date": ["Must not be before the start (2026-11-30T12:00:00+00:00)."]},
        ),
        (
            {"status": "finished", "exit_status": 70000},
            {"exit_status": ["Ensure this value is less than or equal to 32767."]},
        ),
        ({"status": "finished", "log": "\ud800"}, {"log": ["Not a valid string."]}),
    ],
)
def test_bad_closes_are_400s_naming_the_field(jobs, runner, body, errors):
    run, _ = open_run(jobs["s1-dump"], start_date=NOW)
    response = post(bearer(runner), f"{RUNS}{run.pk}/close/", body)
    assert (response.status_code, response.json()["errors"]) == (400, errors)
    run.refresh_from_db()
    assert run.status == "ongoing"


# --------------------------------------------------------------------------------- lists
@pytest.fixture
def history(jobs):
    """Three runs of org A (one ongoing) and one of org B."""
    made = []
    for job, start, status in [
        (jobs["s1-dump"], NOW - timedelta(days=2), "finished"),
        (jobs["s1-snapshot"], NOW - timedelta(days=1), "failed"),
        (jobs["s2-dump"], NOW - timedelta(hours=2), None),
        (jobs["b-s1-dump"], NOW - timedelta(days=1), "finished"),
    ]:
        run, _ = open_run(job, start_date=start, host=f"dbprov1002.{job.datacenter}.wmnet")
        if status:
            attach_files(run, [FileEntry("", "dump.sql", 4096)])
            run, _ = close_run(run, status, end_date=start + timedelta(hours=1))
        made.append(run)
    return made


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [2, 1, 0]),
        ("section=s1", [1, 0]),
        ("type=snapshot", [1]),
        ("datacenter=codfw", [2]),
        ("status=finished", [0]),
        ("status=ongoing", [2]),
        ("since=2026-11-29T00:00:00Z", [2, 1]),
        ("until=2026-11-29T12:00:01Z", [1, 0]),
        ("until=2026-11-29T12:00:00Z", [0]),  # exclusive
        ("since=2026-11-28T00:00:00Z&until=2026-11-29T00:00:00Z", [0]),
        ("limit=1&offset=1", [1]),
    ],
)
def test_runs_are_filtered_and_paginated(history, bob, query, expected):
    response = as_user(bob).get(f"{RUNS}?{query}")
    assert response.status_code == 200, response.content
    assert ids(response) == [history[i].pk for i in expected]


def test_runs_filtered_by_job(history, jobs, bob):
    response = as_user(bob).get(f"{RUNS}?job={jobs['s1-snapshot'].pk}")
    assert (response.json()["count"], ids(response)) == (1, [history[1].pk])


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("status=lost", {"status": ["Select a valid choice. lost is not one of the available choices."]}),
        ("since=yesterday", {"since": ["Enter a valid date/time."]}),
        ("job=42", {"job": ["Enter a valid UUID."]}),
        ("format=xml", {"format": ["'xml' is not a format of this list: json or csv."]}),
    ],
)
def test_bad_filters_are_400s_naming_them(history, bob, query, errors):
    response = as_user(bob).get(f"{RUNS}?{query}")
    assert (response.status_code, response["Content-Type"], response.json()["errors"]) == (
        400,
        "application/json",
        errors,
    )


@pytest.mark.parametrize("how", ["format", "accept"])
def test_runs_as_csv(history, bob, how):
    client = as_user(bob)
    if how == "format":
        response = client.get(f"{RUNS}?format=csv&section=s1")
    else:
        response = client.get(f"{RUNS}?section=s1", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == "attachment; filename=\"backup-runs.csv\"; filename*=UTF-8''backup-runs.csv"
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["id"] for r in rows] == [str(history[1].pk), str(history[0].pk)]
    assert {
        k: rows[1][k]
        for k in ("name", "status", "start_date", "end_date", "duration", "total_size", "exit_status")
    } == {
        "name": "dump.s1.2026-11-28--12-00-00",
        "status": "finished",
        "start_date": "2026-11-28T12:00:00+00:00",
        "end_date": "2026-11-28T13:00:00+00:00",
        "duration": "3600.0",
        "total_size": "4096",
        "exit_status": "",
    }


def test_csv_errors_are_json(history):
    response = Client().get(f"{RUNS}?format=csv")
    assert (response.status_code, response["Content-Type"], response.json()) == (
        401,
        "application/json",
        {"detail": "Authentication credentials were not provided."},
    )


def test_run_detail_and_its_files_page(history, bob):
    run = history[0]
    attach_files(run, [], total_size=None) if run.status == "ongoing" else None
    detail = as_user(bob).get(f"{RUNS}{run.pk}/").json()
    assert (detail["files_count"], detail["objects"], detail["log"], detail["total_size"]) == (
        1,
        [],
        "",
        4096,
    )
    files = as_user(bob).get(f"{RUNS}{run.pk}/files/?limit=10").json()
    assert files["count"] == 1
    assert files["results"] == [{"file_path": "", "file_name": "dump.sql", "size": 4096, "file_date": None}]


# --------------------------------------------------------------------------------- jobs and tokens
def test_jobs_carry_their_absolute_ping_url_and_checks(jobs, bob):
    job = jobs["s1-dump"]
    JobCheck.objects.create(job=job, kind="freshness", status=2, message="stale", since=NOW, checked=NOW)
    body = as_user(bob).get(f"{JOBS}{job.pk}/").json()
    assert body["ping_url"] == f"http://testserver/ping/{job.pk}"
    assert (body["name"], body["freshness"], body["min_size"], body["status"]) == (
        "dump of s1 in eqiad",
        691200,
        307200,
        "unknown",
    )
    assert body["checks"] == [
        {
            "kind": "freshness",
            "status": 2,
            "status_name": "CRITICAL",
            "message": "stale",
            "since": "2026-11-30T12:00:00Z",
            "checked": "2026-11-30T12:00:00Z",
        }
    ]


def test_an_administrator_creates_a_job_with_defaults_per_type_and_not_twice(jobs, alice, orgs):
    body = {"organization": str(orgs[0].pk), "section": "x1", "type": "snapshot", "datacenter": "codfw"}
    created = post(as_user(alice), JOBS, body)
    assert created.status_code == 201, created.content
    assert (created.json()["freshness"], created.json()["schedule"]) == (259200, "")
    twice = post(as_user(alice), JOBS, body)
    assert (twice.status_code, twice.json()["errors"]) == (
        400,
        {"section": ["snapshot of x1 in codfw is already a job."]},
    )
    bad = post(as_user(alice), JOBS, {**body, "section": "S 1", "datacenter": ""})
    assert (bad.status_code, list(bad.json()["errors"])) == (400, ["section"])


def test_a_token_is_shown_once_and_lists_show_its_prefix(orgs, alice, bob):
    created = post(as_user(alice), TOKENS, {"organization": str(orgs[0].pk), "name": "dbprov1002"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("fwb_")
    assert created.json()["prefix"] == token[:10]
    listed = as_user(alice).get(TOKENS).json()["results"]
    assert [sorted(item) for item in listed] == [
        ["created", "id", "is_active", "last_used", "name", "organization", "prefix"]
    ]
    assert as_user(bob).get(TOKENS).json()["count"] == 0
    assert bearer(token).get(RUNS).status_code == 200
    assert RunnerToken.objects.get().last_used is not None


# --------------------------------------------------------------------------------- A.7
def test_recent_all_and_per_section_are_the_latest_finished_runs(history, jobs, bob, runner):
    newer, _ = open_run(jobs["s1-dump"], start_date=NOW - timedelta(hours=5))
    close_run(newer, "finished", end_date=NOW - timedelta(hours=4))
    failed_later, _ = open_run(jobs["s1-dump"], start_date=NOW - timedelta(hours=3))
    close_run(failed_later, "failed", end_date=NOW - timedelta(hours=2))
    recent = as_user(bob).get("/api/v1/backups/recent/all")
    assert recent.status_code == 200
    assert [(r["id"], r["section"], r["type"]) for r in recent.json()] == [(newer.pk, "s1", "dump")]
    assert bearer(runner).get("/api/v1/backups/recent/s1").json() == recent.json()
    assert as_user(bob).get("/api/v1/backups/recent/s2").json() == []


@pytest.mark.parametrize(
    ("section", "status", "body"),
    [
        ("S1", 404, {"detail": "'S1' is not a section of your monitoring matrix."}),
        (
            "s" * 101,
            400,
            {
                "detail": "section: A section name has at most 100 characters.",
                "errors": {"section": ["A section name has at most 100 characters."]},
            },
        ),
        (
            "s1;drop",
            400,
            {
                "detail": "section: 's1;drop' is not a section name (letters, digits, '_', '-' and '.').",
                "errors": {
                    "section": ["'s1;drop' is not a section name (letters, digits, '_', '-' and '.')."]
                },
            },
        ),
    ],
)
def test_recent_of_an_unknown_section_is_a_clear_4xx(jobs, bob, section, status, body):
    response = as_user(bob).get(f"/api/v1/backups/recent/{section}")
    assert (response.status_code, response.json()) == (status, body)


def test_datacenters_types_and_sections_of_the_callers_matrix(jobs, bob, charlie):
    client = as_user(bob)
    assert client.get("/api/v1/backups/datacenters/all").json() == ["codfw", "eqiad"]
    assert client.get("/api/v1/backups/types/all").json() == ["dump", "snapshot"]
    assert client.get("/api/v1/backups/sections/all").json() == ["s1", "s2"]
    assert as_user(charlie).get("/api/v1/backups/types/all").json() == ["dump"]


def test_freshness_per_job_as_bernard_answers_it(history, jobs, bob):
    with freeze_time(NOW):
        rows = as_user(bob).get("/api/v1/backups/check/freshness/all").json()
    job = jobs["s1-dump"]
    assert rows[0] == {
        "section": "s1",
        "freshness": "ok",
        "type": "dump",
        "datacenter": "eqiad",
        "last_backed_up": "2026-11-28T12:00:00Z",
        "ago": "2 days, 0 hours, 0 minutes ago",
        "taken_by": "dbprov1002.eqiad.wmnet",
        "job": str(job.pk),
        "organization": str(job.organization_id),
    }
    assert [(r["section"], r["type"], r["freshness"], r["last_backed_up"]) for r in rows[1:]] == [
        ("s1", "snapshot", "fail", None),
        ("s2", "dump", "fail", None),
    ]
    with freeze_time(NOW + timedelta(days=6, seconds=1)):  # 8 days + 1 s after its start
        later = as_user(bob).get("/api/v1/backups/check/freshness/all").json()
    assert (later[0]["freshness"], later[0]["ago"]) == ("fail", "8 days, 0 hours, 0 minutes ago")


def test_probes(db, monkeypatch):
    client = Client()
    assert client.get("/api/v1/backups/health_check/liveness").json() == {"probe": "liveness", "status": "ok"}
    assert client.get("/api/v1/backups/health_check/readiness").json() == {
        "probe": "readiness",
        "status": "ok",
    }
    from django.db import OperationalError

    from fleetwatch.backups.api import views

    def broken(*args, **kwargs):
        raise OperationalError("unable to open database file")

    monkeypatch.setattr(views.BackupRun.objects, "filter", broken)
    response = client.get("/api/v1/backups/health_check/readiness")
    assert (response.status_code, response["Retry-After"], response.json()) == (
        503,
        "30",
        {"detail": "Readiness probe failed: the database does not answer (OperationalError)."},
    )


@pytest.mark.parametrize(
    ("content_type", "body", "status", "detail"),
    [
        ("application/json", '{"job": "abc"}', 400, "job: “abc” is not a valid UUID."),
        (
            "application/x-www-form-urlencoded",
            "job=abc",
            415,
            'Unsupported media type "application/x-www-form-urlencoded" in request.',
        ),
        ("application/json", '{"job": [1]}', 400, "job: “[1]” is not a valid UUID."),
    ],
)
def test_an_open_that_cannot_be_read_is_refused(jobs, runner, content_type, body, status, detail):
    response = bearer(runner).post(RUNS, body, content_type=content_type)
    assert (response.status_code, response.json()["detail"]) == (status, detail)
    assert BackupRun.objects.count() == 0


def test_a_runner_names_its_origin_but_not_a_reserved_one(client, alice, orgs):
    from fleetwatch.backups.models import BackupJob

    job = BackupJob.objects.create(organization=orgs[0], section="s7", type="dump", datacenter="eqiad")
    client.force_login(alice)
    opened = client.post(
        "/api/v1/backups/runs/", {"job": str(job.pk), "origin": "cli"}, content_type="application/json"
    )
    assert (opened.status_code, opened.json()["origin"]) == (201, "cli")
    refused = client.post(
        "/api/v1/backups/runs/",
        {"job": str(job.pk), "origin": "ping", "name": "x"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"origin": ['"ping" is not a valid choice.']}


def test_a_run_is_written_out_as_its_declared_fields_would_be(orgs):
    """BackupRunSerializer writes its fields by hand (speed): the same output as DRF's own loop
    over the declared fields, for an ongoing and a closed run, in another time zone too."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from django.utils import timezone
    from rest_framework import serializers
    from rest_framework.renderers import JSONRenderer

    from fleetwatch.backups.api.serializers import BackupRunDetailSerializer, BackupRunSerializer
    from fleetwatch.backups.models import BackupJob
    from fleetwatch.backups.runs import ObjectEntry, close_run, open_run

    def as_json(data):  # what a client reads (a UUID and its text are the same there)
        return json.loads(JSONRenderer().render(data))

    job = BackupJob.objects.create(organization=orgs[0], section="s8", type="dump", datacenter="codfw")
    start = datetime(2026, 11, 29, 1, 2, 3, 456789, tzinfo=UTC)
    ongoing, _ = open_run(job, start_date=start, source="db2001.codfw.wmnet:3312", run_id=uuid.uuid4())
    closed, _ = open_run(job, start_date=start - timedelta(days=1), host="dbprov2001.codfw.wmnet")
    closed, _ = close_run(closed, "failed", end_date=start, total_size=7, exit_status=3, log="boom",
                          objects=[ObjectEntry("enwiki", "page", 5)])  # fmt: skip
    for zone in ("UTC", "Europe/Rome"):
        with timezone.override(zone):
            for run in (ongoing, closed):
                for kind in (BackupRunSerializer, BackupRunDetailSerializer):
                    generic = serializers.ModelSerializer.to_representation(kind(), run)
                    assert as_json(kind(run).data) == as_json(generic)
