"""An enrolled device's broker credentials work on the real RabbitMQ: it connects over MQTT
with them, publishes its monitoring where the server reads it, and gets the server's commands;
wrong credentials are refused. (That it cannot publish as another device is proved in
tests/messaging.)"""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt
import pika
import pytest
from django.test import Client

from fleetwatch.inventory.models import EnrollmentToken
from fleetwatch.messaging.models import DeviceChannel

pytestmark = [pytest.mark.django_db, pytest.mark.broker]
WAIT = 20  # seconds at most for the broker's answers (events, never sleeps)


def mqtt_client(broker, username: str, password: str):
    """A connected paho client as ``username`` in the test vhost (``vhost:username``), and the
    connection's return code."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{username}", clean_session=True)
    client.username_pw_set(f"{broker.vhost}:{username}", password)
    connected, result = threading.Event(), {}

    def on_connect(client, userdata, flags, reason_code, properties):
        result["code"] = reason_code
        connected.set()

    client.on_connect = on_connect
    client.connect(broker.mqtt_host, broker.mqtt_port, keepalive=30)
    client.loop_start()
    assert connected.wait(WAIT), "no CONNACK"
    return client, result["code"]


def test_an_enrolled_device_talks_mqtt_with_its_own_credentials(enrollment_broker, orgs):
    _, token = EnrollmentToken.issue(orgs[0], "stations")
    response = Client().post(
        "/api/v1/enroll/", json.dumps({"token": token, "serial": "SG-77"}), content_type="application/json"
    )
    assert response.status_code == 201
    answer = response.json()["broker"]
    device_id = response.json()["device"]["id"]
    enrollment_broker.users.append(answer["username"])
    assert (answer["username"], answer["vhost"]) == (device_id, enrollment_broker.vhost)
    assert DeviceChannel.objects.get().provisioned is not None  # the broker took the account at once

    # The server's side: a queue bound to the device's monitoring topic, and a command to send.
    server = pika.BlockingConnection(pika.URLParameters(enrollment_broker.amqp_url))
    channel = server.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "amq.topic", f"fleetwatch.{device_id}.monitoring")

    refused, code = mqtt_client(enrollment_broker, device_id, "not-the-password")
    assert code.is_failure
    refused.loop_stop()
    refused.disconnect()

    device, code = mqtt_client(enrollment_broker, answer["username"], answer["password"])
    assert not code.is_failure
    received, commands = threading.Event(), []

    def on_message(client, userdata, message):
        commands.append((message.topic, message.payload))
        received.set()

    subscribed = threading.Event()
    device.on_message = on_message
    device.on_subscribe = lambda *args: subscribed.set()
    device.subscribe(f"fleetwatch/{device_id}/commands", qos=1)
    assert subscribed.wait(WAIT)
    published = device.publish(f"fleetwatch/{device_id}/monitoring", b'{"type": "DeviceMonitoring"}', qos=1)
    published.wait_for_publish(WAIT)

    channel.basic_publish(
        "amq.topic", f"fleetwatch.{device_id}.commands", b'{"seq": 1, "action": "test", "argument": ""}'
    )
    assert received.wait(WAIT), "the command never reached the device"
    assert commands == [(f"fleetwatch/{device_id}/commands", b'{"seq": 1, "action": "test", "argument": ""}')]
    reports = []
    channel.basic_consume(queue, lambda ch, method, properties, body: reports.append(body), auto_ack=True)
    deadline = time.monotonic() + WAIT
    while not reports and time.monotonic() < deadline:  # waits on the connection's I/O
        server.process_data_events(time_limit=1)
    assert reports == [b'{"type": "DeviceMonitoring"}']
    device.loop_stop()
    device.disconnect()
    server.close()
