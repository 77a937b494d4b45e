"""The backups pages in headless Chromium, on the demo's matrix: every page loads with no console
error and no request leaving the machine, the dashboard's problem box lists the demo's three
problems, and a job's charts draw."""

from urllib.parse import urlsplit

import pytest

from fleetwatch.backups import demo
from fleetwatch.backups.models import BackupJob, BackupRun
from tests.web.test_onboarding import demo as demo_server  # noqa: F401 (a fixture: `serve --demo`)

pytestmark = pytest.mark.django_db(transaction=True)

LOOPBACK = ("127.0.0.1", "localhost")


@pytest.fixture
def matrix(orgs, timeseries):
    return demo.build(orgs[0])


class Watched:
    """A logged-in page that records every request (aborting any outside loopback), page
    errors and console errors."""

    def __init__(self, browser, live_server, username):
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_context(timezone_id="UTC", viewport={"width": 1200, "height": 900}).new_page()
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.page.goto(f"{live_server.url}/login/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", "pw")
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{live_server.url}/")  # logged in: the fleet page

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).hostname in LOOPBACK or url.startswith("data:"):
            route.continue_()
        else:
            route.abort()

    @property
    def foreign(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlsplit(url).hostname not in LOOPBACK and not url.startswith("data:")
        ]


def test_the_dashboard_lists_the_three_demo_problems_and_every_page_loads_cleanly(
    browser, live_server, matrix, bob
):
    watched = Watched(browser, live_server, "bob")
    page = watched.page
    page.click("#backups-link")
    page.wait_for_url(f"{live_server.url}/backups/")  # loaded: what follows reads the new page
    names = page.locator("#problems li.problem .job-name").all_inner_texts()
    assert sorted(names) == ["dump of s2 in eqiad", "dump of x1 in codfw", "snapshot of s3 in codfw"]
    assert page.inner_text("#problems-title") == "Status: 3 jobs need attention"
    assert page.locator(".verdict.investigate").count() == 3
    assert page.locator(".verdict.no-alerts").count() == 6
    assert page.locator("#ongoing tr[data-run]").count() == 2

    # a problem leads to its section page, with its attention box
    page.click("#problems a.job-name:text('snapshot of s3 in codfw')")
    page.wait_for_url(f"{live_server.url}/backups/sections/s3/")
    assert page.locator("#attention .attention").count() == 1
    assert page.inner_text("#attention .attention h3") == "snapshot in codfw"

    # a job's page and a run's page
    run = BackupRun.objects.filter(section="s3", status="finished").first()
    page.click(f"tr[data-job='{run.job_id}'] a")
    page.wait_for_url(f"{live_server.url}/backups/jobs/{run.job_id}/")
    page.wait_for_selector("#backup-charts[data-loaded=true]")
    page.click("#runs tbody tr:first-child a")
    page.wait_for_url(f"{live_server.url}/backups/runs/{run.pk}/")
    assert page.inner_text("#run-status") == "finished"
    assert page.locator("#files tbody tr").count() == run.files.count()
    assert (watched.errors, watched.foreign) == ([], [])
    assert any("/static/fleetwatch/backups.js" in url for url in watched.requests)


def test_a_jobs_charts_draw_its_sizes_and_durations(browser, live_server, matrix, alice):
    shrunk = BackupJob.objects.get(section="x1", type="dump", datacenter="codfw")
    watched = Watched(browser, live_server, "alice")
    page = watched.page
    page.goto(f"{live_server.url}/backups/jobs/{shrunk.pk}/")
    page.wait_for_selector("#backup-charts[data-loaded=true]")
    charts = page.eval_on_selector_all(
        "#backup-charts section.chart",
        "boxes => boxes.map(b => [b.querySelector('h2').textContent, b.dataset.points])",
    )
    assert charts == [["Size", "30"], ["Duration", "30"]]
    sizes = list(
        BackupRun.objects.filter(job=shrunk, status="finished")
        .order_by("start_date")
        .values_list("total_size", flat=True)
    )
    assert page.evaluate("window.fleetwatchBackupPlots[0].data[1]") == sizes
    assert page.evaluate("window.fleetwatchBackupPlots.map(p => p.ctx.canvas.width > 0)") == [True, True]
    assert page.inner_text("#chart-status") == "30 finished runs, UTC"
    # the y axis speaks the checks' units
    page.hover("#backup-charts section.chart:first-child .u-over", position={"x": 150, "y": 60})
    legend = page.inner_text("#backup-charts section.chart:first-child .u-legend")
    assert "GiB" in legend
    # an administrator sees the ping URL
    assert page.inner_text("#ping-url") == f"{live_server.url}/ping/{shrunk.pk}"
    page.select_option("select[name=range]", "7d")
    page.click("#range button[type=submit]")
    page.wait_for_url(f"{live_server.url}/backups/jobs/{shrunk.pk}/?range=7d")
    page.wait_for_selector("#backup-charts[data-loaded=true]")
    assert page.eval_on_selector("#backup-charts section.chart", "b => b.dataset.points") == "7"
    assert (watched.errors, watched.foreign) == ([], [])


def test_make_runs_demo_shows_the_three_problems_on_the_backups_dashboard(
    demo_server,  # noqa: F811
    browser,
):
    """Issue 14's demo: `fleetwatch serve --demo` (what `make run` runs) adds the backup matrix,
    and its dashboard shows three problems at once."""
    username, password = demo_server.login()
    page = browser.new_context(timezone_id="UTC", viewport={"width": 1200, "height": 900}).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{demo_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo_server.url}/")
    page.click("#backups-link")
    page.wait_for_url(f"{demo_server.url}/backups/")
    names = page.locator("#problems li.problem .job-name").all_inner_texts()
    assert sorted(names) == ["dump of s2 in eqiad", "dump of x1 in codfw", "snapshot of s3 in codfw"]
    assert page.locator("section.backup-section").count() == 5
    assert page.locator("#ongoing tr[data-run]").count() == 2
    assert errors == []
