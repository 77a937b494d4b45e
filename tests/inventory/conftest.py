"""The real RabbitMQ for the enrollment tests that prove a device's broker credentials work.

Selected as ``tests/messaging/conftest.py`` selects its own (and the backups tests theirs): a
test marked ``broker`` runs when ``amqp`` is in ``FLEETWATCH_TEST_BROKERS`` (default
``filesystem,amqp``; `make test` starts RabbitMQ then) and is deselected otherwise; a broker
that is requested but not reachable fails the test, never skips it.

A test marked ``openwisp_agent`` runs openwisp-config's real agent script: only when
``FLEETWATCH_TEST_OPENWISP_AGENT`` names a copy of it (``openwisp-config/files/openwisp.agent`` of
that project's repository, which this one does not include), deselected otherwise; it needs root
(``unshare --mount``).

``enrollment_broker``: a throwaway vhost ``fwtest-<hex>`` made through the management API (the
``fleetwatch`` user given every permission on it), the settings pointed at it
(``FLEETWATCH_CHANNELS_BROKER_URL``, ``…_BROKER_API_URL``, ``…_MQTT_URL``, ``…_AMQP_URL``), and
deleted with every device user made in it at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services" / "rabbitmq.sh"
# The test broker's addresses: from scripts/test.sh's variables, else as the service script says.
VARIABLES = {
    "url": "FLEETWATCH_TEST_AMQP_URL",
    "mqtt-url": "FLEETWATCH_TEST_MQTT_URL",
    "api-url": "FLEETWATCH_TEST_BROKER_API_URL",
}


def amqp_requested() -> bool:
    raw = os.environ.get("FLEETWATCH_TEST_BROKERS", "filesystem,amqp")
    return "amqp" in [b.strip() for b in raw.split(",")]


def pytest_configure(config):
    config.addinivalue_line("markers", "broker: needs the real RabbitMQ (FLEETWATCH_TEST_BROKERS has amqp)")
    config.addinivalue_line(
        "markers", "openwisp_agent: runs openwisp-config's agent (FLEETWATCH_TEST_OPENWISP_AGENT names it)"
    )


def needs_broker(item) -> bool:
    return bool(item.get_closest_marker("broker")) or "enrollment_broker" in getattr(item, "fixturenames", ())


def deselected_here(item) -> bool:
    """A broker test without amqp requested; a real-agent test without the agent named."""
    if item.get_closest_marker("openwisp_agent") and not os.environ.get("FLEETWATCH_TEST_OPENWISP_AGENT"):
        return True
    return needs_broker(item) and not amqp_requested()


def pytest_collection_modifyitems(config, items):
    deselected = [item for item in items if deselected_here(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not deselected_here(item)]


def broker_address(kind: str) -> str:
    """``url`` (AMQP, the admin user), ``mqtt-url`` or ``api-url`` of the test broker."""
    value = os.environ.get(VARIABLES[kind])
    if value:
        return value
    run = subprocess.run(["bash", str(SCRIPT), kind], capture_output=True, text=True, timeout=30)
    if run.returncode != 0 or not run.stdout.strip():
        pytest.fail(f"amqp is requested but {VARIABLES[kind]} is not set: run `make test`", pytrace=False)
    return run.stdout.strip()


@dataclass
class EnrollmentBroker:
    vhost: str
    amqp_url: str  # the admin user, in the vhost
    mqtt_host: str
    mqtt_port: int
    api: object
    users: list = field(default_factory=list)


@pytest.fixture
def enrollment_broker(settings):
    from fleetwatch.messaging.broker import BrokerUnavailable, ManagementAPI

    amqp, mqtt, api_url = broker_address("url"), broker_address("mqtt-url"), broker_address("api-url")
    api = ManagementAPI(api_url)
    vhost = f"fwtest-{secrets.token_hex(6)}"
    admin = urlsplit(amqp).username
    try:
        api.put_vhost(vhost)
        api.put_permissions(vhost, admin, ".*", ".*", ".*")
    except BrokerUnavailable as exc:
        pytest.fail(f"the test broker's management API does not answer: {exc}", pytrace=False)
    parts = urlsplit(amqp)
    in_vhost = urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))
    settings.FLEETWATCH_CHANNELS_BROKER_URL = in_vhost
    settings.FLEETWATCH_CHANNELS_BROKER_API_URL = api_url
    settings.FLEETWATCH_CHANNELS_MQTT_URL = mqtt
    settings.FLEETWATCH_CHANNELS_AMQP_URL = f"amqp://{parts.hostname}:{parts.port}"
    mqtt_parts = urlsplit(mqtt)
    broker = EnrollmentBroker(vhost, in_vhost, mqtt_parts.hostname, mqtt_parts.port or 1883, api)
    yield broker
    for user in broker.users:
        api.delete_user(user)
    api.delete_vhost(vhost)
