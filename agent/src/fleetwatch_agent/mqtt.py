"""The MQTT channel (paho-mqtt; RabbitMQ's MQTT plugin speaks 3.1.1).

A persistent session (``clean_session=False``, client id = the device id) so that commands
published while the device is offline wait in the broker; QoS 1 both ways. The will message
(``offline`` on the status topic) tells the server when the link dies; on connecting the agent
subscribes to its commands first, and says ``online`` once the broker confirmed the
subscription, so a command sent on seeing ``online`` cannot be missed. A command is written to
the state dir before the broker gets its PUBACK (paho acknowledges when the callback returns).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time

import paho.mqtt.client as mqtt

from fleetwatch_agent.broker import Inbox, address, mqtt_topic, report_message, result_message, status_message
from fleetwatch_agent.http import DROPPED, KEPT, SENT

log = logging.getLogger(__name__)
KEEPALIVE = 60

__all__ = ["DROPPED", "KEPT", "SENT", "MqttChannel"]


class MqttChannel:
    """Reports, status and command results of one device over MQTT; commands into ``inbox``."""

    name = "mqtt"

    def __init__(
        self,
        broker: dict,
        device_id: str,
        features: str,
        inbox: Inbox,
        timeout: float = 30.0,
        ca_file: str = "",
    ):
        self.device_id = device_id
        self.features = features
        self.inbox = inbox
        self.timeout = timeout
        self.host, self.port, tls = address(broker["mqtt_url"], 1883, 8883)
        vhost = broker.get("vhost") or "/"
        username = broker["username"] if vhost == "/" else f"{vhost}:{broker['username']}"
        self.ready = threading.Event()  # subscribed and announced online
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=device_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self.client.username_pw_set(username, broker["password"])
        if tls:
            self.client.tls_set(ca_certs=ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        self.client.will_set(self._topic("status"), status_message("offline", features), qos=1, retain=False)
        self.client.reconnect_delay_set(1, 60)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self._started = False

    def _topic(self, topic: str) -> str:
        return mqtt_topic(self.device_id, topic)

    # paho's callbacks, on its network thread
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connection refused: %s", reason_code)
            return
        log.info("MQTT connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present)
        client.subscribe(self._topic("commands"), qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("MQTT subscription to commands refused: %s", reason_codes)
            return
        client.publish(self._topic("status"), status_message("online", self.features), qos=1)
        self.ready.set()

    def _on_message(self, client, userdata, message) -> None:
        self.inbox.deliver(message.payload)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.ready.clear()
        if reason_code != 0:
            log.warning("MQTT connection lost: %s", reason_code)

    def connect(self) -> bool:
        """Connect (paho reconnects by itself afterwards); True once subscribed and online."""
        if not self._started:
            try:
                self.client.connect(self.host, self.port, keepalive=KEEPALIVE)
            except OSError as exc:
                log.warning("MQTT broker %s:%s unreachable: %s", self.host, self.port, exc)
                self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE)
            self.client.loop_start()
            self._started = True
        return self.ready.wait(self.timeout)

    @property
    def connected(self) -> bool:
        return self.ready.is_set()

    def _publish(self, topic: str, payload: bytes) -> bool:
        """True once the broker acknowledged (PUBACK) within the timeout."""
        if not self.ready.is_set():
            return False
        try:
            info = self.client.publish(self._topic(topic), payload, qos=1)
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as exc:
            log.warning("MQTT publish on %s failed: %s", topic, exc)
            return False
        return info.is_published()

    def send_report(self, report: dict, wire_time: str) -> str:
        """SENT once the broker has it (PUBACK), else KEPT; nothing is ever refused for good
        here (the server dead-letters what it cannot store)."""
        return SENT if self._publish("monitoring", report_message(report, wire_time)) else KEPT

    def send_result(self, seq: int, status: str, output: str) -> bool:
        return self._publish("cmdlog", result_message(seq, status, output))

    def take_commands(self) -> list[dict]:
        """Nothing: commands arrive through ``inbox`` on paho's thread."""
        return []

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Sleep until ``seconds`` pass, a command arrives or ``stop`` is set."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and not self.inbox.wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.inbox.wake.wait(min(left, 0.5))
        self.inbox.wake.clear()

    def close(self) -> None:
        """Say ``offline`` (a clean end sends no will), then disconnect."""
        if self.ready.is_set():
            self._publish("status", status_message("offline", self.features))
        self.client.disconnect()
        if self._started:
            self.client.loop_stop()
