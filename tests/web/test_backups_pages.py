"""The backups pages with Django's test client: scoping (a member sees, an outsider gets 404, an
anonymous visitor is sent to the login), and what each page says, on the demo's matrix."""

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from fleetwatch.backups import demo
from fleetwatch.backups.evaluation import format_size
from fleetwatch.backups.models import BackupFile, BackupJob, BackupRun, JobCheck
from fleetwatch.notifications.models import Preference
from fleetwatch.web import backups as pages

pytestmark = pytest.mark.django_db


@pytest.fixture
def matrix(orgs, timeseries):
    """The demo's matrix in organization A, as of now."""
    return demo.build(orgs[0])


def job(section, type, dc) -> BackupJob:
    return BackupJob.objects.get(section=section, type=type, datacenter=dc)


def text(response) -> str:
    """The page's text with tags removed and spaces collapsed (entities decoded)."""
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(body))


def block(response, element_id: str) -> str:
    """The text of the element with ``id`` (up to its closing </section>)."""
    body = response.content.decode()
    start = body.index(f'id="{element_id}"')
    end = body.index("</section>", start)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body[start:end])))


# ------------------------------------------------------------------------------- scoping


def paths(matrix) -> list[str]:
    run = BackupRun.objects.filter(status="finished").first()
    return [
        "/backups/",
        "/backups/sections/s1/",
        f"/backups/jobs/{matrix.jobs[0].pk}/",
        f"/backups/runs/{run.pk}/",
    ]


def test_anonymous_visitors_are_sent_to_the_login(client, matrix):
    for path in paths(matrix):
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")


def test_a_member_sees_every_page(client, bob, matrix):
    client.force_login(bob)
    for path in paths(matrix):
        assert client.get(path).status_code == 200


def test_an_outsider_gets_404_for_another_organizations_section_job_and_run(client, charlie, matrix):
    client.force_login(charlie)
    for path in paths(matrix)[1:]:
        response = client.get(path)
        assert response.status_code == 404
        assert "Page not found" in response.content.decode()
    dashboard = client.get("/backups/")
    assert dashboard.status_code == 200
    assert "No backup job is monitored yet." in text(dashboard)
    assert "/backups/sections/" not in dashboard.content.decode()
    assert 'id="problems"' not in dashboard.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/backups/sections/nosuch/",
        f"/backups/jobs/{uuid.uuid4()}/",
        "/backups/jobs/not-a-uuid/",
        "/backups/runs/999999/",
        "/backups/runs/99999999999999999999999/",
    ],
)
def test_unknown_sections_jobs_and_runs_are_404(client, bob, matrix, path):
    client.force_login(bob)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("query", ["page=abc", "page=%00", "range=2d", "range=%00"])
def test_malformed_page_and_range_parameters_are_400(client, bob, matrix, query):
    client.force_login(bob)
    assert client.get(f"/backups/jobs/{matrix.jobs[0].pk}/?{query}").status_code == 400


# ------------------------------------------------------------------------------- dashboard


def test_the_dashboard_lists_the_three_problems_with_their_messages_and_last_good_run(client, bob, matrix):
    client.force_login(bob)
    response = client.get("/backups/")
    problems = block(response, "problems")
    assert problems.startswith(
        'id="problems" aria-labelledby="problems-title"> Status: 3 jobs need attention'
    )
    body = response.content.decode()
    listed = re.findall(r'<li class="problem critical" data-job="([0-9a-f-]+)">', body)
    assert sorted(listed) == sorted(str(job(*cell).pk) for cell in [demo.FAILED, demo.STALE, demo.SHRUNK])
    now = timezone.now()
    for cell in (demo.FAILED, demo.STALE, demo.SHRUNK):
        j = job(*cell)
        for check in JobCheck.objects.filter(job=j).exclude(status=0):
            assert check.message in problems
        last_good = BackupRun.objects.filter(job=j, status="finished").first()
        assert (
            pages.ago(now - last_good.end_date) in problems
        )  # to the minute: "D days, H hours, M minutes ago"
    # the failed job says how its latest run ended
    assert (
        ", exit status 3): ** (mydumper:4102): CRITICAL **: Could not read data from itwiki.revision"
        in problems
    )
    assert problems.count("The latest run failed") == 1
    # each problem links to its section page
    assert 'href="/backups/sections/s2/">dump of s2 in eqiad</a>' in body


