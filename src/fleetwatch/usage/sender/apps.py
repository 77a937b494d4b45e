from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class SenderConfig(AppConfig):
    """The sender half of ``fleetwatch.usage``, installed as an app of its own (no models: its
    tables are the usage app's) so that its receiver and its Celery tasks (``tasks.py``,
    found by Celery's autodiscovery) live above ``usage/models.py`` and ``usage/payload.py``:
    the usage package never imports the sender (tests/test_layering.py, no import circle)."""

    name = "fleetwatch.usage.sender"
    label = "usage_sender"
    verbose_name = "Usage metrics: sender"

    def ready(self):
        from fleetwatch.usage.sender.events import migrated

        # Once per migrate, after the usage app's tables exist (Install or Upgrade, C.4).
        post_migrate.connect(
            migrated, sender=apps.get_app_config("usage"), dispatch_uid="fleetwatch-usage-migrated"
        )
