from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "fleetwatch.web"
    label = "web"
    verbose_name = "Web dashboard"
