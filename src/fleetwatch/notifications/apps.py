from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "fleetwatch.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from fleetwatch.monitoring.signals import alert_transition
        from fleetwatch.notifications.dispatch import on_alert_transition

        alert_transition.connect(on_alert_transition, dispatch_uid="fleetwatch-notifications")