def test_the_dashboard_cards_say_investigate_or_no_alerts_per_section_and_type(client, bob, matrix):
    client.force_login(bob)
    body = client.get("/backups/").content.decode()
    verdicts = dict(
        re.findall(
            r'<section class="card backup-section" data-section="(\w+)">(.*?)</section>', body, flags=re.S
        )
    )
    assert sorted(verdicts) == ["m1", "s1", "s2", "s3", "x1"]

    def rows(section):
        found = re.findall(
            r'data-type="(\w+)"><th scope="row">\w+</th><td>\s*<(?:a|span) class="verdict ([\w-]+)"[^>]*>([^<]+)<',
            verdicts[section],
        )
        return [(type, css, label) for type, css, label in found]

    assert rows("s1") == [("dump", "no-alerts", "No alerts [0]"), ("snapshot", "no-alerts", "No alerts [0]")]
    assert rows("s2") == [
        ("dump", "investigate", "Investigate [1]"),
        ("snapshot", "no-alerts", "No alerts [0]"),
    ]
    assert rows("s3") == [
        ("dump", "no-alerts", "No alerts [0]"),
        ("snapshot", "investigate", "Investigate [1]"),
    ]
    assert rows("x1") == [
        ("dump", "investigate", "Investigate [1]"),
        ("snapshot", "no-alerts", "No alerts [0]"),
    ]
    assert rows("m1") == [("dump", "no-alerts", "No alerts [0]")]
    assert '<a class="verdict investigate" href="/backups/sections/s2/">' in verdicts["s2"]


def test_the_dashboard_shows_the_ongoing_runs_and_the_next_expected_runs(client, bob, matrix):
    client.force_login(bob)
    response = client.get("/backups/")
    ongoing = block(response, "ongoing")
    runs = BackupRun.objects.filter(status="ongoing").order_by("start_date")
    assert [r.name for r in runs] == re.findall(r"((?:dump|snapshot)\.\w+\.[\d-]+)", ongoing)
    assert "snapshot of s2 in codfw dump.s2" not in ongoing  # the runs' names are their own
    assert re.search(r"snapshot of s2 in codfw snapshot\.s2\.[\d-]+ [\d-]+ [\d:]+ UTC 35 minutes", ongoing)
    assert re.search(r"snapshot of x1 in eqiad snapshot\.x1\.[\d-]+ [\d-]+ [\d:]+ UTC 10 minutes", ongoing)
    body = response.content.decode()
    overdue = re.findall(r'<tr data-job="([0-9a-f-]+)" class="overdue">', body)
    # the stale and the failed jobs' next nightly run (last finished start + a day) is past
    assert sorted(overdue) == sorted([str(job(*demo.STALE).pk), str(job(*demo.FAILED).pk)])
    nexts = block(response, "next-runs")
    assert nexts.count("overdue by") == 2
    assert (
        len(re.findall(r"UTC in 1[789] hours", nexts)) == 16
    )  # tonight's run, 5 hours + a day after the last
    assert "overdue by 3 days" in nexts  # stale: 4 nights ago + 1 day


def test_next_expected_follows_the_schedule_or_the_freshness():
    start = datetime(2026, 1, 31, 2, 0, tzinfo=UTC)
    j = BackupJob(section="s1", type="dump", freshness=3600 * 30)
    assert pages.next_expected(j, start) == start + timedelta(hours=30)
    j.schedule = "hourly"
    assert pages.next_expected(j, start) == start + timedelta(hours=1)
    j.schedule = "weekly"
    assert pages.next_expected(j, start) == start + timedelta(days=7)
    j.schedule = "monthly"
    assert pages.next_expected(j, start) == datetime(2026, 2, 28, 2, 0, tzinfo=UTC)
    assert pages.next_expected(j, datetime(2026, 12, 15, tzinfo=UTC)) == datetime(2027, 1, 15, tzinfo=UTC)
    assert pages.next_expected(j, None) is None


