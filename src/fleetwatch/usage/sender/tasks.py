"""Celery tasks of the sender, scheduled by beat (settings.py, while FLEETWATCH_USAGE_METRICS
is on): the daily heartbeat, and the outbox's delivery every minute (retries with backoff)."""

from __future__ import annotations

from celery import shared_task

from fleetwatch.usage import payload
from fleetwatch.usage.sender import delivery, events


@shared_task
def send_heartbeat() -> None:
    """Queue today's Heartbeat (an Install or Upgrade if one is detected), then deliver."""
    events.report(payload.HEARTBEAT)
    delivery.flush()


@shared_task
def flush_outbox() -> None:
    """Deliver what is due in the outbox (``delivery.flush``)."""
    delivery.flush()
