"""The agents' HTTP channel of commands (fleetwatch.messaging.api.agent and the monitoring
report's ``features``): exact statuses and bodies, gzip results, bounds, what is recorded."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from django.test import Client

from fleetwatch.messaging import commands
from fleetwatch.messaging.models import MAX_OUTPUT, Command, DeviceChannel
from tests.ingest.payloads import example_report


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def poll(client, device, query="", body=b"", **headers):
    url = f"/api/v1/devices/{device.pk}/agent/?key={device.key}{query}"
    return client.generic("POST", url, body, content_type="application/json", **headers)


def result(client, device, query, body=b"", **headers):
    url = f"/api/v1/devices/{device.pk}/cmdlog/?key={device.key}{query}"
    return client.generic("POST", url, body, content_type="application/octet-stream", **headers)


def test_a_poll_answers_the_oldest_pending_command_until_its_result_comes(client, alice, device_a):
    assert poll(client, device_a, "&features=c").json() == {}
    commands.queue(device_a, "exec", "uptime", alice)
    commands.queue(device_a, "reboot", "", alice)
    first = poll(client, device_a, "&features=c", b'{"agent": "fleetwatch-agent/0.1.0", "next": 90}')
    assert (first.status_code, first.json()) == (
        200,
        {"cmd": {"seq": 1, "action": "exec", "argument": "uptime"}},
    )
    # Delivered but unfinished: offered again (the agent answers a seq it ran with its result).
    assert poll(client, device_a).json() == {"cmd": {"seq": 1, "action": "exec", "argument": "uptime"}}
    done = result(client, device_a, "&seq=1&status=OK", b" 10:00:01 up 3 days\n")
    assert (done.status_code, done.json()) == (200, {"seq": 1, "status": "ok"})
    assert poll(client, device_a).json() == {"cmd": {"seq": 2, "action": "reboot", "argument": ""}}
    command = Command.objects.get(seq=1)
    assert (command.status, command.channel, command.output) == ("ok", "http", " 10:00:01 up 3 days\n")
    row = DeviceChannel.objects.get(device=device_a)
    device_a.refresh_from_db()
    assert (row.channel, row.features, row.agent, row.commands_enabled) == (
        "http",
        "c",
        "fleetwatch-agent/0.1.0",
        True,
    )
    assert row.last_message is not None
    assert device_a.last_seen == row.last_message


def test_a_repeated_result_answers_the_stored_status(client, alice, device_a):
    commands.queue(device_a, "test", "", alice)
    assert result(client, device_a, "&seq=1&status=ERR", b"first").json() == {"seq": 1, "status": "err"}
    assert result(client, device_a, "&seq=1&status=OK", b"second").json() == {"seq": 1, "status": "err"}
    assert Command.objects.get().output == "first"


def test_gzip_results_are_inflated_and_bounded(client, alice, device_a):
    commands.queue(device_a, "logs", "/var/log/syslog", alice)
    commands.queue(device_a, "logs", "/var/log/syslog", alice)
    commands.queue(device_a, "test", "", alice)
    text = "é" * 1000
    response = result(
        client, device_a, "&seq=1&status=OK", gzip.compress(text.encode()), HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 200
    # 3 MiB of zeros compress to ~3 KiB: only the first 1 MiB is kept (and inflated).
    bomb = gzip.compress(b"0" * (3 * MAX_OUTPUT))
    assert len(bomb) < 10_000
    assert result(client, device_a, "&seq=2&status=OK", bomb, HTTP_CONTENT_ENCODING="gzip").status_code == 200
    zlibbed = zlib.compress(b"zlib too")
    assert (
        result(client, device_a, "&seq=3&status=OK", zlibbed, HTTP_CONTENT_ENCODING="gzip").status_code == 200
    )
    outputs = {c.seq: (c.output, c.output_truncated) for c in Command.objects.all()}
    assert outputs == {1: (text, False), 2: ("0" * MAX_OUTPUT, True), 3: ("zlib too", False)}


@pytest.mark.parametrize(
    ("query", "body", "headers", "status", "detail"),
    [
        ("&status=OK", b"", {}, 400, "seq: a positive integer is required, not ''."),
        ("&seq=x&status=OK", b"", {}, 400, "seq: a positive integer is required, not 'x'."),
        ("&seq=-1&status=OK", b"", {}, 400, "seq: a positive integer is required, not '-1'."),
        (
            "&seq=99999999999&status=OK",
            b"",
            {},
            400,
            "seq: a positive integer is required, not '99999999999'.",
        ),
        ("&seq=1", b"", {}, 400, "status must be OK or ERR, not None."),
        ("&seq=1&status=done", b"", {}, 400, "status must be OK or ERR, not 'done'."),
        ("&seq=7&status=OK", b"", {}, 404, "Device {device} has no command 7."),
        ("&seq=4294967295&status=OK", b"", {}, 400, "seq must be a positive integer, not 4294967295."),
        (
            "&seq=1&status=OK",
            b"not gzip",
            {"HTTP_CONTENT_ENCODING": "gzip"},
            400,
            "The body is not valid gzip.",
        ),
        ("&seq=1&status=OK", b"", {"HTTP_CONTENT_ENCODING": "gzip"}, 400, "The body is not valid gzip."),
        (
            "&seq=1&status=OK",
            b"x",
            {"HTTP_CONTENT_ENCODING": "br"},
            400,
            "Content-Encoding 'br' is not supported: send gzip or nothing.",
        ),
        (
            "&seq=1&status=OK",
            b"x" * (2 * 1024 * 1024 + 1),
            {},
            413,
            "The body is larger than 2097152 bytes as sent; nothing was stored.",
        ),
    ],
)
def test_refused_results(client, alice, device_a, query, body, headers, status, detail):
    commands.queue(device_a, "test", "", alice)
    response = result(client, device_a, query, body, **headers)
    assert (response.status_code, response.json()) == (status, {"detail": detail.format(device=device_a.pk)})
    assert Command.objects.get().status == "queued"


def test_a_result_body_of_exactly_2_mib_is_read_and_bounded(client, alice, device_a):
    commands.queue(device_a, "test", "", alice)
    assert result(client, device_a, "&seq=1&status=OK", b"y" * (2 * 1024 * 1024)).status_code == 200
    command = Command.objects.get()
    assert (len(command.output), command.output_truncated) == (MAX_OUTPUT, True)


@pytest.mark.parametrize(
    ("query", "body", "status", "detail"),
    [
        ("&features=c!", b"", 400, "features: at most 16 letters, e.g. 'c'."),
        ("&features=" + "c" * 17, b"", 400, "features: at most 16 letters, e.g. 'c'."),
        ("", b"[1]", 400, 'The body must be a JSON object, e.g. {"agent": "fleetwatch-agent/0.1.0"}.'),
        ("", b"{", 400, 'The body must be a JSON object, e.g. {"agent": "fleetwatch-agent/0.1.0"}.'),
        ("", b"\xff", 400, 'The body must be a JSON object, e.g. {"agent": "fleetwatch-agent/0.1.0"}.'),
        ("", b"[" * 50000, 400, 'The body must be a JSON object, e.g. {"agent": "fleetwatch-agent/0.1.0"}.'),
        ("", b'{"agent": 3}', 400, "agent: must be a string."),
        ("", b'{"next": true}', 400, "next: must be a number of seconds (0 to 10000000)."),
        ("", b'{"next": -1}', 400, "next: must be a number of seconds (0 to 10000000)."),
        ("", b" " * (64 * 1024 + 1), 413, "The body is larger than 65536 bytes."),
    ],
)
def test_refused_polls_deliver_nothing(client, alice, device_a, query, body, status, detail):
    commands.queue(device_a, "test", "", alice)
    response = poll(client, device_a, query, body)
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    assert Command.objects.get().status == "queued"


@pytest.mark.parametrize("endpoint", ["agent", "cmdlog"])
def test_key_device_and_method_refusals(client, device_a, device_b, endpoint, orgs):
    base = f"/api/v1/devices/{device_a.pk}/{endpoint}/"
    cases = [
        ("POST", f"{base}", 403, "Wrong or missing device key."),
        ("POST", f"{base}?key={device_b.key}", 403, "Wrong or missing device key."),
        ("POST", f"/api/v1/devices/{device_b.pk}x/{endpoint}/?key=x", 404, "Not found."),
        (
            "POST",
            f"/api/v1/devices/00000000-0000-4000-8000-000000000000/{endpoint}/?key=x",
            404,
            "No such active device.",
        ),
        ("GET", f"{base}?key={device_a.key}", 405, 'Method "GET" not allowed.'),
        ("PUT", f"{base}?key={device_a.key}", 405, 'Method "PUT" not allowed.'),
    ]
    for method, url, status, detail in cases:
        response = client.generic(method, url)
        assert (method, url, response.status_code, response.json()) == (
            method,
            url,
            status,
            {"detail": detail},
        )
    device_a.is_active = False
    device_a.save()
    response = client.post(f"{base}?key={device_a.key}")
    assert (response.status_code, response.json()) == (404, {"detail": "No such active device."})


def test_the_monitoring_report_without_features_is_unchanged(client, alice, device_a, timeseries):
    commands.queue(device_a, "test", "", alice)
    url = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}"
    response = client.post(url, json.dumps(example_report()), content_type="application/json")
    assert (response.status_code, response.content) == (200, b"null")
    assert Command.objects.get().status == "queued"
    row = DeviceChannel.objects.get(device=device_a)  # made by queue(), for the seq
    assert (row.last_message, row.features, row.agent) == (None, "", "")


def test_the_monitoring_report_with_features_answers_the_next_command(client, alice, device_a, timeseries):
    url = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}"
    body = json.dumps(example_report())
    response = client.post(f"{url}&features=", body, content_type="application/json")
    assert (response.status_code, response.json()) == (200, {})
    assert DeviceChannel.objects.get(device=device_a).features == ""
    commands.queue(device_a, "restart", "ssh", alice)
    response = client.post(f"{url}&features=c", body, content_type="application/json")
    assert (response.status_code, response.json()) == (
        200,
        {"cmd": {"seq": 1, "action": "restart", "argument": "ssh"}},
    )
    row = DeviceChannel.objects.get(device=device_a)
    assert (row.channel, row.features) == ("http", "c")
    assert Command.objects.get().status == "delivered"


def test_a_refused_report_with_features_delivers_nothing(client, alice, device_a, timeseries):
    commands.queue(device_a, "test", "", alice)
    url = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}&features=c"
    response = client.post(url, b"{", content_type="application/json")
    assert response.status_code == 400
    response = client.post(url + "!", json.dumps(example_report()), content_type="application/json")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "features: at most 16 letters, e.g. 'c'."},
    )
    assert Command.objects.get().status == "queued"
