from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "fleetwatch.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
