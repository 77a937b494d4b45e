"""The device channels' pages in headless Chromium: an administrator sends a command from the
device page's console and sees it queued in the history, then its output appear (the page
refreshes the history while a command is pending) without reloading; a double click queues one
command; a refused command says why in the form; the fleet filters by channel and connection.

With FLEETWATCH_SCREENSHOTS=1 the console and the connection card are saved into docs/img/
(command-console.png, device-connection.png).
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetwatch.inventory.models import Device
from fleetwatch.messaging import commands
from fleetwatch.messaging.models import Command, DeviceChannel
from tests.web.test_backups_browser import Watched

pytestmark = pytest.mark.django_db(transaction=True)

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def station(device_a):
    DeviceChannel.objects.create(
        device=device_a,
        channel="mqtt",
        connected=True,
        connected_since=T0,
        last_message=T0,
        features="c",
        agent="fleetwatch-agent/0.1.0",
    )
    return device_a


def test_an_admin_sends_a_command_and_sees_it_queued_then_its_output(browser, live_server, station, alice):
    watched = Watched(browser, live_server, "alice")
    page = watched.page
    page.goto(f"{live_server.url}/devices/{station.pk}/")
    assert page.inner_text("#connection-state") == "connected"
    assert page.inner_text("#commands-note") == "Remote commands are enabled on this device."
    assert page.inner_text("#no-commands") == "No command has been sent to this device."
    page.select_option("#command-form select[name=action]", "exec")
    page.fill("#command-form input[name=argument]", "uname -a")
    page.click("#command-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/devices/{station.pk}/#console")
    row = page.locator("#command-history tr[data-seq='1']")
    assert row.locator(".cmd-status").inner_text() == "queued"
    assert row.locator("td").nth(1).inner_text() == "exec uname -a"
    assert row.locator("td").nth(3).inner_text() == "alice"
    assert page.inner_text(".messages li") == "Command #1 (#1 exec uname -a) is queued."

    # the device answers; the history follows without a reload
    commands.record_result(station, 1, "OK", "Linux station 6.1.0 <x86_64>\n")
    page.wait_for_selector("#command-history tr[data-seq='1'].ok", timeout=15_000)
    assert page.inner_text("#command-history pre.command-output") == "Linux station 6.1.0 <x86_64>\n"
    assert page.locator("#command-history tr[data-pending]").count() == 0
    if os.environ.get("FLEETWATCH_SCREENSHOTS") == "1":
        page.locator("#console").screenshot(path=str(IMG / "command-console.png"))
        page.locator("#connection").screenshot(path=str(IMG / "device-connection.png"))
    assert (watched.errors, watched.foreign) == ([], [])


def test_a_double_click_queues_one_command_and_a_refusal_says_why(browser, live_server, station, alice):
    watched = Watched(browser, live_server, "alice")
    page = watched.page
    page.goto(f"{live_server.url}/devices/{station.pk}/")
    page.select_option("#command-form select[name=action]", "reboot")
    page.dblclick("#command-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/devices/{station.pk}/#console")
    page.wait_for_selector("#command-history tr[data-seq='1']")
    assert list(Command.objects.values_list("seq", "action")) == [(1, "reboot")]

    page.select_option("#command-form select[name=action]", "restart")
    page.fill("#command-form input[name=argument]", "no such; service")
    page.click("#command-form button[type=submit]")
    page.wait_for_selector("#command-error")
    assert page.inner_text("#command-error") == (
        "restart needs a service name (letters, digits, '@', '.', '_', ':' and '-')."
    )
    assert page.input_value("#command-form input[name=argument]") == "no such; service"
    assert Command.objects.count() == 1
    assert watched.foreign == []


def test_a_member_sees_the_connection_but_no_console(browser, live_server, station, bob):
    watched = Watched(browser, live_server, "bob")
    page = watched.page
    page.goto(f"{live_server.url}/devices/{station.pk}/")
    assert page.inner_text("#connection-channel") == "MQTT"
    assert page.locator("#console").count() == 0
    assert page.locator("#command-form").count() == 0
    assert (watched.errors, watched.foreign) == ([], [])


def test_the_fleet_filters_by_channel_and_connection(browser, live_server, orgs, bob):
    for name, channel, connected in [
        ("st-mqtt-up", "mqtt", True),
        ("st-mqtt-down", "mqtt", False),
        ("st-amqp-up", "amqp", True),
    ]:
        device = Device.objects.create(organization=orgs[0], name=name)
        DeviceChannel.objects.create(device=device, channel=channel, connected=connected)
    Device.objects.create(organization=orgs[0], name="router-http")
    watched = Watched(browser, live_server, "bob")
    page = watched.page

    def shown() -> list[str]:
        return page.locator("table.devices tbody td[data-label=Device] a").all_inner_texts()

    assert shown() == ["router-http", "st-amqp-up", "st-mqtt-down", "st-mqtt-up"]
    page.select_option("select[name=connection]", "connected")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"{live_server.url}/?q=&status=&org=&channel=&connection=connected")
    assert shown() == ["st-amqp-up", "st-mqtt-up"]
    page.select_option("select[name=channel]", "mqtt")
    page.select_option("select[name=connection]", "disconnected")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"{live_server.url}/?q=&status=&org=&channel=mqtt&connection=disconnected")
    assert shown() == ["st-mqtt-down"]
    assert page.inner_text("table.devices td[data-label=Connection]") == "MQTT disconnected"
    assert (watched.errors, watched.foreign) == ([], [])
