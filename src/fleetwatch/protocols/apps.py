from django.apps import AppConfig


class ProtocolsConfig(AppConfig):
    name = "fleetwatch.protocols"
    label = "protocols"
    verbose_name = "Protocols"
