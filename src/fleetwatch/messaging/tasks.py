"""Celery tasks of the device channels."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task
def reconcile_broker_accounts() -> dict:
    """Provision device broker accounts the broker has not taken yet and remove those of
    deactivated or deleted devices (:func:`fleetwatch.messaging.broker.reconcile`)."""
    from fleetwatch.messaging.broker import reconcile

    summary = reconcile()
    if any(summary.values()):
        log.info("broker accounts: %(provisioned)s provisioned, %(removed)s removed", summary)
    return summary


@shared_task(ignore_result=True)
def expire_commands() -> int:
    """Expire the commands not finished within ``FLEETWATCH_COMMAND_EXPIRY`` (``expire-commands``,
    every minute); returns how many (:func:`fleetwatch.messaging.commands.expire`)."""
    from fleetwatch.messaging.commands import expire

    return expire()
