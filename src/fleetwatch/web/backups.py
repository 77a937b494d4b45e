"""The backups pages: the dashboard (``/backups/``), a section per datacenter
(``/backups/sections/<section>/``), a job with its charts (``/backups/jobs/<uuid>/``) and a run
with its file inventory (``/backups/runs/<id>/``).

They show what the checks stored (``BackupJob.status``, ``JobCheck``) and the runs; they evaluate
nothing themselves. The layout follows Wikimedia's bernard dashboard (reference A.7): a problem
box, one card per section with a row per type ("Investigate [n]" / "No alerts [0]"), and per
section one card per datacenter with its last success, who took it, recent failures and an
attention list; ours adds the ongoing runs, the next expected run of each job, real recent
failures and the charts.

Organization scoping is ``visible_to`` as on every page: another organization's job, run or
section answers 404, exactly like one that does not exist. Times are rendered in the request's
time zone (``fleetwatch.web.timezones``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from fleetwatch.backups.evaluation import STATUS_NAMES, ago, humanize_duration
from fleetwatch.backups.models import BackupJob, BackupRun, BackupType, JobCheck, RunStatus, Schedule
from fleetwatch.backups.series import job_series
from fleetwatch.core import params
from fleetwatch.inventory.models import Organization, administers
from fleetwatch.notifications.links import base_url
from fleetwatch.timeseries import BackendUnavailable

FAILING = ("problem", "critical")  # job statuses that put a job in the problem box
RECENT_FAILURES = timedelta(days=7)  # the section page's "recent failures" window
RUNS_PER_PAGE = 50
FILES_PER_PAGE = 100
CHART_RANGES = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}  # the job page's ?range=
DEFAULT_CHART_RANGE = "30d"
PERIODS = {
    Schedule.HOURLY: timedelta(hours=1),
    Schedule.DAILY: timedelta(days=1),
    Schedule.WEEKLY: timedelta(days=7),
}
TYPE_ORDER = [choice.value for choice in BackupType]
# A check's Nagios status as the health vocabulary's CSS class (the job statuses' words).
CHECK_CLASS = {0: "ok", 1: "problem", 2: "critical", 3: "unknown"}


# --------------------------------------------------------------------------- computing


def add_month(moment: datetime) -> datetime:
    """``moment`` one calendar month later, the day clamped to the month's length
    (January 31 → February 28 or 29)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def next_expected(job: BackupJob, last_start: datetime | None) -> datetime | None:
    """When the job's next run is expected: the start of its latest finished run plus its
    schedule's period (hourly, daily, weekly, a calendar month), or plus its freshness when it
    has no schedule. None before its first finished run."""
    if last_start is None:
        return None
    if job.schedule == Schedule.MONTHLY:
        return add_month(last_start)
    period = PERIODS.get(job.schedule)
    return last_start + (period if period is not None else timedelta(seconds=job.freshness))


ERROR_WORDS = ("error", "critical", "fatal", "fail")


