from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "fleetwatch.messaging"
    label = "messaging"
    verbose_name = "Device channels"
