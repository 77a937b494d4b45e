"""What happens when a run closes (:data:`fleetwatch.backups.signals.run_closed`): its point
goes to the time-series store and its job is judged again at once, so a failed or shrunken
backup is CRITICAL (and told) the moment its runner reports it, not at the next periodic pass.

Neither may fail the close, which is already stored: a store that is down leaves the run
``charted=False`` for the catch-up task, and an evaluation that fails is logged and left to the
periodic ``check-backups``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone

from fleetwatch.timeseries import BackendUnavailable

log = logging.getLogger(__name__)

# The jobs whose runs closed inside evaluation_deferred(), by id; None outside it.
_deferred: ContextVar[dict | None] = ContextVar("backups_deferred_jobs", default=None)


@contextmanager
def evaluation_deferred() -> Iterator[None]:
    """Within it, closed runs are charted but their jobs are not judged; on leaving, each job
    whose runs closed is judged once, as of then. A bulk import of history (the wmfbackups
    import) is judged on where it ends, so nothing that was only true on the way (an old run
    "stale" until the newer ones arrive) is told."""
    jobs: dict = {}
    token = _deferred.set(jobs)
    try:
        yield
    finally:
        _deferred.reset(token)
        from fleetwatch.backups.checks import evaluate_job

        now = timezone.now()
        for job in jobs.values():
            try:
                evaluate_job(job, now)
            except Exception:
                log.exception("backups: evaluating job %s failed", job)


def on_run_closed(sender, run, **kwargs) -> None:
    from fleetwatch.backups.checks import evaluate_job
    from fleetwatch.backups.series import write_run

    try:
        write_run(run)
    except BackendUnavailable as exc:
        log.warning("backups: run %s not charted yet (store unavailable): %s", run.name, exc)
    except Exception:
        log.exception("backups: charting run %s failed", run.name)
    deferred = _deferred.get()
    if deferred is not None:
        deferred[run.job_id] = run.job
        return
    try:
        evaluate_job(run.job, timezone.now())
    except Exception:
        log.exception("backups: evaluating the job of run %s failed", run.name)
