"""What monitoring tells the rest of Fleetwatch (notifications listen; monitoring knows none)."""

from django.dispatch import Signal

# A metric became unhealthy ("problem") or healthy again ("recovery") after its tolerance.
# kwargs: metric, alert_settings, kind, value, time, send_alert
alert_transition = Signal()

# A device's health status changed. kwargs: device, previous, status, time, reason
health_changed = Signal()
