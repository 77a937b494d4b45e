from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "fleetwatch.messaging"
    label = "messaging"
    verbose_name = "Device channels"

    def ready(self):
        from fleetwatch.messaging.checks import NotConnected
        from fleetwatch.monitoring.checks import CHECKS, register

        if NotConnected.name not in CHECKS:
            register(NotConnected)
