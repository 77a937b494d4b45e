"""The AMQP 0-9-1 channel (pika's blocking connection, driven from the agent's own thread).

Reports, status and results are published to ``amq.topic`` with the spec's routing keys,
persistent (delivery mode 2), with publisher confirms: a report is deleted only once the broker
confirmed it, and published ``mandatory``, so a report no queue would take (the server's
consumer never ran) comes back and is kept. Commands come through an exclusive, server-named
queue bound to ``fleetwatch.<id>.commands``; each is written to the state dir before it is
acknowledged. The server re-offers unfinished commands when the device says ``online``.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time

import pika
import pika.exceptions

from fleetwatch_agent.broker import (
    Inbox,
    address,
    report_message,
    result_message,
    routing_key,
    status_message,
)
from fleetwatch_agent.http import KEPT, SENT

log = logging.getLogger(__name__)
EXCHANGE = "amq.topic"
PERSISTENT = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json")
# Errors after which the connection is made anew at the next use.
_LOST = (pika.exceptions.AMQPError, OSError)


class AmqpChannel:
    """Reports, status and command results of one device over AMQP; commands into ``inbox``."""

    name = "amqp"

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
        host, port, tls = address(broker["amqp_url"], 5672, 5671)
        self.parameters = pika.ConnectionParameters(
            host=host,
            port=port,
            virtual_host=broker.get("vhost") or "/",
            credentials=pika.PlainCredentials(broker["username"], broker["password"]),
            heartbeat=60,
            blocked_connection_timeout=timeout,
            socket_timeout=timeout,
            connection_attempts=1,
            ssl_options=pika.SSLOptions(ssl.create_default_context(cafile=ca_file or None), host)
            if tls
            else None,
            client_properties={"connection_name": device_id},
        )
        self.connection = None
        self.channel = None

    @property
    def connected(self) -> bool:
        return self.connection is not None and self.connection.is_open

    def connect(self) -> bool:
        """Connect, bind the command queue, say ``online``; True if all of it worked."""
        if self.connected:
            return True
        try:
            self.connection = pika.BlockingConnection(self.parameters)
            self.channel = self.connection.channel()
            self.channel.confirm_delivery()
            queue = self.channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            self.channel.queue_bind(queue, EXCHANGE, routing_key(self.device_id, "commands"))
            self.channel.basic_qos(prefetch_count=10)
            self.channel.basic_consume(queue, self._on_command)
            self._publish("status", status_message("online", self.features), mandatory=False)
        except _LOST as exc:
            log.warning("AMQP broker unreachable or refused: %r", exc)
            self._drop()
            return False
        log.info("AMQP connected to %s:%s", self.parameters.host, self.parameters.port)
        return True

    def _drop(self) -> None:
        connection, self.connection, self.channel = self.connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except _LOST:
                pass

    def _on_command(self, channel, method, properties, body) -> None:
        self.inbox.deliver(body)  # persisted first: then the broker may forget it
        channel.basic_ack(method.delivery_tag)

    def _publish(self, topic: str, body: bytes, mandatory: bool) -> None:
        self.channel.basic_publish(
            EXCHANGE, routing_key(self.device_id, topic), body, PERSISTENT, mandatory=mandatory
        )

    def _confirmed(self, topic: str, body: bytes, mandatory: bool = True) -> bool:
        """True once the broker confirmed the message (and, if ``mandatory``, routed it)."""
        if not self.connect():
            return False
        try:
            self._publish(topic, body, mandatory)
            return True
        except pika.exceptions.UnroutableError:
            log.warning(
                "AMQP: no queue takes fleetwatch.%s.%s yet (is the server's consumer running?)",
                self.device_id,
                topic,
            )
            return False
        except pika.exceptions.NackError:
            log.warning("AMQP: the broker refused a message on %s", topic)
            return False
        except _LOST as exc:
            log.warning("AMQP connection lost: %r", exc)
            self._drop()
            return False

    def send_report(self, report: dict, wire_time: str) -> str:
        """SENT once confirmed and routed, else KEPT."""
        return SENT if self._confirmed("monitoring", report_message(report, wire_time)) else KEPT

    def send_result(self, seq: int, status: str, output: str) -> bool:
        return self._confirmed("cmdlog", result_message(seq, status, output))

    def take_commands(self) -> list[dict]:
        """Nothing: commands arrive through ``inbox`` while the connection is driven."""
        return []

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Drive the connection (heartbeats, commands) until ``seconds`` pass, a command
        arrives or ``stop`` is set; reconnect every ``10`` s while the broker is away."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and not self.inbox.wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not self.connected and not self.connect():
                stop.wait(min(left, 10))
                continue
            try:
                self.connection.process_data_events(time_limit=min(left, 0.5))
            except _LOST as exc:
                log.warning("AMQP connection lost: %r", exc)
                self._drop()
        self.inbox.wake.clear()

    def close(self) -> None:
        """Say ``offline``, then close."""
        if self.connected:
            try:
                self._publish("status", status_message("offline", self.features), mandatory=False)
            except _LOST:
                pass
        self._drop()
