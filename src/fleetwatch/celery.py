"""The Celery application: periodic checks, alert evaluation, notifications and other work that
may be slow or must survive a restart.

The broker is one setting (``FLEETWATCH_BROKER``): RabbitMQ (``amqp://``) or Redis
(``redis://``) in production; by default a directory of the data dir (kombu's filesystem
transport), so the embedded default needs no server at all.
"""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")

app = Celery("fleetwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _django_logging(**kwargs) -> None:
    """The worker logs as settings.LOGGING says (libraries at WARNING: no line per task), not as
    Celery would set it up (its root logger at ``--loglevel``, stdout redirected). A receiver of
    this signal replaces Celery's own set-up; Django's is applied again here because Celery calls
    it after ``django.setup()``."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.worker_ready.connect
def _ready(**kwargs) -> None:
    """One DEBUG line when the worker takes tasks (Celery's own "ready." is INFO, below the
    libraries' WARNING): what bench/worker.py waits for, with FLEETWATCH_LOG_LEVEL=DEBUG."""
    import logging

    logging.getLogger("fleetwatch.worker").debug("worker ready")
