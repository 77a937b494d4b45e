from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "fleetwatch.core"
    label = "fleetwatch_core"
    verbose_name = "Fleetwatch core"

    def ready(self):
        # Fleetwatch's system checks (fleetwatch.core.checks) register on import.
        import fleetwatch.core.checks  # noqa: F401

        # Every Django process (web, worker, commands) sends tasks through Fleetwatch's Celery
        # application and its broker setting, not Celery's default (amqp://localhost).
        from fleetwatch.celery import app

        app.set_current()
        app.set_default()
