"""Device channels through the real RabbitMQ (MQTT plugin, management API, event exchange).

`make test` (scripts/test.sh) starts RabbitMQ when ``amqp`` is in ``FLEETWATCH_TEST_BROKERS``
(default ``filesystem,amqp``) and exports ``FLEETWATCH_TEST_AMQP_URL``, ``FLEETWATCH_TEST_MQTT_URL``
and ``FLEETWATCH_TEST_BROKER_API_URL``. Without ``amqp`` there, every test that uses a fixture below
(even through another fixture) or is marked ``broker`` is deselected, as the backups tests are by
``FLEETWATCH_TEST_BACKUP_TOOLS``; with it, a missing variable or a broker that does not answer
fails the test, never skips it.

Fixtures (import them into another conftest with ``from tests.messaging.conftest import …``):

``broker_vhost`` (session)
    A throwaway vhost ``fwtest-<hex>`` made through the management API for this test session, the
    ``fleetwatch`` user given every permission on it; deleted at the end. A :class:`TestBroker`.
``broker``
    The same :class:`TestBroker`, with the settings pointed at it: ``FLEETWATCH_CHANNELS_BROKER_URL``
    (AMQP URL of the vhost), ``…_BROKER_API_URL``, ``…_MQTT_URL``, ``…_AMQP_URL``, and
    ``…_EVENTS_VHOST`` (the vhost of ``amq.rabbitmq.event``: ``fleetwatch`` on the test broker).
``consumer``
    A ``fleetwatch.messaging.consumer.Consumer`` of the ``broker`` settings, connected (its
    topology declared, its queues purged); ``consumer.process_until_idle()`` handles what is
    queued now. Use :func:`drain` to wait (bounded) until something arrived and was handled.
``broker_device``
    A factory: ``broker_device(name="st-1", organization=None, serial="")`` makes an active
    Device (in organization A of ``orgs`` unless given) and its provisioned broker account
    (``fleetwatch.messaging.broker.account_of``); returns a :class:`BrokerDevice` with
    ``device``, ``channel``, ``username``/``password``, ``mqtt_username`` (``vhost:username``),
    ``mqtt_client(...)`` (a connected paho-mqtt client) and ``amqp_connection()`` (a pika
    BlockingConnection as the device).

MQTT usernames name the vhost as ``vhost:username`` (RabbitMQ MQTT plugin, "Virtual Hosts": a
vhost prefix and a colon before the username select it; without one the listener's
``mqtt.vhost``, ``fleetwatch``, applies).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

BROKER_FIXTURES = ("broker_vhost", "broker", "broker_device", "consumer")
URL_VARIABLES = ("FLEETWATCH_TEST_AMQP_URL", "FLEETWATCH_TEST_MQTT_URL", "FLEETWATCH_TEST_BROKER_API_URL")
# pika logs every connection at INFO: test output would drown in it.
logging.getLogger("pika").setLevel(logging.WARNING)
# The vhost where the test broker's event exchange lives (scripts/services/rabbitmq.sh).
EVENTS_VHOST = "fleetwatch"


def amqp_requested() -> bool:
    raw = os.environ.get("FLEETWATCH_TEST_BROKERS", "filesystem,amqp")
    return "amqp" in [b.strip() for b in raw.split(",")]


def pytest_configure(config):
    config.addinivalue_line("markers", "broker: needs the real RabbitMQ (FLEETWATCH_TEST_BROKERS has amqp)")


def pytest_collection_modifyitems(config, items):
    if amqp_requested():
        return
    kept, deselected = [], []
    for item in items:
        needs = item.get_closest_marker("broker") or any(
            name in getattr(item, "fixturenames", ()) for name in BROKER_FIXTURES
        )
        (deselected if needs else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def _url(variable: str) -> str:
    url = os.environ.get(variable)
    if not url:
        pytest.fail(
            f"amqp is requested (FLEETWATCH_TEST_BROKERS) but {variable} is not set: run the tests with "
            "`make test` (scripts/services/rabbitmq.sh starts RabbitMQ), or narrow FLEETWATCH_TEST_BROKERS "
            "to filesystem",
            pytrace=False,
        )
    return url


def with_vhost(amqp_url: str, vhost: str) -> str:
    """``amqp_url`` with its path replaced by ``vhost`` (percent-encoded)."""
    parts = urlsplit(amqp_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))


@dataclass
class TestBroker:
    """The test session's broker: ``vhost``, ``amqp_url`` (admin, in the vhost), ``api_url``,
    ``api`` (a ManagementAPI), ``mqtt_host``/``mqtt_port``, ``mqtt_url``."""

    __test__ = False

    vhost: str
    amqp_url: str
    api_url: str
    mqtt_url: str
    api: object

    @property
    def mqtt_host(self) -> str:
        return urlsplit(self.mqtt_url).hostname

    @property
    def mqtt_port(self) -> int:
        return urlsplit(self.mqtt_url).port or 1883

    @property
    def amqp_host(self) -> str:
        return urlsplit(self.amqp_url).hostname

    @property
    def amqp_port(self) -> int:
        return urlsplit(self.amqp_url).port or 5672

    def connection(self):
        """A pika BlockingConnection as the server's admin user, in the vhost."""
        import pika

        return pika.BlockingConnection(pika.URLParameters(self.amqp_url))

    def queue_depth(self, name: str) -> int:
        """Messages ready in a queue of the vhost (a passive declare: exact, unlike the API's stats)."""
        connection = self.connection()
        try:
            return connection.channel().queue_declare(name, passive=True).method.message_count
        finally:
            connection.close()


