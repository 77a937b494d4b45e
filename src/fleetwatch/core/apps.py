from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "fleetwatch.core"
    label = "fleetwatch_core"
    verbose_name = "Fleetwatch core"

    def ready(self):
        from fleetwatch.core import checks  # noqa: F401 - registers the system checks
        # Every Django process (web, worker, commands) sends tasks through Fleetwatch's Celery
        # application and its broker setting, not Celery's default (amqp://localhost).
        from fleetwatch.celery import app

        app.set_current()
        app.set_default()
