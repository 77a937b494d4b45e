"""Alert evaluation of the values agents report, in batches instead of one task per report.

A live report's web request only inserts one :class:`PendingEvaluation` row (its alerting
values and time; :func:`record_reported`). The worker's schedule runs an evaluation pass every
``FLEETWATCH_ALERT_EVALUATION_INTERVAL`` seconds (:func:`evaluate_pending`): it takes the
pending rows oldest first, in batches, loads the metrics of a batch's devices in one query and
judges each device's values in time order (:func:`fleetwatch.monitoring.alerts.evaluate`).

* **Exactly once.** A device's rows are deleted in the same transaction as the health changes
  and notifications their evaluation writes, and the deletion comes first: a pass that finds
  fewer rows than it read leaves them (another pass took them) and changes nothing. A pass
  killed half-way (``acks_late`` delivers it again) re-evaluates only what it did not commit.
* **One pass at a time.** A lease row (:class:`EvaluationLease`, renewed after each batch,
  expiring after :data:`LEASE` if its holder died) keeps the passes of concurrent ticks from
  competing and from holding every worker process while checks wait.
* **Bounded work per tick.** A pass stops after :data:`PASS_SECONDS`; the next tick continues.

Nothing is shared in memory: any number of web processes, one or more workers, any broker.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction

from fleetwatch.core import instrumentation
from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.alerts import evaluate
from fleetwatch.monitoring.models import EvaluationLease, Metric, PendingEvaluation
from fleetwatch.timeseries import BackendUnavailable

log = logging.getLogger(__name__)

BATCH = 500  # pending reports read per batch
PASS_SECONDS = 30.0  # a pass hands over to the next tick after this long
LEASE = timedelta(seconds=60)
LEASE_ID = 1


def record_reported(device_id, moment: datetime, values: list) -> None:
    """Queue ``[(configuration, main_tags, value)]`` of a report at ``moment`` for the next pass:
    one plain INSERT (the agents' hot path), in the report's transaction when there is one, so a
    stored report and its pending evaluation are committed together."""
    ops = connection.ops
    table = ops.quote_name(PendingEvaluation._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in ("device_id", "time", "reported"))
    params = [
        Device._meta.pk.get_db_prep_value(device_id, connection),
        ops.adapt_datetimefield_value(moment),
        json.dumps(values),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s)", params)


def pending_count() -> int:
    return PendingEvaluation.objects.count()


# ------------------------------------------------------------------------------ the lease


def _acquire(holder: str) -> bool:
    now = datetime.now(UTC)
    with transaction.atomic():
        taken = EvaluationLease.objects.filter(pk=LEASE_ID, expires__lte=now).update(
            holder=holder, expires=now + LEASE
        )
        if taken or EvaluationLease.objects.filter(pk=LEASE_ID).exists():
            return bool(taken)
    try:
        with transaction.atomic():
            EvaluationLease.objects.create(pk=LEASE_ID, holder=holder, expires=now + LEASE)
    except IntegrityError:  # created by a pass that started at the same moment
        return False
    return True


def _renew(holder: str) -> bool:
    with transaction.atomic():
        return bool(
            EvaluationLease.objects.filter(pk=LEASE_ID, holder=holder).update(
                expires=datetime.now(UTC) + LEASE
            )
        )


def _release(holder: str) -> None:
    with transaction.atomic():
        EvaluationLease.objects.filter(pk=LEASE_ID, holder=holder).update(expires=datetime.now(UTC))


# ------------------------------------------------------------------------------ the pass


class _Taken(Exception):
    """Another pass took some of a device's rows first."""


def _series(configuration: str, main_tags: dict) -> tuple:
    return configuration, tuple(sorted(main_tags.items()))


def evaluate_pending(batch: int = BATCH, max_seconds: float = PASS_SECONDS) -> int:
    """One evaluation pass; returns the number of reports evaluated (0 if another pass runs)."""
    if not PendingEvaluation.objects.exists():  # the idle tick writes nothing
        return 0
    holder = uuid.uuid4().hex
    if not _acquire(holder):
        return 0
    started = time.monotonic()
    evaluated = 0
    oldest = None  # the earliest report time this pass read
    try:
        while True:
            rows = list(PendingEvaluation.objects.order_by("pk")[:batch])
            if not rows:
                break
            first = min(row.time for row in rows)
            oldest = first if oldest is None else min(oldest, first)
            done, progressed, stop = _evaluate_batch(rows)
            evaluated += done
            if stop or not progressed or time.monotonic() - started >= max_seconds or not _renew(holder):
                break
    finally:
        _release(holder)
    if evaluated:
        # How far evaluation trails the reports (bench/scale.py reads it): at most the age of
        # the oldest report read, now that its batch is committed. DEBUG: a routine line every
        # few seconds would bury the console's events (FLEETWATCH_LOG_LEVEL=DEBUG shows it).
        log.debug(
            "evaluation pass: %d reports in %.2f s; the oldest waited %.1f s",
            evaluated,
            time.monotonic() - started,
            (datetime.now(UTC) - oldest).total_seconds(),
        )
    return evaluated


def _configurations(rows: list[PendingEvaluation]) -> set[str]:
    """The metric configurations the rows report values of: only those metrics are loaded (a
    router's traffic and clients metrics raise no alerts and were half the rows read). A row
    that does not parse is left to the device's evaluation, which drops it with a log line."""
    found = set()
    for row in rows:
        try:
            found.update(configuration for configuration, _, _ in json.loads(row.reported))
        except (ValueError, TypeError):
            continue
    return found


def _evaluate_batch(rows: list[PendingEvaluation]) -> tuple[int, bool, bool]:
    """Evaluate one batch, device by device; returns (reports evaluated, any row consumed, stop)."""
    by_device: dict = {}
    for row in rows:
        by_device.setdefault(row.device_id, []).append(row)
    metrics = {
        (m.device_id, *_series(m.configuration, m.main_tags)): m
        for m in Metric.objects.select_related("alert_settings", "device__organization").filter(
            device_id__in=list(by_device), configuration__in=_configurations(rows)
        )
    }
    evaluated, progressed = 0, False
    for device_id, pending in by_device.items():
        pending.sort(key=lambda r: (r.time, r.pk))
        ids = [r.pk for r in pending]
        try:
            with transaction.atomic():
                deleted, _ = PendingEvaluation.objects.filter(pk__in=ids).delete()
                if deleted != len(ids):
                    raise _Taken
                for row in pending:
                    for configuration, main_tags, value in json.loads(row.reported):
                        metric = metrics.get((device_id, *_series(configuration, main_tags)))
                        if metric is not None:
                            evaluate(metric, value, row.time)
        except _Taken:
            continue
        except BackendUnavailable as exc:
            # Nothing of this device changed; its rows wait for the next pass.
            log.warning("alert evaluation paused: the time-series store is unavailable (%s)", exc)
            instrumentation.store_error("timeseries")
            return evaluated, progressed, True
        except Exception:
            # As a failed task was: logged and not retried, so one bad row cannot block the rest.
            log.exception("alert evaluation of device %s failed; %d reports dropped", device_id, len(ids))
            with transaction.atomic():
                PendingEvaluation.objects.filter(pk__in=ids).delete()
            progressed = True
            continue
        evaluated += len(ids)
        progressed = True
    return evaluated, progressed, False
