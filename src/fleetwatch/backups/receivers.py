"""What happens when a run closes (:data:`fleetwatch.backups.signals.run_closed`): its point
goes to the time-series store and its job is judged again at once, so a failed or shrunken
backup is CRITICAL (and told) the moment its runner reports it, not at the next periodic pass.

Neither may fail the close, which is already stored: a store that is down leaves the run
``charted=False`` for the catch-up task, and an evaluation that fails is logged and left to the
periodic ``check-backups``."""

from __future__ import annotations

import logging

from django.utils import timezone

from fleetwatch.timeseries import BackendUnavailable

log = logging.getLogger(__name__)


def on_run_closed(sender, run, **kwargs) -> None:
    from fleetwatch.backups.checks import evaluate_job
    from fleetwatch.backups.series import write_run

    try:
        write_run(run)
    except BackendUnavailable as exc:
        log.warning("backups: run %s not charted yet (store unavailable): %s", run.name, exc)
    except Exception:
        log.exception("backups: charting run %s failed", run.name)
    try:
        evaluate_job(run.job, timezone.now())
    except Exception:
        log.exception("backups: evaluating the job of run %s failed", run.name)
