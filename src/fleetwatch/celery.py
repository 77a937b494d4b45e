"""The Celery application: periodic checks, alert evaluation, notifications and other work that
may be slow or must survive a restart.

The broker is one setting (``FLEETWATCH_BROKER``): RabbitMQ (``amqp://``) or Redis
(``redis://``) in production; by default a directory of the data dir (kombu's filesystem
transport), so the embedded default needs no server at all.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")

app = Celery("fleetwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
