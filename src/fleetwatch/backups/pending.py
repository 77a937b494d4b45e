"""Jobs judged again after their runs close, by the worker, in batches.

A closed run marks its job (``BackupJob.needs_check``, in the close's own transaction); the
worker's pass (:func:`judge_marked`, the ``judge-closed-backups`` schedule, every
``FLEETWATCH_ALERT_EVALUATION_INTERVAL`` seconds) charts the runs not charted yet and judges the
marked jobs in one batch (:func:`fleetwatch.backups.checks.evaluate_all`'s queries). A ping or a
runner's close so costs a few writes, not a judgement (about 8 ms on SQLite): pings keep up
with hundreds a second, and a failed dump is CRITICAL, and told, within seconds. The same
design as device reports (``fleetwatch.monitoring.evaluation``).

:func:`judged_at_end` is for bulk imports of history: inside it, closes mark nothing and the
jobs are judged once, as of the end, so what was only true on the way (an old run "stale"
until the newer ones arrive) is never told.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from fleetwatch.backups.models import BackupJob

log = logging.getLogger(__name__)

# The jobs whose runs closed inside judged_at_end(); None outside it.
_deferred: ContextVar[set | None] = ContextVar("backups_judged_at_end", default=None)


def mark(job_id) -> None:
    """Say that ``job_id``'s checks must be judged again (call inside the close's transaction)."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.add(job_id)
        return
    BackupJob.objects.filter(pk=job_id, needs_check=False).update(needs_check=True)


def judge_marked(now: datetime):
    """Judge every marked job at ``now`` and clear the marks (before judging: a run closing
    meanwhile marks its job again for the next pass). Returns the checks' ``Summary``."""
    from fleetwatch.backups.checks import Summary, evaluate_all

    ids = list(BackupJob.objects.filter(needs_check=True).values_list("pk", flat=True))
    if not ids:
        return Summary(0, 0, 0)
    BackupJob.objects.filter(pk__in=ids).update(needs_check=False)
    return evaluate_all(now, ids)


@contextmanager
def judged_at_end() -> Iterator[None]:
    """Within it, closed runs mark no job; on leaving, every job whose runs closed is judged
    once (at the time of leaving)."""
    from django.utils import timezone

    from fleetwatch.backups.checks import evaluate_all

    jobs: set = set()
    token = _deferred.set(jobs)
    try:
        yield
    finally:
        _deferred.reset(token)
        if jobs:
            evaluate_all(timezone.now(), jobs)
