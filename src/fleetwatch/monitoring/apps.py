from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "fleetwatch.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # Metric and chart types declared in settings join the built-in ones (charts first).
        from django.conf import settings

        from fleetwatch.metrics import configure

        configure(settings.FLEETWATCH_METRICS, settings.FLEETWATCH_CHARTS)

        from django.db.models.signals import post_save

        from fleetwatch.inventory.models import Device

        post_save.connect(_device_saved, sender=Device, dispatch_uid="fleetwatch-auto-checks")

        # fleetwatch.E009 (FLEETWATCH_AUTO_CHECKS names an unknown check type) registers on import.
        import fleetwatch.monitoring.system_checks  # noqa: F401


def _device_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from fleetwatch.monitoring.tasks import auto_create_checks

        auto_create_checks(instance)
