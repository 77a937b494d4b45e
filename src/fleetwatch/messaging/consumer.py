"""``fleetwatch consume``: devices' messages from RabbitMQ, stored; connection status; commands out.

Topology (declared at every connection, idempotent; docs/channels.md):

- durable queue ``fleetwatch.devices`` bound to ``amq.topic`` with ``fleetwatch.*.monitoring``,
  ``fleetwatch.*.messages``, ``fleetwatch.*.status`` and ``fleetwatch.*.cmdlog`` (MQTT
  ``fleetwatch/<id>/<topic>`` arrives there with the routing key ``fleetwatch.<id>.<topic>``);
- durable queue ``fleetwatch.connections`` bound to ``amq.rabbitmq.event`` with ``connection.*``
  (RabbitMQ's event exchange plugin) in the events vhost (FLEETWATCH_CHANNELS_EVENTS_VHOST); when
  that is another vhost than the broker URL's, the queue is ``fleetwatch.connections.<vhost>`` so
  that several Fleetwatch vhosts on one broker do not share it;
- durable queue ``fleetwatch.dead-letter``: what can never be stored, republished with the header
  ``x-fleetwatch-reason`` (why) and ``x-fleetwatch-routing-key`` (where it came from), then acked.

A message is acknowledged only after what it carries is stored (the relational writes committed,
the points written): a consumer killed at any moment loses nothing, and the redelivered message is
stored once (every write path is idempotent). When the store or the database is unavailable the
message is handed back to the broker (nack with requeue) and the consumer pauses before the next.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import OperationalError, close_old_connections, transaction
from django.db.models import Q

from fleetwatch.core import instrumentation
from fleetwatch.messaging import broker
from fleetwatch.messaging.models import Channel, ConnectionEvent, DeviceChannel, StationMessage

log = logging.getLogger(__name__)

DEVICES_QUEUE = broker.DEVICES_QUEUE
CONNECTIONS_QUEUE = "fleetwatch.connections"
DEAD_LETTER_QUEUE = "fleetwatch.dead-letter"
EVENT_EXCHANGE = "amq.rabbitmq.event"
REASON_HEADER = "x-fleetwatch-reason"
ROUTING_KEY_HEADER = "x-fleetwatch-routing-key"
# The RabbitMQ MQTT plugin marks what MQTT clients publish with this header.
MQTT_HEADER = "x-mqtt-publish-qos"
PREFETCH = 64
SWEEP_SECONDS = 1.0
RETRY_PAUSES = (0.5, 1, 2, 5, 10, 30)  # pauses after a store failure / a lost broker, growing


class Retry(Exception):
    """The message cannot be stored now (store, database or device lease busy): requeue it."""


class DeadLetter(Exception):
    """The message can never be stored; ``str()`` is the reason given in ``x-fleetwatch-reason``."""


@dataclass
class Outcome:
    """What became of one message: ``"stored"``, ``"dead"`` (with ``reason``) or ``"retry"``."""

    status: str
    reason: str = ""


def _retryable():
    from fleetwatch.monitoring.ingestion import DeviceBusy
    from fleetwatch.timeseries.errors import BackendUnavailable

    return (BackendUnavailable, DeviceBusy, OperationalError)


def _now() -> datetime:
    return datetime.now(UTC)


def _channel_of(properties) -> str:
    headers = getattr(properties, "headers", None) or {}
    return Channel.MQTT if MQTT_HEADER in headers else Channel.AMQP


def _json_object(body: bytes, what: str) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeadLetter(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DeadLetter(f"{what} must be a JSON object")
    return data


# ------------------------------------------------------------------------ what each topic does


def touch(device_id, now: datetime, channel: str | None = None) -> None:
    """Device.last_seen and DeviceChannel.last_message move to ``now``, never back in time; the
    channel the device last spoke over is recorded (``channel``)."""
    from fleetwatch.inventory.models import Device

    Device.objects.filter(pk=device_id).filter(Q(last_seen__isnull=True) | Q(last_seen__lt=now)).update(
        last_seen=now
    )
    DeviceChannel.objects.get_or_create(device_id=device_id)
    updates = {"channel": channel} if channel else {}
    DeviceChannel.objects.filter(device_id=device_id).filter(
        Q(last_message__isnull=True) | Q(last_message__lt=now)
    ).update(last_message=now, **updates)


def store_monitoring(device, body: bytes, now: datetime) -> int:
    """A NetJSON DeviceMonitoring report, with the HTTP path's validation and extraction; its
    optional top-level ``time`` (the agent's ``DD-MM-YYYY_HH:MM:SS.ffffff``, UTC) is the reading's
    time. Returns the points written; raises DeadLetter or Retry."""
    from fleetwatch.monitoring.ingestion import DeviceBusy, ReportRejected, ingest

    time_param = None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None  # ingest() says why, in the HTTP path's words
    if isinstance(data, dict) and "time" in data:
        time_param = data.pop("time")
        if not isinstance(time_param, str):
            raise DeadLetter("time must be a string like 30-11-2026_21:45:00.000000 (UTC)")
        body = json.dumps(data).encode()
    started = time.perf_counter()
    try:
        written = ingest(device, body, time_param, now)
    except ReportRejected as exc:
        raise DeadLetter(str(exc)) from None
    except _retryable() as exc:
        if not isinstance(exc, DeviceBusy):  # for GET /metrics' fleetwatch_store_errors_total
            instrumentation.store_error("database" if isinstance(exc, OperationalError) else "timeseries")
        raise Retry(f"{type(exc).__name__}: {exc}") from None
    instrumentation.observe_ingest("consumer", time.perf_counter() - started)
    return written


def store_messages(device, body: bytes, now: datetime) -> int:
    """A station's envelope: every line a StationMessage (once per digest), GPS fixes, boot counts
    and detections as points (written first), their metrics created. Returns the lines stored
    anew; raises DeadLetter (nothing written) or Retry."""
    from fleetwatch.core.timeseries import get_backend
    from fleetwatch.ingest.stations import MalformedMessage, parse_envelope, parse_message, points, series_of
    from fleetwatch.inventory.models import Device
    from fleetwatch.monitoring.check_runner import metric_for
    from fleetwatch.monitoring.series import device_tags

    try:
        envelope = parse_envelope(body)
        lines = parse_message(envelope.text)
    except MalformedMessage as exc:
        raise DeadLetter(str(exc)) from None
    serial = Device.objects.filter(pk=device.pk).values_list("serial", flat=True).first()
    if serial and envelope.serial != serial:
        raise DeadLetter(f"the envelope's id {envelope.serial!r} is not this device's serial {serial!r}")
    measured = points(lines, device_tags(device))
    try:
        if measured:
            get_backend().write(measured)
        with transaction.atomic():
            rows = [
                StationMessage(
                    device_id=device.pk,
                    time=line.time or now,
                    received=now,
                    kind=line.kind,
                    text=line.text,
                    digest=line.digest(now),
                )
                for line in lines
            ]
            before = StationMessage.objects.filter(device_id=device.pk).count()
            StationMessage.objects.bulk_create(rows, ignore_conflicts=True)
            stored = StationMessage.objects.filter(device_id=device.pk).count() - before
            if measured:
                record = Device.objects.get(pk=device.pk)
                for configuration, main_tags in sorted(series_of(measured)):
                    metric_for(record, configuration, dict(main_tags))
    except _retryable() as exc:
        raise Retry(f"{type(exc).__name__}: {exc}") from None
    return stored


def set_connection(
    device_id,
    connected: bool,
    when: datetime,
    channel: str,
    source: str,
    detail: str = "",
    force: bool = False,
    **state,
) -> bool:
    """Record that the device connected or disconnected at ``when``: its state and, when the
    state changes (or ``force``: a new broker connection), a history event. ``state`` may set
    ``features`` and ``agent``. An event older than the state's last change changes nothing but
    ``state``. Returns True when the device came online (or connected anew, ``force``)."""
    with transaction.atomic():
        DeviceChannel.objects.get_or_create(device_id=device_id)
        row = DeviceChannel.objects.select_for_update().get(device_id=device_id)
        for name, value in state.items():
            setattr(row, name, value)
        latest = max(filter(None, (row.connected_since, row.disconnected_since)), default=None)
        came_online = False
        if latest is None or when >= latest:
            if connected != row.connected or latest is None or force:
                kind = ConnectionEvent.Kind.CONNECTED if connected else ConnectionEvent.Kind.DISCONNECTED
                ConnectionEvent.objects.create(
                    device_id=device_id,
                    time=when,
                    kind=kind,
                    channel=channel,
                    source=source,
                    detail=detail[:200],
                )
                if connected:
                    row.connected_since, came_online = when, True
                else:
                    row.disconnected_since = when
            row.connected = connected
            if connected:
                row.channel = channel
        row.save()
    return came_online


def store_status(device, body: bytes, now: datetime, channel: str) -> bool:
    """The agent's ``{"status": "online"|"offline", "features": "c", "agent": "…"}`` (offline is
    its MQTT will). Returns True for ``online``: its pending commands are to be offered."""
    data = _json_object(body, "status")
    status = data.get("status")
    if status not in ("online", "offline"):
        raise DeadLetter('status must be "online" or "offline"')
    state = {}
    for name, bound in (("features", 16), ("agent", 64)):
        if name in data:
            if not isinstance(data[name], str) or len(data[name]) > bound:
                raise DeadLetter(f"{name} must be a string of at most {bound} characters")
            state[name] = data[name]
    source = "will" if status == "offline" and channel == Channel.MQTT else "agent"
    set_connection(device.pk, status == "online", now, channel, source, **state)
    # "online" comes after the agent subscribed to its commands: offer them even when the broker's
    # connection event did already (its offer may have preceded a first subscription).
    return status == "online"


def store_cmdlog(device, body: bytes, now: datetime) -> None:
    """A command's result ``{"seq": n, "status": "OK"|"ERR", "output": "…"}`` →
    ``commands.record_result`` (the first result wins)."""
    from fleetwatch.inventory.models import Device
    from fleetwatch.messaging import commands

    data = _json_object(body, "cmdlog")
    seq, status, output = data.get("seq"), data.get("status"), data.get("output", "")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise DeadLetter("seq must be a positive integer")
    if status not in ("OK", "ERR"):
        raise DeadLetter('status must be "OK" or "ERR"')
    if not isinstance(output, str):
        raise DeadLetter("output must be a string")
    try:
        commands.record_result(Device.objects.get(pk=device.pk), seq, status, output, now)
    except commands.UnknownCommand as exc:
        raise DeadLetter(f"unknown command: {exc}") from None


# ------------------------------------------------------------------------ the consumer


class Consumer:
    """One consumer of the broker URL's vhost (FLEETWATCH_CHANNELS_BROKER_URL).

    :meth:`run` consumes until :meth:`stop` (SIGTERM/SIGINT in ``fleetwatch consume``),
    reconnecting with growing pauses when the broker goes away; :meth:`process_until_idle`
    handles what is queued now and returns (tests, ``fleetwatch consume --until-idle``)."""

    def __init__(self, url: str | None = None, events_vhost: str | None = None):
        from django.conf import settings

        self.url = url or settings.FLEETWATCH_CHANNELS_BROKER_URL
        self.vhost = broker.vhost()
        self.events_vhost = events_vhost or settings.FLEETWATCH_CHANNELS_EVENTS_VHOST or self.vhost
        self.connection = None
        self.channel = None
        self.events_connection = None
        self.events_channel = None
        self._stop = threading.Event()
        self._failures = 0
        self.counts = {"stored": 0, "dead": 0, "retry": 0, "ignored": 0, "commands": 0}

    @property
    def connections_queue(self) -> str:
        if self.events_vhost == self.vhost:
            return CONNECTIONS_QUEUE
        return f"{CONNECTIONS_QUEUE}.{self.vhost}"

    def _parameters(self, vhost: str):
        import pika

        parameters = pika.URLParameters(self.url)
        parameters.virtual_host = vhost
        parameters.heartbeat = 30
        parameters.blocked_connection_timeout = 60
        return parameters

    def connect(self) -> None:
        """Open the connections and declare the topology (idempotent)."""
        import pika

        self.connection = pika.BlockingConnection(self._parameters(self.vhost))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()  # dead letters and commands are confirmed before the ack
        self.channel.basic_qos(prefetch_count=PREFETCH)
        self.channel.queue_declare(DEVICES_QUEUE, durable=True)
        self.channel.queue_declare(DEAD_LETTER_QUEUE, durable=True)
        for topic in broker.DEVICE_TOPICS_OUT:
            self.channel.queue_bind(DEVICES_QUEUE, broker.EXCHANGE, f"fleetwatch.*.{topic}")
        if self.events_vhost == self.vhost:
            self.events_connection, self.events_channel = self.connection, self.channel
        else:
            self.events_connection = pika.BlockingConnection(self._parameters(self.events_vhost))
            self.events_channel = self.events_connection.channel()
            self.events_channel.basic_qos(prefetch_count=PREFETCH)
        self.events_channel.queue_declare(self.connections_queue, durable=True)
        try:
            self.events_channel.queue_bind(self.connections_queue, EVENT_EXCHANGE, "connection.*")
        except pika.exceptions.ChannelClosedByBroker as exc:
            # No event exchange (plugin off): status comes from the agents' messages only.
            log.warning("no connection events (%s): enable rabbitmq_event_exchange", exc)
            if self.events_connection is self.connection:
                self.channel = self.connection.channel()
                self.channel.confirm_delivery()
                self.channel.basic_qos(prefetch_count=PREFETCH)
            self.events_channel = None

    def close(self) -> None:
        for connection in {id(c): c for c in (self.events_connection, self.connection) if c}.values():
            try:
                if connection.is_open:
                    connection.close()
            except Exception:  # already gone: nothing to release
                pass
        self.connection = self.channel = self.events_connection = self.events_channel = None

    def stop(self, *_args) -> None:
        """Ask :meth:`run` to return after the message in hand (a signal handler)."""
        self._stop.set()

    # -- one message

    def handle_device_message(self, routing_key: str, properties, body: bytes) -> Outcome:
        """Store one message of ``fleetwatch.<id>.<topic>``; never raises for the message's sake."""
        from fleetwatch.monitoring.ingestion import reporting_device

        parts = routing_key.split(".")
        if len(parts) != 3 or parts[0] != "fleetwatch" or parts[2] not in broker.DEVICE_TOPICS_OUT:
            return Outcome("dead", f"not a device topic: {routing_key}")
        _prefix, device_id, topic = parts
        now = _now()
        close_old_connections()
        try:
            device = reporting_device(device_id)
            if device is None:
                return Outcome("dead", f"unknown device {device_id} (or deactivated)")
            channel = _channel_of(properties)
            came_online = False
            if topic == "monitoring":
                store_monitoring(device, body, now)
            elif topic == "messages":
                store_messages(device, body, now)
            elif topic == "status":
                came_online = store_status(device, body, now, channel)
            else:
                store_cmdlog(device, body, now)
            touch(device.pk, now, channel)
        except DeadLetter as exc:
            return Outcome("dead", str(exc))
        except Retry as exc:
            return Outcome("retry", str(exc))
        except _retryable() as exc:
            return Outcome("retry", f"{type(exc).__name__}: {exc}")
        if came_online:
            self.offer_commands(device.pk, channel, now)
        return Outcome("stored")

    def handle_connection_event(self, routing_key: str, properties) -> Outcome:
        """``connection.created`` / ``connection.closed`` of a device's connection → connection
        state and history; anything else is ignored (acked).

        ``connection.created`` carries ``user``, ``vhost``, ``protocol`` and the connection's
        ``name``; ``connection.closed`` only the ``name`` (RabbitMQ 3.10): a closed connection is
        the device's whose latest broker ``connected`` event has that name. The close of an older
        connection (a device that reconnected before the broker noticed the old link was dead)
        leaves the device connected."""
        headers = getattr(properties, "headers", None) or {}
        text = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
        name = str(text.get("name", ""))[:200]
        millis = text.get("timestamp_in_ms")
        when = datetime.fromtimestamp(millis / 1000, UTC) if isinstance(millis, int) else _now()
        close_old_connections()
        try:
            if routing_key == "connection.created":
                if text.get("vhost") != self.vhost:
                    return Outcome("ignored")
                try:
                    device_id = uuid.UUID(str(text.get("user", "")))
                except ValueError:
                    return Outcome("ignored")  # not a device (the server's own user, an operator)
                if not DeviceChannel.objects.filter(device_id=device_id).exists():
                    return Outcome("ignored")
                channel = Channel.MQTT if "mqtt" in str(text.get("protocol", "")).lower() else Channel.AMQP
                came_online = set_connection(
                    device_id, True, when, channel, "broker", detail=name, force=True
                )
            elif routing_key == "connection.closed" and name:
                opened = (
                    ConnectionEvent.objects.filter(
                        kind=ConnectionEvent.Kind.CONNECTED, source="broker", detail=name
                    )
                    .order_by("-time", "-id")
                    .first()
                )
                if opened is None:
                    return Outcome("ignored")
                latest = (
                    ConnectionEvent.objects.filter(
                        device_id=opened.device_id, kind=ConnectionEvent.Kind.CONNECTED, source="broker"
                    )
                    .order_by("-time", "-id")
                    .first()
                )
                if latest.pk != opened.pk:
                    return Outcome("ignored")  # an older connection of a device that reconnected
                set_connection(opened.device_id, False, when, opened.channel, "broker", detail=name)
                return Outcome("stored")
            else:
                return Outcome("ignored")
        except _retryable() as exc:
            return Outcome("retry", f"{type(exc).__name__}: {exc}")
        if came_online:
            self.offer_commands(device_id, channel, _now())
        return Outcome("stored")

    def dead_letter(self, routing_key: str, properties, body: bytes, reason: str) -> None:
        """Republish to ``fleetwatch.dead-letter`` (persistent, confirmed) with the reason."""
        import pika

        headers = dict(getattr(properties, "headers", None) or {})
        headers[REASON_HEADER] = reason[:1000]
        headers[ROUTING_KEY_HEADER] = routing_key
        self.channel.basic_publish(
            "",
            DEAD_LETTER_QUEUE,
            body,
            pika.BasicProperties(
                headers=headers,
                delivery_mode=pika.DeliveryMode.Persistent,
                content_type=getattr(properties, "content_type", None),
            ),
        )
        log.warning("dead letter from %s: %s", routing_key, reason)

    # -- commands

    def publish_command(self, device_id, command) -> None:
        import pika

        from fleetwatch.messaging import commands

        self.channel.basic_publish(
            broker.EXCHANGE,
            broker.routing_key(device_id, "commands"),
            json.dumps(commands.wire(command)).encode(),
            pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json"),
        )
        self.counts["commands"] += 1

    def offer_commands(self, device_id, channel: str, now: datetime, only_queued: bool = False) -> int:
        """Publish the device's pending commands (``commands.offer``) on
        ``fleetwatch.<id>.commands``; ``only_queued``: not those delivered before (the sweep).
        Returns how many were published."""
        from fleetwatch.inventory.models import Device
        from fleetwatch.messaging import commands
        from fleetwatch.messaging.models import Command, CommandStatus

        device = Device.objects.get(pk=device_id)
        queued = None
        if only_queued:
            queued = set(
                Command.objects.filter(device_id=device_id, status=CommandStatus.QUEUED).values_list(
                    "seq", flat=True
                )
            )
        published = 0
        for command in commands.offer(device, channel, now):
            if queued is None or command.seq in queued:
                self.publish_command(device_id, command)
                published += 1
        return published

    def sweep(self, now: datetime | None = None) -> int:
        """Offer the queued commands of connected devices (queued while connected)."""
        from fleetwatch.messaging.models import CommandStatus

        now = now or _now()
        close_old_connections()
        rows = (
            DeviceChannel.objects.filter(
                connected=True,
                channel__in=(Channel.MQTT, Channel.AMQP),
                device__commands__status=CommandStatus.QUEUED,
            )
            .values_list("device_id", "channel")
            .distinct()
        )
        published = 0
        for device_id, channel in rows:
            published += self.offer_commands(device_id, channel, now, only_queued=True)
        return published

    # -- loops

    def _settle(self, channel, method, properties, body, outcome: Outcome) -> None:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        if outcome.status == "dead":
            self.dead_letter(method.routing_key, properties, body, outcome.reason)
            channel.basic_ack(method.delivery_tag)
        elif outcome.status == "retry":
            log.warning(
                "cannot store a message of %s now (%s); it is requeued", method.routing_key, outcome.reason
            )
            channel.basic_nack(method.delivery_tag, requeue=True)
        else:
            channel.basic_ack(method.delivery_tag)

    def _on_device_message(self, channel, method, properties, body) -> Outcome:
        outcome = self.handle_device_message(method.routing_key, properties, body)
        self._settle(channel, method, properties, body, outcome)
        return outcome

    def _on_connection_event(self, channel, method, properties, body) -> Outcome:
        outcome = self.handle_connection_event(method.routing_key, properties)
        self._settle(channel, method, properties, body, outcome)
        return outcome

    def _consume(self, handler):
        """A basic_consume callback: the handler, then a growing pause after a failed store (the
        requeued message would come straight back)."""

        def callback(channel, method, properties, body):
            if handler(channel, method, properties, body).status == "retry":
                self._failures += 1
                self.connection.sleep(RETRY_PAUSES[min(self._failures, len(RETRY_PAUSES)) - 1])
            else:
                self._failures = 0

        return callback

    def process_until_idle(self, limit: int = 100_000) -> int:
        """Handle every message queued now (connection events first, then device messages, until
        both queues are empty, or until a message must wait: requeued, the call returns), then
        sweep the commands; returns how many messages were handled (a requeued one included).
        Connects first when not connected; stays connected."""
        if self.connection is None or not self.connection.is_open:
            self.connect()
        handled = 0
        while handled < limit:
            progressed = False
            for channel, queue, handler in self._queues():
                method, properties, body = channel.basic_get(queue)
                if method is None:
                    continue
                progressed = True
                handled += 1
                if handler(channel, method, properties, body).status == "retry":
                    return handled
            if not progressed:
                break
        self.sweep()
        return handled

    def _queues(self):
        queues = []
        if self.events_channel is not None:
            queues.append((self.events_channel, self.connections_queue, self._on_connection_event))
        queues.append((self.channel, DEVICES_QUEUE, self._on_device_message))
        return queues

    def run(self) -> None:
        """Consume until :meth:`stop`; reconnect with growing pauses when the broker goes away."""
        import pika

        failures = 0
        while not self._stop.is_set():
            try:
                self.connect()
                for channel, queue, handler in self._queues():
                    channel.basic_consume(queue, self._consume(handler))
                log.info("consuming %s in vhost %s", DEVICES_QUEUE, self.vhost)
                failures = 0
                next_sweep = time.monotonic()
                while not self._stop.is_set():
                    self.connection.process_data_events(time_limit=0.2)
                    if self.events_connection is not self.connection and self.events_connection:
                        self.events_connection.process_data_events(time_limit=0)
                    if time.monotonic() >= next_sweep:
                        self.sweep()
                        next_sweep = time.monotonic() + SWEEP_SECONDS
            except (pika.exceptions.AMQPError, OSError) as exc:
                pause = RETRY_PAUSES[min(failures, len(RETRY_PAUSES) - 1)]
                failures += 1
                log.warning(
                    "broker connection lost (%s); reconnecting in %s s", exc or type(exc).__name__, pause
                )
                self.close()
                self._stop.wait(pause)
            finally:
                if self._stop.is_set():
                    self.close()


def main(until_idle: bool = False) -> int:
    """``fleetwatch consume``: run a consumer until SIGTERM/SIGINT (exit 0), or, with
    ``until_idle``, handle what is queued and exit. Exit 2 when channels are not configured."""
    if not broker.enabled():
        return 2
    consumer = Consumer()
    if until_idle:
        try:
            consumer.process_until_idle()
        finally:
            consumer.close()
        return 0
    signal.signal(signal.SIGTERM, consumer.stop)
    signal.signal(signal.SIGINT, consumer.stop)
    consumer.run()
    return 0
