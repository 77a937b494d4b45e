"""The device page's channel sections and command console, and the fleet's channel and
connection filters, through Django's test client: who sees what (admins the console, members
not and their POST 403, outsiders 404), exact outcomes of the console (a command queued once
per form token, a refusal shown in the form with 400 and nothing queued), outputs escaped."""

import uuid
from datetime import UTC, datetime

import pytest
from django.utils.html import escape

from fleetwatch.inventory.models import Device
from fleetwatch.messaging import commands
from fleetwatch.messaging.models import Command, ConnectionEvent, DeviceChannel, StationMessage
from fleetwatch.web.channels import COMMANDS_DISABLED, COMMANDS_ENABLED, COMMANDS_UNKNOWN, OUTPUT_SHOWN
from fleetwatch.web.models import SubmittedForm

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def page(client, device) -> str:
    response = client.get(f"/devices/{device.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def send(client, device, action="test", argument="", nonce=None):
    return client.post(
        f"/devices/{device.pk}/commands/",
        {"action": action, "argument": argument, "once": str(nonce or uuid.uuid4())},
    )


# ---------------------------------------------------------------------- connection card


def test_an_http_only_device_shows_http_its_last_report_and_unknown_commands(client, bob, device_a):
    device_a.last_seen = T0
    device_a.save()
    client.force_login(bob)
    html = page(client, device_a)
    assert '<dd id="connection-channel">HTTP</dd>' in html
    assert 'id="connection-state"' not in html
    assert "2026-11-30 10:00:00 UTC" in html
    assert escape(COMMANDS_UNKNOWN) in html


@pytest.mark.parametrize(
    ("features", "note"), [("c", COMMANDS_ENABLED), ("", COMMANDS_DISABLED)], ids=["enabled", "disabled"]
)
def test_a_broker_device_shows_its_connection_since_and_whether_it_runs_commands(
    client, bob, device_a, features, note
):
    DeviceChannel.objects.create(
        device=device_a,
        channel="mqtt",
        connected=True,
        connected_since=T0,
        last_message=T0.replace(minute=5),
        features=features,
        agent="fleetwatch-agent/0.1.0",
    )
    client.force_login(bob)
    html = page(client, device_a)
    assert '<dd id="connection-channel">MQTT</dd>' in html
    assert '<span class="conn connected" id="connection-state">connected</span>' in html
    assert (
        '<time datetime="2026-11-30T10:00:00+00:00" id="connection-since">2026-11-30 10:00 UTC</time>' in html
    )
    assert "2026-11-30 10:05:00 UTC" in html
    assert "<code>fleetwatch-agent/0.1.0</code>" in html
    assert escape(note) in html


def test_connection_history_and_station_messages_newest_first_and_escaped(client, bob, device_a):
    ConnectionEvent.objects.create(
        device=device_a, time=T0, kind="connected", channel="mqtt", source="broker"
    )
    ConnectionEvent.objects.create(
        device=device_a, time=T0.replace(hour=11), kind="disconnected", channel="mqtt", source="will"
    )
    for minute, text in [(1, "G,1764496860,45.1,7.6,230"), (2, "<script>alert(1)</script>")]:
        StationMessage.objects.create(
            device=device_a,
            time=T0.replace(minute=minute),
            received=T0,
            kind="",
            text=text,
            digest=str(minute),
        )
    client.force_login(bob)
    html = page(client, device_a)
    history = html[html.index('id="connection-history"') :]
    assert history.index("disconnected") < history.index(">connected<")
    messages = html[html.index('id="station-messages"') :]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in messages
    assert "<script>alert(1)" not in html
    assert messages.index("&lt;script&gt;") < messages.index("G,1764496860")


# ---------------------------------------------------------------------- console: access


def test_an_admin_sees_the_console_and_a_member_does_not(client, alice, bob, device_a):
    client.force_login(alice)
    assert 'id="command-form"' in page(client, device_a)
    client.force_login(bob)
    html = page(client, device_a)
    assert 'id="command-form"' not in html
    assert 'id="console"' not in html


def test_a_members_console_requests_are_403_and_queue_nothing(client, bob, device_a):
    client.force_login(bob)
    assert send(client, device_a, "exec", "uptime").status_code == 403
    assert client.get(f"/devices/{device_a.pk}/commands/").status_code == 403
    assert Command.objects.count() == 0


def test_an_outsiders_console_requests_are_404_and_queue_nothing(client, charlie, device_a):
    client.force_login(charlie)
    assert send(client, device_a, "exec", "uptime").status_code == 404
    assert client.get(f"/devices/{device_a.pk}/").status_code == 404
    command = commands.queue(device_a, "test", "", None)
    assert client.get(f"/devices/{device_a.pk}/commands/{command.pk}/output/").status_code == 404
    assert client.post(f"/devices/{device_a.pk}/commands/{command.pk}/cancel/").status_code == 404
    assert Command.objects.count() == 1


def test_anonymous_console_requests_go_to_the_login_page(client, device_a):
    response = send(client, device_a)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert Command.objects.count() == 0


# ---------------------------------------------------------------------- console: outcomes


def test_sending_queues_one_command_and_redirects_to_the_console(client, alice, device_a):
    client.force_login(alice)
    response = send(client, device_a, "exec", "  uptime ")
    assert response.status_code == 302
    assert response["Location"] == f"/devices/{device_a.pk}/#console"
    command = Command.objects.get()
    assert (command.seq, command.action, command.argument, command.status, command.requested_by) == (
        1,
        "exec",
        "uptime",
        "queued",
        alice,
    )
    html = page(client, device_a)
    assert "Command #1 (#1 exec uptime) is queued." in html
    assert '<tr data-seq="1" class="command queued" data-pending>' in html


def test_the_same_form_sent_twice_queues_one_command(client, alice, device_a):
    client.force_login(alice)
    nonce = uuid.uuid4()
    first = send(client, device_a, "reboot", nonce=nonce)
    second = send(client, device_a, "reboot", nonce=nonce)
    assert (first.status_code, second.status_code) == (302, 302)
    assert Command.objects.count() == 1
    assert SubmittedForm.objects.get(nonce=nonce).outcome == str(Command.objects.get().pk)
    assert "This form was sent already: the command was queued once." in page(client, device_a)
    # a fresh form (the page renders a new token) queues the next one
    assert send(client, device_a, "reboot").status_code == 302
    assert list(Command.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2]


def test_a_refused_command_is_shown_in_the_form_and_queues_nothing(client, alice, device_a):
    client.force_login(alice)
    nonce = uuid.uuid4()
    response = send(client, device_a, "exec", "", nonce=nonce)
    assert response.status_code == 400
    html = response.content.decode()
    assert '<li class="error">exec needs a command line.</li>' in html
    assert Command.objects.count() == 0
    # the refusal un-claimed the token: the corrected form goes through
    assert not SubmittedForm.objects.filter(nonce=nonce).exists()
    assert send(client, device_a, "exec", "uptime", nonce=nonce).status_code == 302
    assert Command.objects.get().argument == "uptime"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"action": "format-disk", "argument": "", "once": str(uuid.uuid4())}, 400),
        ({"action": "test", "argument": ""}, 400),  # no one-time token
        ({"action": "test", "argument": "", "once": "not-a-uuid"}, 400),
    ],
)
def test_malformed_console_forms_are_400(client, alice, device_a, data, status):
    client.force_login(alice)
    assert client.post(f"/devices/{device_a.pk}/commands/", data).status_code == status
    assert Command.objects.count() == 0