# ------------------------------------------------------------------------------- section


def test_the_section_page_has_a_card_per_datacenter_with_last_success_and_host(client, bob, matrix):
    client.force_login(bob)
    response = client.get("/backups/sections/s2/")
    body = response.content.decode()
    assert re.findall(r'data-datacenter="(\w+)"', body) == ["codfw", "eqiad"]
    failed = job(*demo.FAILED)
    last_good = BackupRun.objects.filter(job=failed, status="finished").first()
    row = re.search(rf'<tr data-job="{failed.pk}".*?</tr>', body, flags=re.S).group(0)
    assert "Investigate" in row
    assert timezone.localtime(last_good.end_date, UTC).strftime("%Y-%m-%d %H:%M UTC") in row
    assert f'<td class="taken-by">{last_good.host}</td>' in row
    assert last_good.host == "dbprov1001.eqiad.wmnet"


def test_the_section_page_lists_the_recent_failures_with_exit_status_and_log_line(client, bob, matrix):
    client.force_login(bob)
    failures = block(client.get("/backups/sections/s2/"), "recent-failures")
    run = BackupRun.objects.get(section="s2", status="failed")
    assert run.name in failures
    assert " 3 ** (mydumper:4102): CRITICAL **: Could not read data from itwiki.revision" in failures
    # s1's failure three nights ago is within the 7 days, on its own section page
    s1 = block(client.get("/backups/sections/s1/"), "recent-failures")
    assert " 6 [ERROR] - xtrabackup --prepare failed: InnoDB: Log block checksum mismatch " in s1
    # an old failure (8 days ago) is not listed
    old = BackupRun.objects.filter(section="m1", status="finished").order_by("start_date")[7]
    BackupRun.objects.filter(pk=old.pk).update(status="failed", log="too old to list")
    assert "No failed run in the last 7 days." in block(
        client.get("/backups/sections/m1/"), "recent-failures"
    )


def test_the_attention_list_says_since_when_there_was_no_successful_backup(client, bob, matrix):
    client.force_login(bob)
    now = timezone.now()
    response = client.get("/backups/sections/s3/")
    attention = text(response).split("Attention", 1)[1]
    stale = job(*demo.STALE)
    last_good = BackupRun.objects.filter(job=stale, status="finished").first()
    when = last_good.end_date.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert (
        f"Since {when}, there has not been a single successful snapshot of s3 in codfw. "
        f"Last successful backup was {pages.ago(now - last_good.end_date)}." in attention
    )
    # the shrunk job had a successful backup last night: only its check's message
    x1 = text(client.get("/backups/sections/x1/")).split("Attention", 1)[1]
    assert "not been a single successful" not in x1
    assert "a change of -21.1 %" in x1


def test_the_section_page_shows_times_in_the_users_zone(client, bob, matrix):
    Preference.objects.create(user=bob, timezone="Asia/Kathmandu")
    client.force_login(bob)
    body = client.get("/backups/sections/s1/").content.decode()
    last_good = BackupRun.objects.filter(job=job("s1", "dump", "eqiad"), status="finished").first()
    from zoneinfo import ZoneInfo

    local = last_good.end_date.astimezone(ZoneInfo("Asia/Kathmandu")).strftime("%Y-%m-%d %H:%M +0545")
    assert local in body


# ------------------------------------------------------------------------------- job


