"""Device accounts on the broker (RabbitMQ's management HTTP API) and the addresses devices are
told to connect to.

Each device gets its own broker user (username = its UUID, password = its
``DeviceChannel.broker_password``), the same vhost permissions as every device, and topic
permissions on ``amq.topic`` whose patterns use RabbitMQ's ``{username}`` expansion: the broker
itself refuses a publish of device A on device B's topics (RabbitMQ, "Topic Authorisation").
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

import urllib3
from django.conf import settings

from fleetwatch.messaging.models import DeviceChannel

log = logging.getLogger(__name__)

EXCHANGE = "amq.topic"
# What a device may publish and read, as routing keys (MQTT "/" is AMQP ".").
DEVICE_TOPICS_OUT = ("monitoring", "messages", "status", "cmdlog")
DEVICE_TOPICS_IN = ("commands",)
TOPIC_WRITE = r"^fleetwatch\.{username}\.(" + "|".join(DEVICE_TOPICS_OUT) + r")$"
TOPIC_READ = r"^fleetwatch\.{username}\.(" + "|".join(DEVICE_TOPICS_IN) + r")$"
# Vhost permissions (no {username} expansion there): the MQTT plugin's per-client subscription
# queues and AMQP clients' server-named queues, and the topic exchange (narrowed by the above).
QUEUES = r"^(mqtt-subscription-.*|amq\.gen-.*)$"
EXCHANGES_AND_QUEUES = r"^(amq\.topic|mqtt-subscription-.*|amq\.gen-.*)$"


class BrokerUnavailable(Exception):
    """The management API did not answer, or answered an error (the worker retries)."""


def enabled() -> bool:
    """Whether device channels are configured (FLEETWATCH_CHANNELS_BROKER_URL)."""
    return bool(settings.FLEETWATCH_CHANNELS_BROKER_URL)


def routing_key(device_id, topic: str) -> str:
    """``fleetwatch.<device id>.<topic>``: the AMQP routing key of MQTT topic ``fleetwatch/<id>/<topic>``."""
    return f"fleetwatch.{device_id}.{topic}"


def vhost() -> str:
    """The vhost of FLEETWATCH_CHANNELS_BROKER_URL (``/`` when the URL has no path)."""
    path = urlsplit(settings.FLEETWATCH_CHANNELS_BROKER_URL).path.lstrip("/")
    return unquote(path) if path else "/"


@dataclass(frozen=True)
class Endpoints:
    """Where devices connect: ``mqtt_url`` (``mqtt://host:port``), ``amqp_url`` (``amqp://host:port``)
    and the ``vhost``; no credentials."""

    mqtt_url: str
    amqp_url: str
    vhost: str


def endpoints() -> Endpoints:
    """The addresses told to devices, from FLEETWATCH_CHANNELS_MQTT_URL / _AMQP_URL or, unset, the
    broker URL's host on the standard ports (1883, 5672; 8883, 5671 for amqps)."""
    broker = urlsplit(settings.FLEETWATCH_CHANNELS_BROKER_URL)
    host = broker.hostname or "127.0.0.1"
    secure = broker.scheme == "amqps"
    mqtt = settings.FLEETWATCH_CHANNELS_MQTT_URL or (
        f"mqtts://{host}:8883" if secure else f"mqtt://{host}:1883"
    )
    amqp = settings.FLEETWATCH_CHANNELS_AMQP_URL or (
        f"{broker.scheme}://{host}:{broker.port or (5671 if secure else 5672)}"
    )
    return Endpoints(mqtt_url=mqtt, amqp_url=amqp, vhost=vhost())


class ManagementAPI:
    """A small client of RabbitMQ's management HTTP API (``/api/…``, JSON, basic auth) for what
    Fleetwatch needs: users, permissions, topic permissions, vhosts. Raises BrokerUnavailable."""

    def __init__(self, url: str | None = None, timeout: float = 10.0):
        parts = urlsplit(url or settings.FLEETWATCH_CHANNELS_BROKER_API_URL)
        self.base = (
            f"{parts.scheme}://{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        )
        self.path = parts.path.rstrip("/") or "/api"
        self.headers = urllib3.make_headers(
            basic_auth=f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        )
        self.headers["content-type"] = "application/json"
        self.http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout), retries=False)

    def request(self, method: str, path: str, body=None, ok=(200, 201, 204)):
        try:
            response = self.http.request(
                method,
                self.base + self.path + path,
                body=None if body is None else json.dumps(body),
                headers=self.headers,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise BrokerUnavailable(f"{method} {path}: {exc}") from None
        if response.status not in ok:
            raise BrokerUnavailable(f"{method} {path}: {response.status} {response.data[:200]!r}")
        return json.loads(response.data) if response.data else None

    def put_user(self, username: str, password: str) -> None:
        self.request("PUT", f"/users/{quote(username, safe='')}", {"password": password, "tags": ""})

    def delete_user(self, username: str) -> None:
        self.request("DELETE", f"/users/{quote(username, safe='')}", ok=(204, 404))

    def put_permissions(self, vhost: str, username: str, configure: str, write: str, read: str) -> None:
        self.request(
            "PUT",
            f"/permissions/{quote(vhost, safe='')}/{quote(username, safe='')}",
            {"configure": configure, "write": write, "read": read},
        )

    def put_topic_permissions(self, vhost: str, username: str, exchange: str, write: str, read: str) -> None:
        self.request(
            "PUT",
            f"/topic-permissions/{quote(vhost, safe='')}/{quote(username, safe='')}",
            {"exchange": exchange, "write": write, "read": read},
        )

    def put_vhost(self, vhost: str) -> None:
        self.request("PUT", f"/vhosts/{quote(vhost, safe='')}")

    def delete_vhost(self, vhost: str) -> None:
        self.request("DELETE", f"/vhosts/{quote(vhost, safe='')}", ok=(204, 404))


# The consumer's queue of device messages (fleetwatch.messaging.consumer declares the same).
DEVICES_QUEUE = "fleetwatch.devices"
_queues_ensured: set[tuple[str, str]] = set()


def ensure_devices_queue(api: ManagementAPI, host: str) -> None:
    """Declare the durable queue ``fleetwatch.devices`` and its bindings through the management
    API (idempotent; once per process and vhost): a device's messages are kept from its first
    publish on, even before ``fleetwatch consume`` has ever run (a message nothing is bound for
    would be dropped by the broker)."""
    if (api.base, host) in _queues_ensured:
        return
    vhost_part, queue = quote(host, safe=""), quote(DEVICES_QUEUE, safe="")
    api.request("PUT", f"/queues/{vhost_part}/{queue}", {"durable": True, "auto_delete": False})
    for topic in DEVICE_TOPICS_OUT:
        api.request(
            "POST",
            f"/bindings/{vhost_part}/e/{quote(EXCHANGE, safe='')}/q/{queue}",
            {"routing_key": f"fleetwatch.*.{topic}"},
        )
    _queues_ensured.add((api.base, host))


def provision(channel: DeviceChannel, api: ManagementAPI | None = None, now: datetime | None = None) -> bool:
    """Make (or repair) the device's broker user and permissions; records ``provisioned``.

    Idempotent (PUTs). Returns False when channels are off; raises BrokerUnavailable when the
    broker does not take it (the worker's pass retries, :func:`provision_pending`)."""
    if not enabled():
        return False
    api = api or ManagementAPI()
    host = vhost()
    api.put_user(channel.username, channel.broker_password)
    api.put_permissions(host, channel.username, QUEUES, EXCHANGES_AND_QUEUES, EXCHANGES_AND_QUEUES)
    api.put_topic_permissions(host, channel.username, EXCHANGE, TOPIC_WRITE, TOPIC_READ)
    ensure_devices_queue(api, host)
    channel.provisioned = now or datetime.now(UTC)
    DeviceChannel.objects.filter(pk=channel.pk).update(provisioned=channel.provisioned)
    return True


def deprovision(username: str, api: ManagementAPI | None = None) -> None:
    """Delete a device's broker user (its connections are closed by the broker). Raises
    BrokerUnavailable."""
    if enabled():
        (api or ManagementAPI()).delete_user(username)


def provision_pending(api: ManagementAPI | None = None) -> int:
    """Provision every active device's channel the broker has not accepted yet; returns how many
    were. Raises BrokerUnavailable (those left are tried again next pass)."""
    if not enabled():
        return 0
    api = api or ManagementAPI()
    done = 0
    pending = DeviceChannel.objects.filter(
        provisioned__isnull=True, device__is_active=True, device__organization__is_active=True
    )
    for channel in pending.select_related("device"):
        provision(channel, api)
        done += 1
    return done


def reconcile(api: ManagementAPI | None = None) -> dict:
    """The worker's pass: provision the accounts the broker has not taken yet, and delete the
    broker users of devices that are deactivated or gone (a deactivated device must not keep
    talking). Device users are the ones named by a UUID; others (the server's own) are left alone.
    Returns ``{"provisioned": n, "removed": n}``; a broker that does not answer is logged and
    retried next pass."""
    if not enabled():
        return {"provisioned": 0, "removed": 0}
    api = api or ManagementAPI()
    removed = 0
    try:
        provisioned = provision_pending(api)
        users = {user["name"] for user in api.request("GET", "/users") or []}
        device_users = set()
        for name in users:
            try:
                device_users.add(uuid.UUID(name))
            except ValueError:
                continue
        allowed = set(
            DeviceChannel.objects.filter(
                device_id__in=device_users, device__is_active=True, device__organization__is_active=True
            ).values_list("device_id", flat=True)
        )
        for device_id in device_users - allowed:
            api.delete_user(str(device_id))
            removed += 1
        # A deactivated device's account is made again if the device comes back.
        DeviceChannel.objects.filter(device_id__in=device_users - allowed).update(provisioned=None)
    except BrokerUnavailable as exc:
        log.warning("broker accounts not reconciled (%s); retrying next pass", exc)
        return {"provisioned": 0, "removed": removed}
    return {"provisioned": provisioned, "removed": removed}


def account_of(device) -> DeviceChannel:
    """The device's channel row (made if absent), provisioned at once when the broker answers; a
    broker that does not leaves it for :func:`provision_pending`."""
    channel, _ = DeviceChannel.objects.get_or_create(device=device)
    if enabled() and channel.provisioned is None:
        try:
            provision(channel)
        except BrokerUnavailable as exc:
            log.warning("broker account of %s not provisioned yet: %s", device.pk, exc)
    return channel
