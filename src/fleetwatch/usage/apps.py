from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "fleetwatch.usage"
    label = "usage"
    verbose_name = "Usage metrics"
