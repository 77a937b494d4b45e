from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "fleetwatch.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # Metric and chart types declared in settings join the built-in ones (charts first).
        from django.conf import settings

        from fleetwatch.metrics import configure

        configure(getattr(settings, "FLEETWATCH_METRICS", None), getattr(settings, "FLEETWATCH_CHARTS", None))
