"""The worker's pass over device commands (``expire-commands`` in ``CELERY_BEAT_SCHEDULE``,
every minute): commands past ``FLEETWATCH_COMMAND_EXPIRY`` become ``expired``.

Its own module, listed in ``CELERY_IMPORTS`` (Celery discovers ``tasks`` modules only), so the
messaging app's other passes and this one are kept apart."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def expire_commands() -> int:
    """Expire the commands whose time has passed; returns how many
    (:func:`fleetwatch.messaging.commands.expire`)."""
    from fleetwatch.messaging.commands import expire

    return expire()