@pytest.fixture(scope="session")
def broker_vhost():
    from fleetwatch.messaging.broker import BrokerUnavailable, ManagementAPI

    amqp_url, mqtt_url, api_url = (_url(v) for v in URL_VARIABLES)
    api = ManagementAPI(api_url)
    vhost = f"fwtest-{secrets.token_hex(4)}"
    admin = unquote_user(amqp_url)
    try:
        api.put_vhost(vhost)
        api.put_permissions(vhost, admin, ".*", ".*", ".*")
    except BrokerUnavailable as exc:
        pytest.fail(f"RabbitMQ's management API does not answer at {api_url}: {exc}", pytrace=False)
    try:
        yield TestBroker(vhost, with_vhost(amqp_url, vhost), api_url, mqtt_url, api)
    finally:
        api.delete_vhost(vhost)
        # The consumer's queue of connection events lives in the event exchange's vhost.
        api.request("DELETE", f"/queues/{EVENTS_VHOST}/fleetwatch.connections.{vhost}", ok=(204, 404))


def unquote_user(url: str) -> str:
    from urllib.parse import unquote

    return unquote(urlsplit(url).username or "")


@pytest.fixture
def broker(broker_vhost, settings):
    """The session's vhost with FLEETWATCH_CHANNELS_* pointed at it."""
    settings.FLEETWATCH_CHANNELS_BROKER_URL = broker_vhost.amqp_url
    settings.FLEETWATCH_CHANNELS_BROKER_API_URL = broker_vhost.api_url
    settings.FLEETWATCH_CHANNELS_MQTT_URL = broker_vhost.mqtt_url
    settings.FLEETWATCH_CHANNELS_AMQP_URL = f"amqp://{broker_vhost.amqp_host}:{broker_vhost.amqp_port}"
    settings.FLEETWATCH_CHANNELS_EVENTS_VHOST = EVENTS_VHOST
    return broker_vhost


@dataclass
class BrokerDevice:
    """A device with a provisioned broker account (see the ``broker_device`` fixture)."""

    device: object
    channel: object
    broker: TestBroker

    @property
    def username(self) -> str:
        return self.channel.username

    @property
    def password(self) -> str:
        return self.channel.broker_password

    @property
    def mqtt_username(self) -> str:
        return f"{self.broker.vhost}:{self.username}"

    def topic(self, name: str) -> str:
        """The device's MQTT topic ``fleetwatch/<id>/<name>``."""
        return f"fleetwatch/{self.username}/{name}"

    def mqtt_client(self, client_id: str | None = None, will: bool = False, clean_session: bool = True):
        """A connected paho-mqtt client (MQTT 3.1.1) as this device, its network loop running.

        ``will``: the spec's offline status as MQTT will. Raises AssertionError when the broker
        refuses the login (within 10 s)."""
        import json

        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"fw-{self.username}",
            protocol=mqtt.MQTTv311,
            clean_session=clean_session,
        )
        client.username_pw_set(self.mqtt_username, self.password)
        if will:
            client.will_set(self.topic("status"), json.dumps({"status": "offline"}), qos=1)
        connected = threading.Event()
        outcome = {}

        def on_connect(client, userdata, flags, reason_code, properties):
            outcome["rc"] = reason_code
            connected.set()

        client.on_connect = on_connect
        client.connect(self.broker.mqtt_host, self.broker.mqtt_port, keepalive=30)
        client.loop_start()
        assert connected.wait(10), "no CONNACK within 10 s"
        if outcome["rc"].is_failure:
            client.loop_stop()
            raise AssertionError(f"MQTT login refused: {outcome['rc']}")
        return client

    def amqp_connection(self):
        """A pika BlockingConnection as this device (its own user, in the test vhost)."""
        import pika

        return pika.BlockingConnection(
            pika.ConnectionParameters(
                host=self.broker.amqp_host,
                port=self.broker.amqp_port,
                virtual_host=self.broker.vhost,
                credentials=pika.PlainCredentials(self.username, self.password),
                heartbeat=30,
            )
        )


@pytest.fixture
def broker_device(broker, orgs):
    """Factory of devices with provisioned broker accounts (see the module docstring)."""
    from fleetwatch.inventory.models import Device
    from fleetwatch.messaging.broker import account_of

    made = []

    def make(name: str = "station-1", organization=None, serial: str = "", **fields) -> BrokerDevice:
        device = Device.objects.create(
            organization=organization or orgs[0], name=name, serial=serial, **fields
        )
        channel = account_of(device)
        assert channel.provisioned is not None, "the broker did not accept the device's account"
        made.append(channel.username)
        return BrokerDevice(device, channel, broker)

    yield make
    for username in made:
        broker.api.delete_user(username)


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02, message: str = "condition"):
    """Poll ``predicate`` until it returns a true value (returned) or ``timeout`` seconds pass
    (AssertionError naming ``message``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(step)


@pytest.fixture
def consumer(broker):
    """A connected consumer of the test vhost with empty queues (see the module docstring)."""
    from fleetwatch.messaging.consumer import CONNECTIONS_QUEUE, Consumer

    instance = Consumer()
    instance.connect()
    instance.channel.queue_purge("fleetwatch.devices")
    instance.channel.queue_purge("fleetwatch.dead-letter")
    if instance.events_channel is not None:
        instance.events_channel.queue_purge(instance.connections_queue)
    assert instance.connections_queue == f"{CONNECTIONS_QUEUE}.{broker.vhost}"
    yield instance
    instance.close()


def drain(consumer, until, timeout: float = 10.0, message: str = "the consumer to store it"):
    """Run ``consumer.process_until_idle()`` until ``until()`` is true (bounded by ``timeout``
    seconds): messages reach the queues asynchronously after a publish returns."""

    def step():
        consumer.process_until_idle()
        return until()

    return wait_for(step, timeout=timeout, message=message)
