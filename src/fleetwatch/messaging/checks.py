"""Is the device connected to the broker (MQTT/AMQP device channels)? "Not connected for N minutes"
alerts, from the connection status the consumer keeps (fleetwatch.messaging.consumer: broker
connection events and MQTT will messages).

A check type of fleetwatch.monitoring.checks, registered by this app (``MessagingConfig.ready``):
monitoring knows nothing of device channels (no import circle between the packages)."""

from __future__ import annotations

from datetime import timedelta

from fleetwatch.messaging.models import DeviceChannel
from fleetwatch.monitoring.checks.base import BaseCheck, Measurement


class NotConnected(BaseCheck):
    name = "not_connected"
    label = "Not connected"
    params = {"minutes": (15, 1, 7 * 24 * 60)}

    def measure(self) -> list[Measurement]:
        channel = DeviceChannel.objects.filter(device_id=self.device.pk).first()
        if channel is None or (channel.connected_since is None and channel.disconnected_since is None):
            return []  # never connected to the broker: unknown, not a failure
        if channel.connected:
            connected = 1
        else:
            since = channel.disconnected_since
            grace = self.now - timedelta(minutes=self.options["minutes"])
            connected = 1 if since is not None and since >= grace else 0
        return [Measurement("connected", {"connected": connected})]
