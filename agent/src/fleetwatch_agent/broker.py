"""What the two broker channels share: topics, the status message, the broker account's
address, and the hand-over of commands from a network thread to the agent's loop.

Topics (channels-spec.md): MQTT ``fleetwatch/<id>/<topic>`` = AMQP routing key
``fleetwatch.<id>.<topic>`` on ``amq.topic``; the device publishes ``monitoring`` (the report
with its reading time in ``"time"``), ``status`` and ``cmdlog``, and reads ``commands``.
"""

from __future__ import annotations

import json
import logging
import threading
from urllib.parse import urlsplit

from fleetwatch_agent import AGENT

log = logging.getLogger(__name__)


def mqtt_topic(device_id: str, topic: str) -> str:
    return f"fleetwatch/{device_id}/{topic}"


def routing_key(device_id: str, topic: str) -> str:
    return f"fleetwatch.{device_id}.{topic}"


def status_message(status: str, features: str) -> bytes:
    """``{"status": "online"|"offline", "features": "c"|"", "agent": "fleetwatch-agent/…"}``."""
    return json.dumps({"status": status, "features": features, "agent": AGENT}).encode()


def report_message(report: dict, wire_time: str) -> bytes:
    """The report with its reading's time: a redelivered copy is then stored once."""
    return json.dumps({**report, "time": wire_time}, separators=(",", ":")).encode()


def result_message(seq: int, status: str, output: str) -> bytes:
    return json.dumps({"seq": seq, "status": status, "output": output}).encode()


def address(url: str, default_port: int, tls_port: int) -> tuple[str, int, bool]:
    """``scheme://host:port`` → (host, port, TLS?); ``mqtts``/``amqps`` mean TLS."""
    parts = urlsplit(url)
    tls = parts.scheme.endswith("s")
    return parts.hostname or "127.0.0.1", parts.port or (tls_port if tls else default_port), tls


def parse_command(body: bytes) -> dict | None:
    """A command message (``{"seq", "action", "argument"}``), or None if it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or "seq" not in data:
        log.error("not a command, ignored: %r", body[:200])
        return None
    return data


class Inbox:
    """Commands received on a network thread, for the agent's loop; setting ``wake`` ends the
    loop's wait early."""

    def __init__(self, accept):
        self._accept = accept  # CommandBook.accept: persists before the broker is acknowledged
        self.wake = threading.Event()

    def deliver(self, body: bytes) -> None:
        command = parse_command(body)
        if command is not None:
            self._accept(command)
            self.wake.set()