def test_the_job_page_shows_thresholds_checks_runs_and_chart_data(client, bob, matrix):
    client.force_login(bob)
    shrunk = job(*demo.SHRUNK)
    response = client.get(f"/backups/jobs/{shrunk.pk}/")
    thresholds = block(response, "thresholds")
    assert "Freshness a week (691200 s)"  # 8 days, humanized as the A.4 message does in thresholds
    assert "Minimum size 300 KiB" in thresholds
    assert "warning above 5.0 %, critical above 15.0 %" in thresholds
    assert "Maximum duration 12 hours" in thresholds
    assert "Schedule daily" in thresholds
    checks = block(response, "checks")
    assert "freshness and size CRITICAL Last dump for x1 at codfw" in checks
    assert "long-running runs OK" in checks
    series = response.context["series"]
    runs = list(BackupRun.objects.filter(job=shrunk, status="finished").order_by("start_date"))
    assert series["size"] == [r.total_size for r in runs]
    assert series["times"] == [r.start_date.timestamp() for r in runs]
    assert len(series["duration"]) == 30
    assert 'id="backup-series" type="application/json"' in response.content.decode()
    # the runs, newest first
    names = re.findall(
        r'<tr data-run="\d+"><td><a href="/backups/runs/\d+/">([^<]+)</a>', response.content.decode()
    )
    assert names == [r.name for r in reversed(runs)]


def test_the_job_page_range_narrows_the_charts(client, bob, matrix):
    client.force_login(bob)
    response = client.get(f"/backups/jobs/{job('s1', 'dump', 'eqiad').pk}/?range=7d")
    assert len(response.context["series"]["times"]) == 7


def test_the_ping_url_is_shown_to_administrators_only(client, alice, bob, matrix):
    j = job("s1", "dump", "eqiad")
    client.force_login(alice)
    assert (
        f'<code id="ping-url">http://testserver/ping/{j.pk}</code>'
        in client.get(f"/backups/jobs/{j.pk}/").content.decode()
    )
    client.force_login(bob)
    assert "/ping/" not in client.get(f"/backups/jobs/{j.pk}/").content.decode()


def test_the_runs_table_is_paginated_newest_first(client, bob, matrix, monkeypatch):
    monkeypatch.setattr(pages, "RUNS_PER_PAGE", 12)
    client.force_login(bob)
    j = job("s1", "dump", "eqiad")
    names = [r.name for r in BackupRun.objects.filter(job=j).order_by("-start_date")]
    seen = []
    for number in (1, 2, 3):
        body = client.get(f"/backups/jobs/{j.pk}/?page={number}").content.decode()
        seen.append(re.findall(r'<tr data-run="\d+"><td><a href="/backups/runs/\d+/">([^<]+)</a>', body))
        assert f"Page {number} of 3" in body
    assert [len(page) for page in seen] == [12, 12, 6]
    assert [name for page in seen for name in page] == names


# ------------------------------------------------------------------------------- run


def test_the_run_page_shows_its_fields_escaped_log_and_paginated_inventory(client, bob, matrix):
    client.force_login(bob)
    run = BackupRun.objects.filter(section="s1", type="dump", status="finished").first()
    BackupRun.objects.filter(pk=run.pk).update(log="<script>alert(1)</script>\nline two")
    BackupFile.objects.bulk_create(
        BackupFile(run=run, file_path="extra", file_name=f"f{i:03}", size=1536 * i) for i in range(150)
    )
    response = client.get(f"/backups/runs/{run.pk}/")
    body = response.content.decode()
    assert '<pre class="run-log" id="run-log">&lt;script&gt;alert(1)&lt;/script&gt;\nline two</pre>' in body
    assert "<script>alert(1)" not in body
    assert block(response, "run-fields").count(run.host) == 1
    total = 26 + 150
    assert f'Files <span class="meta">({total})</span>' in body
    assert "Page 1 of 2" in body
    page2 = client.get(f"/backups/runs/{run.pk}/?page=2").content.decode()
    sizes = re.findall(r'<td class="size">([^<]+)</td>', page2)
    assert len(sizes) == total - 100
    # files sorted by path then name: page 2 ends with the last 'extra' files, sizes as format_size
    assert sizes[-1] == format_size(1536 * 149) == "224 KiB"


def test_an_ongoing_run_says_how_long_it_has_been_running(client, bob, matrix):
    client.force_login(bob)
    run = BackupRun.objects.filter(status="ongoing", section="s2").get()
    fields = block(client.get(f"/backups/runs/{run.pk}/"), "run-fields")
    assert "still running (35 minutes so far)" in fields