def log_line(text: str, limit: int = 200) -> str:
    """The line of a run's log that says the most, at most ``limit`` characters (``…`` when
    cut): the first one naming an error (``error``, ``critical``, ``fatal``, ``fail``, in any
    case), else the first non-blank one. A runner's log usually opens with what it runs and
    tells what went wrong further down."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    chosen = next((line for line in lines if any(word in line.lower() for word in ERROR_WORDS)), "")
    chosen = chosen or (lines[0] if lines else "")
    return chosen if len(chosen) <= limit else chosen[: limit - 1] + "…"


@dataclass
class JobState:
    """A job and what the pages say of it: its failing checks, its latest finished run (the
    last good one), its latest closed run (finished or failed), the next expected run."""

    job: BackupJob
    last_good: BackupRun | None
    last_closed: BackupRun | None
    now: datetime
    failing_checks: list[JobCheck] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return self.job.status in FAILING

    @property
    def last_good_ago(self) -> str:
        """bernard's ``D days, H hours, M minutes ago`` of the last good run's end."""
        if self.last_good is None or self.last_good.end_date is None:
            return ""
        return ago(self.now - self.last_good.end_date)

    @property
    def last_failed(self) -> BackupRun | None:
        """The latest closed run when it failed (a failure nothing good has followed yet)."""
        if self.last_closed is not None and self.last_closed.status == RunStatus.FAILED:
            return self.last_closed
        return None

    @property
    def last_failed_line(self) -> str:
        return log_line(self.last_failed.log) if self.last_failed is not None else ""

    @property
    def next_run(self) -> datetime | None:
        return next_expected(self.job, self.last_good.start_date if self.last_good else None)

    @property
    def overdue(self) -> bool:
        return self.next_run is not None and self.next_run < self.now

    @property
    def due_in(self) -> str:
        """``in 18 hours`` / ``overdue by 3 days`` (humanized as the checks' messages)."""
        if self.next_run is None:
            return ""
        if self.overdue:
            return f"overdue by {humanize_duration(self.now - self.next_run)}"
        return f"in {humanize_duration(self.next_run - self.now)}"

    @property
    def no_success_since(self) -> bool:
        """Whether the attention list says "not a single successful backup": the last good run
        is older than the job's freshness, or runs have failed since it (or there never was one)."""
        if self.last_good is None:
            return True
        if self.last_good.start_date < self.now - timedelta(seconds=self.job.freshness):
            return True
        return self.last_failed is not None


def job_states(jobs, now: datetime) -> list[JobState]:
    """The :class:`JobState` of each job, in the queryset's order, with three queries: the jobs
    (annotated with their latest finished and latest closed run ids), those runs, and the
    failing checks."""
    finished = BackupRun.objects.filter(job=OuterRef("pk"), status=RunStatus.FINISHED).order_by(
        "-start_date", "-id"
    )
    closed = BackupRun.objects.filter(
        job=OuterRef("pk"), status__in=(RunStatus.FINISHED, RunStatus.FAILED)
    ).order_by("-start_date", "-id")
    jobs = list(
        jobs.select_related("organization")
        .annotate(
            last_good_id=Subquery(finished.values("pk")[:1]),
            last_closed_id=Subquery(closed.values("pk")[:1]),
        )
        .prefetch_related(
            Prefetch("checks", queryset=JobCheck.objects.exclude(status=0), to_attr="failing_checks")
        )
    )
    ids = {pk for job in jobs for pk in (job.last_good_id, job.last_closed_id) if pk is not None}
    runs = BackupRun.objects.in_bulk(ids)
    return [
        JobState(
            job=job,
            last_good=runs.get(job.last_good_id),
            last_closed=runs.get(job.last_closed_id),
            now=now,
            failing_checks=job.failing_checks,
        )
        for job in jobs
    ]


def _type_key(value: str) -> int:
    return TYPE_ORDER.index(value) if value in TYPE_ORDER else len(TYPE_ORDER)


@dataclass
class TypeRow:
    """One row of a section card: a type and how many of its datacenters fail (or are not
    checked yet)."""

    type: str
    failing: int = 0
    unchecked: int = 0
    total: int = 0


def section_cards(states: list[JobState]) -> list[tuple[str, list[TypeRow]]]:
    """``[(section, [TypeRow, …]), …]`` in section order, types as :data:`TYPE_ORDER`."""
    cards: dict[str, dict[str, TypeRow]] = {}
    for state in states:
        job = state.job
        row = cards.setdefault(job.section, {}).setdefault(job.type, TypeRow(job.type))
        row.total += 1
        if state.failing:
            row.failing += 1
        elif job.status == "unknown":
            row.unchecked += 1
    return [
        (section, sorted(rows.values(), key=lambda row: _type_key(row.type)))
        for section, rows in sorted(cards.items())
    ]


# --------------------------------------------------------------------------- pages


def _visible_jobs(user):
    return BackupJob.objects.visible_to(user)


@login_required
def dashboard(request):
    """``/backups/``: the problem box, one card per section, the ongoing runs and the next
    expected run of each job (active jobs of the user's organizations)."""
    now = timezone.now()
    states = job_states(_visible_jobs(request.user).filter(is_active=True), now)
    ongoing = (
        BackupRun.objects.visible_to(request.user)
        .filter(status=RunStatus.ONGOING)
        .select_related("job__organization")
        .order_by("start_date")[:100]
    )
    context = {
        "now": now,
        "problems": [state for state in states if state.failing],
        "sections": section_cards(states),
        "ongoing": [(run, humanize_duration(now - run.start_date)) for run in ongoing],
        "schedule": sorted(
            states,
            key=lambda s: (s.next_run is None, s.next_run or now, s.job.section, _type_key(s.job.type)),
        ),
        "several_organizations": Organization.objects.visible_to(request.user).count() > 1,
        "has_jobs": bool(states),
    }
    return render(request, "web/backups/dashboard.html", context)


@dataclass
class DatacenterCard:
    """A section page's card: the jobs of one datacenter (of one organization)."""

    organization: Organization
    datacenter: str
    states: list[JobState]


@login_required
def section(request, section):
    """``/backups/sections/<section>/``: one card per datacenter (and organization, for a user
    of several that share a section name), recent failures and the attention list. A section
    none of the user's organizations monitors is a 404."""
    now = timezone.now()
    states = job_states(_visible_jobs(request.user).filter(section=section, is_active=True), now)
    if not states:
        raise Http404("This section does not exist or is not monitored.")
    cards: dict[tuple, DatacenterCard] = {}
    for state in states:
        job = state.job
        key = (job.organization.name, job.organization_id, job.datacenter)
        card = cards.setdefault(key, DatacenterCard(job.organization, job.datacenter, []))
        card.states.append(state)
    for card in cards.values():
        card.states.sort(key=lambda s: _type_key(s.job.type))
    failures = (
        BackupRun.objects.filter(
            job__in=[state.job for state in states],
            status=RunStatus.FAILED,
            start_date__gte=now - RECENT_FAILURES,
        )
        .select_related("job")
        .order_by("-start_date", "-id")[:200]
    )
    context = {
        "section": section,
        "now": now,
        "cards": [cards[key] for key in sorted(cards)],
        "failures": [(run, log_line(run.log)) for run in failures],
        "attention": [state for state in states if state.failing],
        "several_organizations": len({state.job.organization_id for state in states}) > 1,
    }
    return render(request, "web/backups/section.html", context)


def chart_range(request) -> str:
    value = params.slug(request.GET, "range") or DEFAULT_CHART_RANGE
    if value not in CHART_RANGES:
        raise params.InvalidParameter("range", f"must be one of {', '.join(CHART_RANGES)}")
    return value


@login_required
def job(request, pk):
    """``/backups/jobs/<uuid>/``: thresholds, checks, the ping URL (administrators), the runs
    (newest first, paginated) and charts of size and duration over ``?range=`` (default 30d)."""
    obj = get_object_or_404(_visible_jobs(request.user).select_related("organization"), pk=pk)
    now = timezone.now()
    chosen = chart_range(request)
    try:
        series = job_series(obj, now - timedelta(days=CHART_RANGES[chosen]), now)
        store_down = False
    except BackendUnavailable:  # the page still shows the job and its runs, without charts
        series, store_down = [], True
    page = Paginator(
        BackupRun.objects.filter(job=obj).order_by("-start_date", "-id"), RUNS_PER_PAGE
    ).get_page(params.integer(request.GET, "page") or 1)
    checks = [
        (check, STATUS_NAMES.get(check.status, str(check.status)), CHECK_CLASS.get(check.status, "unknown"))
        for check in obj.checks.all()
    ]
    context = {
        "job": obj,
        "state": job_states(BackupJob.objects.filter(pk=obj.pk), now)[0],
        "checks": checks,
        "ping_url": f"{base_url(request)}/ping/{obj.pk}"
        if administers(request.user, obj.organization_id)
        else "",
        "page": page,
        "store_down": store_down,
        "ranges": list(CHART_RANGES),
        "range": chosen,
        "series": {
            "times": [moment.timestamp() for moment, _, _ in series],
            "size": [size for _, size, _ in series],
            "duration": [duration for _, _, duration in series],
        },
    }
    return render(request, "web/backups/job.html", context)


@login_required
def run(request, pk):
    """``/backups/runs/<id>/``: the run's fields, its log and its file inventory (paginated)."""
    if pk >= 2**63:  # beyond the id column: no such run (rather than the database's overflow)
        raise Http404
    obj = get_object_or_404(
        BackupRun.objects.visible_to(request.user).select_related("job", "organization"), pk=pk
    )
    files = Paginator(obj.files.order_by("file_path", "file_name"), FILES_PER_PAGE).get_page(
        params.integer(request.GET, "page") or 1
    )
    context = {
        "run": obj,
        "duration": humanize_duration(obj.duration) if obj.duration is not None else "",
        "running_for": humanize_duration(timezone.now() - obj.start_date) if obj.end_date is None else "",
        "files": files,
        "objects": list(obj.db_objects.all()[:500]),
        "file_count": files.paginator.count,
    }
    return render(request, "web/backups/run.html", context)
