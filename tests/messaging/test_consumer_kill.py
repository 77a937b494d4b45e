"""`fleetwatch consume` as a real process, killed with SIGKILL in the middle of a stream of reports:
after a restart nothing is lost and nothing is counted twice (exact point counts and traffic totals);
SIGTERM stops it cleanly (exit 0)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pika
import pytest

from fleetwatch.timeseries import ReadQuery, load_backend
from tests.messaging.conftest import EVENTS_VHOST, wait_for

N = 400
STEP = 1000  # bytes received between two reports
T = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
CREATE = """
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.messaging.broker import account_of
organization = Organization.objects.create(name="Kill", slug="kill")
device = Device.objects.create(organization=organization, name="station-k")
channel = account_of(device)
assert channel.provisioned is not None
print(device.pk, channel.broker_password)
"""


@pytest.fixture
def data_dir(tmp_path, broker):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env.update(
        FLEETWATCH_DATA_DIR=str(tmp_path),
        FLEETWATCH_CHANNELS_BROKER_URL=broker.amqp_url,
        FLEETWATCH_CHANNELS_BROKER_API_URL=broker.api_url,
        FLEETWATCH_CHANNELS_EVENTS_VHOST=EVENTS_VHOST,
        DJANGO_SETTINGS_MODULE="fleetwatch.settings",
    )
    subprocess.run([sys.executable, "-m", "fleetwatch", "migrate", "-v", "0"], env=env, check=True)
    return tmp_path, env


def fleetwatch(env, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "fleetwatch", *args], env=env, **kwargs)


def traffic(path) -> list[tuple[datetime, int]]:
    backend = load_backend({"BACKEND": "sqlite", "NAME": str(path / "timeseries.sqlite3")})
    try:
        rows = backend.read(ReadQuery("traffic", ["rx_bytes"], {}))
    finally:
        backend.close()
    return [(row.time, int(row.fields["rx_bytes"])) for row in rows]


def stored(path) -> int:
    if not (path / "timeseries.sqlite3").exists():
        return 0
    return len(traffic(path))


def test_a_consumer_killed_mid_stream_loses_nothing_and_counts_nothing_twice(broker, data_dir):
    path, env = data_dir
    out = fleetwatch(env, "shell", "-c", CREATE, check=True, capture_output=True, text=True).stdout
    device_id, password = out.split()[-2:]
    # The device publishes its whole backlog (a station back online), confirmed by the broker.
    connection = pika.BlockingConnection(
        pika.ConnectionParameters(
            host=broker.amqp_host,
            port=broker.amqp_port,
            virtual_host=broker.vhost,
            credentials=pika.PlainCredentials(device_id, password),
        )
    )
    # The queue exists before the first publish: the consumer's topology, declared as it does.
    admin = broker.connection()
    admin_channel = admin.channel()
    admin_channel.queue_declare("fleetwatch.devices", durable=True)
    admin_channel.queue_bind("fleetwatch.devices", "amq.topic", "fleetwatch.*.monitoring")
    admin_channel.queue_purge("fleetwatch.devices")  # what earlier tests of the session left
    admin_channel.queue_purge("fleetwatch.dead-letter")
    admin.close()
    channel = connection.channel()
    channel.confirm_delivery()
    for i in range(N):
        body = {
            "type": "DeviceMonitoring",
            "time": f"{T + timedelta(seconds=10 * i):%d-%m-%Y_%H:%M:%S.%f}",
            "interfaces": [{"name": "wan", "statistics": {"rx_bytes": STEP * (i + 1), "tx_bytes": 0}}],
        }
        channel.basic_publish(
            "amq.topic",
            f"fleetwatch.{device_id}.monitoring",
            json.dumps(body).encode(),
            pika.BasicProperties(delivery_mode=2),
        )
    connection.close()
    assert broker.queue_depth("fleetwatch.devices") == N

    log = open(path / "consume.log", "w")
    first = subprocess.Popen([sys.executable, "-m", "fleetwatch", "consume"], env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: stored(path) >= 20, timeout=60, step=0.005, message="the first reports stored")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    assert 20 <= stored(path) < N  # killed mid-stream

    second = subprocess.Popen(
        [sys.executable, "-m", "fleetwatch", "consume"], env=env, stdout=log, stderr=log
    )
    try:
        wait_for(lambda: stored(path) == N, timeout=120, step=0.1, message=f"all {N} reports stored")
        wait_for(
            lambda: broker.queue_depth("fleetwatch.devices") == 0, timeout=30, message="the queue drained"
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert second.returncode == 0  # a clean stop on SIGTERM
    points = traffic(path)
    assert len(points) == N
    assert [at for at, _ in points] == [T + timedelta(seconds=10 * i) for i in range(N)]
    assert {rx for _, rx in points} == {STEP}  # every increase counted once
    assert sum(rx for _, rx in points) == STEP * N
    assert broker.queue_depth("fleetwatch.dead-letter") == 0
    broker.api.delete_user(device_id)
