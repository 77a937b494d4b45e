from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "fleetwatch.backups"
    label = "backups"
    verbose_name = "Backups"

    def ready(self):
        from fleetwatch.backups.receivers import on_run_closed
        from fleetwatch.backups.signals import run_closed

        run_closed.connect(on_run_closed, dispatch_uid="fleetwatch-backups-run-closed")