def test_the_job_page_without_the_time_series_store_shows_the_runs_and_says_so(
    client, bob, matrix, settings, tmp_path
):
    from fleetwatch.core.timeseries import reset_backend

    (tmp_path / "a-file").write_text("")
    settings.TIMESERIES_DATABASE = {"BACKEND": "sqlite", "NAME": str(tmp_path / "a-file" / "ts.db")}
    reset_backend()
    client.force_login(bob)
    j = job("s1", "dump", "eqiad")
    response = client.get(f"/backups/jobs/{j.pk}/")
    assert response.status_code == 200
    assert re.search(
        r'<p id="chart-status" role="status" class="error">([^<]+)</p>', response.content.decode()
    ).group(1) == (
        "The time-series store cannot be reached: the charts are not available now (the runs below are)."
    )
    assert 'id="backup-series"' not in response.content.decode()
    assert len(re.findall(r'<tr data-run="\d+">', response.content.decode())) == 30


def test_the_log_line_is_the_first_naming_an_error_else_the_first():
    assert pages.log_line("\n  starting\nrows: 12\nERROR: disk full\nfatal: gave up\n") == "ERROR: disk full"
    assert pages.log_line("starting\nCopying failed for t1\n") == "Copying failed for t1"
    assert pages.log_line("\n\n  starting dump  \ndone\n") == "starting dump"
    assert pages.log_line("") == ""
    assert pages.log_line("x" * 300) == "x" * 199 + "…"


def test_jobs_never_checked_say_so_and_raise_no_problem(client, bob, orgs):
    BackupJob.objects.create(organization=orgs[0], section="s9", type="dump", datacenter="eqiad")
    client.force_login(bob)
    response = client.get("/backups/")
    body = response.content.decode()
    assert '<span class="verdict unchecked">Not checked yet [1]</span>' in body
    assert 'id="problems"' not in body
    assert "No problem: every checked job is fine." in text(response)
    assert "after its first finished run" in block(response, "next-runs")
    section = client.get("/backups/sections/s9/")
    assert '<span class="verdict unchecked">Not checked yet</span>' in section.content.decode()
    assert '<td class="last-success">never</td>' in section.content.decode()


def test_a_member_of_two_organizations_sees_both_and_which_is_which(client, bob, orgs, matrix):
    from fleetwatch.inventory.models import Membership

    Membership.objects.create(user=bob, organization=orgs[1], role="member")
    other = BackupJob.objects.create(
        organization=orgs[1], section="s1", type="dump", datacenter="eqiad", status="critical"
    )
    JobCheck.objects.create(
        job=other,
        kind="freshness",
        status=2,
        message="We could not find any completed dump for s1 at eqiad",
        since=timezone.now(),
        checked=timezone.now(),
    )
    client.force_login(bob)
    problems = block(client.get("/backups/"), "problems")
    assert "Status: 4 jobs need attention" in problems
    assert "Org B: dump of s1 in eqiad" in problems
    assert "Org A: dump of s2 in eqiad" in problems
    cards = re.findall(r"<h2>([^<]+)</h2>", client.get("/backups/sections/s1/").content.decode())
    assert cards[:3] == ["Org A: s1 - codfw", "Org A: s1 - eqiad", "Org B: s1 - eqiad"]


def test_the_dashboard_and_a_section_page_cost_the_same_queries_whatever_the_number_of_jobs(
    client, bob, orgs, matrix
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(bob)

    def queries(path):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    before = (queries("/backups/"), queries("/backups/sections/s1/"))
    for dc in ("ulsfo", "esams", "drmrs"):
        for type in ("dump", "snapshot"):
            j = BackupJob.objects.create(
                organization=orgs[0], section="s1", type=type, datacenter=dc, status="critical"
            )
            JobCheck.objects.create(
                job=j, kind="freshness", status=2, message="m", since=timezone.now(), checked=timezone.now()
            )
            BackupRun.objects.create(
                organization=orgs[0],
                job=j,
                name=f"{type}.s1.{dc}",
                status="failed",
                type=type,
                section="s1",
                datacenter=dc,
                start_date=timezone.now() - timedelta(hours=2),
                end_date=timezone.now(),
                log="x",
            )
    assert (queries("/backups/"), queries("/backups/sections/s1/")) == before
