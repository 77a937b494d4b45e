from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "fleetwatch.backups"
    label = "backups"
    verbose_name = "Backups"