def test_history_shows_who_asked_status_and_escaped_output_long_output_collapsed(client, alice, device_a):
    short = commands.queue(device_a, "exec", "echo hi", alice)
    commands.record_result(device_a, short.seq, "OK", "<b>hi</b>\n")
    long = commands.queue(device_a, "logs", "/var/log/syslog", alice)
    commands.record_result(device_a, long.seq, "ERR", "x" * (OUTPUT_SHOWN + 10))
    client.force_login(alice)
    html = client.get(f"/devices/{device_a.pk}/commands/").content.decode()
    assert '<pre class="command-output">&lt;b&gt;hi&lt;/b&gt;\n</pre>' in html
    assert "<b>hi</b>" not in html
    assert '<tr data-seq="1" class="command ok">' in html
    assert '<tr data-seq="2" class="command err">' in html
    assert html.count("<td>alice</td>") == 2
    assert html.count("<details>") == 1
    assert "x" * OUTPUT_SHOWN + "</pre>" in html
    assert "x" * (OUTPUT_SHOWN + 1) not in html
    whole = client.get(f"/devices/{device_a.pk}/commands/{long.pk}/output/")
    assert (whole.status_code, whole["Content-Type"]) == (200, "text/plain; charset=utf-8")
    assert whole.content == b"x" * (OUTPUT_SHOWN + 10)


