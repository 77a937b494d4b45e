"""Healthchecks-compatible ping URLs of backup jobs (reference ``job-pings.md``), so that a cron
script written for Healthchecks reports to Fleetwatch by changing only its base URL:

=============================  =======================================================================
``/ping/<uuid>``               success: closes the job's run as ``finished``
``/ping/<uuid>/start``         opens an ``ongoing`` run (its duration runs from here)
``/ping/<uuid>/fail``          failure: closes the run as ``failed``
``/ping/<uuid>/<exit status>`` 0 success, 1–255 failure (the status is stored); above 255: 400
``/ping/<uuid>/log``           adds the body to the log of the job's latest run; changes no state
=============================  =======================================================================

GET, HEAD and POST alike; no credentials (the job's UUID is the secret), no CSRF. Answers are
``text/plain``: 200 ``OK``; 404 ``not found`` for an unknown job (or one of a disabled
organization; a UUID is global, so another organization's job is simply unknown); 400 for a
malformed ``rid`` or exit status; 409 when a ``rid`` names a run already closed otherwise.

**Which run.** With ``?rid=<uuid>`` the run with that run id (created by the first ping that
names it). Without: a success or failure closes the job's latest ``ongoing`` run started within
the last 72 hours (Healthchecks shows a duration only under 72 h); if there is none, it records
a run that starts and ends now.

**Retries** (``curl --retry``) are the same event: a ``start`` repeated within 60 s, while the
run it opened is still ongoing, answers that run; a success or failure with the same outcome
(and exit status) as a ping-recorded run of the job that ended within the last 60 s is that
run. So two real successes of one job less than 60 s apart without a ``start`` or ``rid`` count
once: give such jobs a ``rid``.

**Body.** A POST body's first 100,000 bytes are kept as the run's log (``start``: its log so
far; a closing ping: the log it is closed with; ``log``: appended). A longer body is cut, not
refused. A job that is not active still records its pings (it is not checked; its history
stays complete).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from django.db.models import Q
from django.http import HttpResponse
from django.urls import re_path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from fleetwatch.backups.models import LOG_LIMIT, BackupJob, BackupRun, Origin, RunStatus
from fleetwatch.backups.runs import RunConflict, RunRefused, append_log, close_run, open_run, run_name

RETRY_WINDOW = timedelta(seconds=60)
PAIRING_LIMIT = timedelta(hours=72)
METHODS = ("GET", "HEAD", "POST")
EXIT_STATUS = re.compile(r"^[0-9]{1,10}$")


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def _new_run(job: BackupJob, now: datetime, rid: uuid.UUID | None) -> BackupRun:
    """A run of ``job`` opened ``now`` by a ping; its A.3 name gets a suffix if another run
    already has it (two pings within one second)."""
    name = run_name(job.type, job.section, now)
    run, created = open_run(job, start_date=now, name=name, run_id=rid, origin=Origin.PING)
    if not created and rid is None:  # the name is another run's: this ping's run is a new one
        run, _ = open_run(
            job, start_date=now, name=f"{name}.{uuid.uuid4().hex[:8]}", run_id=None, origin=Origin.PING
        )
    return run


def start(job: BackupJob, now: datetime, rid: uuid.UUID | None, body: bytes) -> BackupRun:
    """``/start``: an ongoing run (the same one for a retry)."""
    run = None
    if rid is not None:
        run = BackupRun.objects.filter(job=job, run_id=rid).first()
    else:
        run = (
            BackupRun.objects.filter(
                job=job,
                status=RunStatus.ONGOING,
                origin=Origin.PING,
                run_id__isnull=True,
                start_date__gte=now - RETRY_WINDOW,
            )
            .order_by("-start_date", "-pk")
            .first()
        )
    if run is None:
        run = _new_run(job, now, rid)
    if body:
        append_log(run, body)
    return run


def finish(
    job: BackupJob, now: datetime, rid: uuid.UUID | None, status: str, exit_status: int | None, body: bytes
) -> BackupRun:
    """Success or failure: close the run it belongs to (see the module's rules)."""
    if rid is not None:
        run = BackupRun.objects.filter(job=job, run_id=rid).first() or _new_run(job, now, rid)
    else:
        run = (
            BackupRun.objects.filter(
                job=job, status=RunStatus.ONGOING, start_date__gte=now - PAIRING_LIMIT, start_date__lte=now
            )
            .order_by("-start_date", "-pk")
            .first()
        )
        if run is None:
            same_outcome = (
                Q(exit_status=exit_status) if exit_status is not None else Q(exit_status__isnull=True)
            )
            retried = (
                BackupRun.objects.filter(
                    same_outcome, job=job, status=status, origin=Origin.PING, end_date__gte=now - RETRY_WINDOW
                )
                .order_by("-end_date", "-pk")
                .first()
            )
            if retried is not None:
                return retried
            run = _new_run(job, now, None)
    run, _ = close_run(
        run, status, end_date=max(now, run.start_date), exit_status=exit_status, log=body or None
    )
    return run


def log(job: BackupJob, rid: uuid.UUID | None, body: bytes) -> BackupRun | None:
    """``/log``: the body added to the log of the run (``rid``'s, else the job's latest); no
    run at all: nothing is stored."""
    runs = BackupRun.objects.filter(job=job)
    run = (runs.filter(run_id=rid) if rid is not None else runs).order_by("-start_date", "-pk").first()
    if run is not None and body:
        run, _ = append_log(run, body)
    return run


@csrf_exempt
def ping(request, code: str, signal: str = "") -> HttpResponse:
    """One ping: ``code`` the job's UUID, ``signal`` ``""``, ``start``, ``fail``, ``log`` or an
    exit status."""
    if request.method not in METHODS:
        response = _text("method not allowed", 405)
        response["Allow"] = ", ".join(METHODS)
        return response
    try:
        job_id = uuid.UUID(code)
    except ValueError:
        return _text("not found", 404)
    exit_status = None
    if EXIT_STATUS.match(signal):
        exit_status = int(signal)
        if exit_status > 255:
            return _text("invalid exit status: use 0-255", 400)
    elif signal not in ("", "start", "fail", "log"):
        return _text("not found", 404)
    rid = None
    if request.GET.get("rid"):
        try:
            rid = uuid.UUID(request.GET["rid"])
        except ValueError:
            return _text("invalid rid: use a UUID", 400)
    job = BackupJob.objects.filter(pk=job_id, organization__is_active=True).first()
    if job is None:
        return _text("not found", 404)
    # The first LOG_LIMIT bytes only: a longer body is cut, never read whole.
    body = request.read(LOG_LIMIT) if request.method == "POST" else b""
    now = timezone.now()
    try:
        if signal == "start":
            start(job, now, rid, body)
        elif signal == "log":
            log(job, rid, body)
        else:
            failed = signal == "fail" or (exit_status is not None and exit_status > 0)
            status = RunStatus.FAILED if failed else RunStatus.FINISHED
            finish(job, now, rid, status, exit_status, body)
    except RunConflict as exc:
        return _text(f"conflict: {exc}", 409)
    except RunRefused as exc:
        return _text(f"refused: {exc.detail}", 400)
    return _text("OK")


urlpatterns = [
    re_path(r"^(?P<code>[^/]+)/?$", ping, name="ping"),
    re_path(r"^(?P<code>[^/]+)/(?P<signal>[^/]+)/?$", ping, name="ping-signal"),
]
