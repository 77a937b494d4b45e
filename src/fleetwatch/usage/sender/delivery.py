"""Delivering the queued payloads to the collector: never silently lost, never for ever.

``flush()`` posts each due ``Outbox`` row (JSON, ``FLEETWATCH_USAGE_COLLECTOR_URL``, urllib3,
4 s to connect, 8 s to read, no redirect followed) and reads the answer:

- any 2xx: delivered, the row is deleted. A Clean Insights collector (and ours) answers 204;
  a Matomo proxy in front of one may answer 200 or 202, which accepted the payload just as well.
- no answer (connection refused, timeout, reset), 408, 429 or 5xx: kept, tried again after
  ``backoff(attempts)``: 1, 2, 4 … minutes, at most 6 hours apart. After ``MAX_ATTEMPTS``
  failed attempts (about 8.5 hours of trying), or once the payload is older than ``MAX_AGE``
  (a worker down for days: the report is stale), it is given up with one error log.
- anything else (a 4xx such as 400 or 413, a 3xx): the collector will never take it; dropped
  with one error log.

Rows are claimed by a conditional update before they are posted, so two workers never post
the same row. A payload delivered just before a crash may be posted again: the collector keeps
one report per category, content and day, so the re-send is a duplicate it ignores.
Payloads other than ``Consent Withdrawn`` are dropped unsent while consent is withdrawn.
Nothing is sent while ``events.enabled()`` is false (switched off, DEBUG).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from django.conf import settings
from django.db.models import F
from django.utils import timezone

import fleetwatch
from fleetwatch.usage import payload
from fleetwatch.usage.models import Consent, Outbox
from fleetwatch.usage.sender.events import enabled

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 4.0  # seconds (as OpenWISP's sender, C.5)
READ_TIMEOUT = 8.0
MAX_ATTEMPTS = 10
MAX_AGE = timedelta(days=3)
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
# A row being posted is not due again for this long (a worker that dies mid-post frees it).
LEASE = timedelta(seconds=60)
RETRYABLE_STATUSES = frozenset({408, 429})

_pool = urllib3.PoolManager(retries=False)


@dataclass(frozen=True)
class Answer:
    """The collector's answer to one post: ``status`` (None: no answer), ``error`` (text)."""

    status: int | None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUSES or self.status >= 500


@dataclass
class Outcome:
    """What one ``flush()`` did: rows delivered, kept for a retry, dropped (refused, given up,
    or withdrawn by the opt-out)."""

    delivered: int = 0
    retried: int = 0
    dropped: int = 0


def post(url: str, document: dict) -> Answer:
    """POST ``document`` as JSON to ``url``; any failure to get an answer is ``Answer(None, …)``."""
    try:
        response = _pool.request(
            "POST",
            url,
            body=json.dumps(document).encode(),
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"Fleetwatch/{fleetwatch.__version__}",
            },
            redirect=False,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:300])
    return Answer(response.status, f"HTTP {response.status}")


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` failed attempts (1 → 1 min, 2 → 2 min, … at most 6 h)."""
    return min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_MAX)


def flush(now: datetime | None = None) -> Outcome:
    """Post every due row, oldest first (module docstring)."""
    outcome = Outcome()
    if not enabled():
        return outcome
    now = now or timezone.now()
    consented = Consent.load().user_consented
    for row in Outbox.objects.filter(next_attempt__lte=now).order_by("created", "id"):
        if not consented and row.category != payload.CONSENT_WITHDRAWN:
            row.delete()
            outcome.dropped += 1
            continue
        claimed = Outbox.objects.filter(pk=row.pk, next_attempt=row.next_attempt).update(
            next_attempt=now + LEASE, attempts=F("attempts") + 1
        )
        if not claimed:
            continue  # another worker has it
        attempts = row.attempts + 1
        answer = post(settings.FLEETWATCH_USAGE_COLLECTOR_URL, row.payload)
        if answer.delivered:
            Outbox.objects.filter(pk=row.pk).delete()
            outcome.delivered += 1
        elif not answer.retryable:
            logger.error(
                "Usage metrics: the collector refused the %s payload (%s); dropped",
                row.category,
                answer.error,
            )
            Outbox.objects.filter(pk=row.pk).delete()
            outcome.dropped += 1
        elif attempts >= MAX_ATTEMPTS or now - row.created >= MAX_AGE:
            logger.error(
                "Usage metrics: gave up on the %s payload after %d attempts since %s; last error: %s",
                row.category,
                attempts,
                row.created.isoformat(timespec="seconds"),
                answer.error,
            )
            Outbox.objects.filter(pk=row.pk).delete()
            outcome.dropped += 1
        else:
            logger.info(
                "Usage metrics: the %s payload was not delivered (%s); attempt %d of %d in %s",
                row.category,
                answer.error,
                attempts + 1,
                MAX_ATTEMPTS,
                backoff(attempts),
            )
            Outbox.objects.filter(pk=row.pk).update(
                next_attempt=now + backoff(attempts), last_error=answer.error
            )
            outcome.retried += 1
    return outcome