def test_cancel_a_queued_command_and_refuse_to_cancel_a_finished_one(client, alice, bob, device_a):
    pending = commands.queue(device_a, "reboot", "", alice)
    done = commands.queue(device_a, "test", "", alice)
    commands.record_result(device_a, done.seq, "OK", "up 3 days")
    client.force_login(bob)
    assert client.post(f"/devices/{device_a.pk}/commands/{pending.pk}/cancel/").status_code == 403
    client.force_login(alice)
    assert client.post(f"/devices/{device_a.pk}/commands/{pending.pk}/cancel/").status_code == 302
    assert client.post(f"/devices/{device_a.pk}/commands/{done.pk}/cancel/").status_code == 302
    pending.refresh_from_db()
    done.refresh_from_db()
    assert (pending.status, pending.cancelled_by, done.status) == ("cancelled", alice, "ok")


# ---------------------------------------------------------------------- fleet filters


@pytest.fixture
def fleet(orgs, device_a):
    """ap-lobby (HTTP, no channel row), st-mqtt-up, st-mqtt-down, st-amqp-up, host-http (a row on http)."""

    def make(name, channel, connected):
        device = Device.objects.create(organization=orgs[0], name=name)
        DeviceChannel.objects.create(device=device, channel=channel, connected=connected)
        return device

    make("st-mqtt-up", "mqtt", True)
    make("st-mqtt-down", "mqtt", False)
    make("st-amqp-up", "amqp", True)
    make("host-http", "http", False)


def names(client, query) -> list[str]:
    response = client.get(f"/?{query}")
    assert response.status_code == 200
    return [d.name for d in response.context["devices"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["ap-lobby", "host-http", "st-amqp-up", "st-mqtt-down", "st-mqtt-up"]),
        ("channel=http", ["ap-lobby", "host-http"]),
        ("channel=mqtt", ["st-mqtt-down", "st-mqtt-up"]),
        ("channel=amqp", ["st-amqp-up"]),
        ("connection=connected", ["st-amqp-up", "st-mqtt-up"]),
        ("connection=disconnected", ["st-mqtt-down"]),
        ("channel=mqtt&connection=connected", ["st-mqtt-up"]),
        ("channel=http&connection=connected", []),
    ],
)
def test_fleet_filters_by_channel_and_connection(client, bob, fleet, query, expected):
    client.force_login(bob)
    assert names(client, query) == expected


@pytest.mark.parametrize("query", ["channel=smtp", "connection=maybe", "channel=%00"])
def test_an_unknown_channel_or_connection_filter_is_400(client, bob, fleet, query):
    client.force_login(bob)
    assert client.get(f"/?{query}").status_code == 400


def test_the_fleet_shows_a_connection_column(client, bob, fleet):
    client.force_login(bob)
    html = client.get("/?channel=mqtt").content.decode()
    assert (
        '<td data-label="Connection" class="connection">MQTT <span class="conn connected">connected</span></td>'
        in html
    )
    assert (
        '<td data-label="Connection" class="connection">MQTT <span class="conn disconnected">disconnected</span></td>'
        in html
    )


def test_used_form_tokens_are_forgotten_after_two_days(client, alice, device_a):
    from fleetwatch.web.models import KEEP_SUBMITTED

    client.force_login(alice)
    old, new = uuid.uuid4(), uuid.uuid4()
    assert send(client, device_a, nonce=old).status_code == 302
    SubmittedForm.objects.filter(nonce=old).update(
        created=SubmittedForm.objects.get(nonce=old).created - KEEP_SUBMITTED
    )
    assert send(client, device_a, nonce=new).status_code == 302
    assert list(SubmittedForm.objects.values_list("nonce", flat=True)) == [new]
