from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "fleetwatch.core"
    label = "fleetwatch_core"
    verbose_name = "Fleetwatch core"
