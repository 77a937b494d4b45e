"""Onboarding in the web UI (web/onboarding.py): an organization admin adds a device, sees its
UUID and key once with the OpenWrt agent's settings, rotates the key, deactivates or deletes it;
a member sees the device pages without these controls and gets 403 from them; another
organization gets 404. The browser tests at the end run the acceptance of issue 13 against
`fleetwatch serve --demo` (what `make run` runs) as its printed `demo` login."""

import html as htmllib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fleetwatch.inventory.models import Device, Location
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def report(client, device_pk, key, body=None):
    return client.post(
        f"/api/v1/monitoring/device/{device_pk}/?key={key}",
        json.dumps(body or example_report()),
        content_type="application/json",
    )


def text(response) -> str:
    """The page as the browser shows its text (entities such as &#x27; decoded)."""
    return htmllib.unescape(response.content.decode())


def add(client, **fields):
    data = {"name": "ap-new", "mac_address": "", "management_ip": "", "location": "", "new_location": ""}
    return client.post("/devices/add/", {**data, **fields})


# ------------------------------------------------------------------ add, connect, key once


def test_an_admin_adds_a_device_and_sees_its_uuid_and_key_once(client, alice, orgs, timeseries):
    client.force_login(alice)
    form = client.get("/devices/add/")
    assert form.status_code == 200
    # One organization administered: it is implied (a hidden field), not a choice.
    assert f'<input type="hidden" name="organization" value="{orgs[0].pk}"' in form.content.decode()

    response = add(
        client,
        organization=orgs[0].pk,
        name="ap-roof",
        mac_address="44-D1-FA-4B-38-99",
        management_ip="127.0.0.2",
        new_location="Roof",
    )
    device = Device.objects.get(name="ap-roof")
    assert response.status_code == 302
    assert response["Location"] == f"/devices/{device.pk}/connect/"
    assert device.organization == orgs[0]
    assert device.mac_address == "44:d1:fa:4b:38:99"
    assert device.management_ip == "127.0.0.2"
    assert device.location == Location.objects.get(organization=orgs[0], name="Roof")

    page = client.get(response["Location"])
    html = text(page)
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("max-age=0")
    assert f'<code id="device-uuid">{device.pk}</code>' in html
    assert f'<code id="device-key">{device.key}</code>' in html
    assert "uci set openwisp.http.url='http://testserver'" in html
    assert f"uci set openwisp.http.uuid='{device.pk}'" in html
    assert f"uci set openwisp.http.key='{device.key}'" in html
    # The key works as shown (the agent's 200)...
    assert report(client, device.pk, device.key).status_code == 200
    # ... and is not shown again: the UUID is, the key's place says how to get a new one.
    again = text(client.get(response["Location"]))
    assert f'<code id="device-uuid">{device.pk}</code>' in again
    assert device.key not in again
    assert 'id="device-key-hidden"' in again


def test_the_openwrt_commands_are_exactly_these(client, alice, orgs):
    client.force_login(alice)
    add(client, organization=orgs[0].pk, name="ap-cmd")
    device = Device.objects.get(name="ap-cmd")
    html = text(client.get(f"/devices/{device.pk}/connect/", HTTP_HOST="127.0.0.1:8000"))
    commands = re.search(r'<pre id="openwrt-commands">(.*?)</pre>', html, re.S).group(1)
    assert commands.splitlines() == [
        "uci set openwisp.http=controller",
        "uci set openwisp.http.url='http://127.0.0.1:8000'",
        f"uci set openwisp.http.uuid='{device.pk}'",
        f"uci set openwisp.http.key='{device.key}'",
        "uci set openwisp.http.verify_ssl='0'",  # plain http: nothing to verify
        "uci set openwisp-monitoring.monitoring=monitoring",
        "uci set openwisp-monitoring.monitoring.interval='300'",
        "uci set openwisp-monitoring.monitoring.monitored_interfaces='*'",
        "uci commit openwisp",
        "uci commit openwisp-monitoring",
        "/etc/init.d/openwisp-monitoring restart",
    ]
    # Opened on loopback: the page warns that the router needs another address.
    assert "which the router\n    cannot reach" in html


def test_the_curl_check_on_the_connect_page_is_accepted(client, alice, orgs, timeseries):
    client.force_login(alice)
    add(client, organization=orgs[0].pk, name="ap-curl")
    device = Device.objects.get(name="ap-curl")
    html = text(client.get(f"/devices/{device.pk}/connect/"))
    curl = re.search(r'<pre id="curl-command">(.*?)</pre>', html, re.S).group(1)
    body = re.search(r"-d '(.*?)'", curl).group(1)
    url = re.search(r"'(http://testserver/api/v1/monitoring/device/[^']+)'", curl).group(1)
    assert url == f"http://testserver/api/v1/monitoring/device/{device.pk}/?key={device.key}"
    response = client.post(url, body, content_type="application/json")
    assert (response.status_code, response.content) == (200, b"null")


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"mac_address": "44:d1"}, "mac_address", "Enter a MAC address like 00:11:22:33:44:55."),
        ({"management_ip": "300.1.1.1"}, "management_ip", "Enter a valid IPv4 or IPv6 address."),
    ],
)
def test_an_invalid_device_is_not_added_and_the_form_says_why(client, alice, orgs, fields, field, error):
    client.force_login(alice)
    response = add(client, organization=orgs[0].pk, **fields)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [error]
    assert not Device.objects.exists()


def test_an_admin_cannot_add_a_device_to_an_organization_they_do_not_administer(client, alice, orgs):
    client.force_login(alice)
    response = add(client, organization=orgs[1].pk, name="intruder")
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["organization"]
    assert not Device.objects.exists()


def test_a_location_of_another_organization_is_refused(client, alice, orgs):
    elsewhere = Location.objects.create(organization=orgs[1], name="Their site")
    client.force_login(alice)
    response = add(client, organization=orgs[0].pk, location=elsewhere.pk)
    assert response.context["form"].errors["location"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not Device.objects.exists()


# ------------------------------------------------------------------ rotate, deactivate, delete


def test_rotating_the_key_asks_first_then_the_old_key_stops_working(client, alice, device_a, timeseries):
    old = device_a.key
    client.force_login(alice)
    confirm = client.get(f"/devices/{device_a.pk}/rotate-key/")
    assert confirm.status_code == 200
    assert b"The old key stops working at once" in confirm.content
    assert Device.objects.get(pk=device_a.pk).key == old  # asking changes nothing

    response = client.post(f"/devices/{device_a.pk}/rotate-key/")
    device_a.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"/devices/{device_a.pk}/connect/"
    assert device_a.key != old
    assert re.fullmatch(r"[0-9a-f]{32}", device_a.key)
    assert f'<code id="device-key">{device_a.key}</code>' in client.get(response["Location"]).content.decode()
    assert report(client, device_a.pk, old).status_code == 403
    assert report(client, device_a.pk, device_a.key).status_code == 200


def test_deactivating_asks_first_then_reports_are_refused_until_activated(
    client, alice, device_a, timeseries
):
    client.force_login(alice)
    assert b"Deactivate ap-lobby?" in client.get(f"/devices/{device_a.pk}/deactivate/").content
    assert client.post(f"/devices/{device_a.pk}/deactivate/").status_code == 302
    device_a.refresh_from_db()
    assert device_a.is_active is False
    assert report(client, device_a.pk, device_a.key).status_code == 404
    assert b"Activate ap-lobby again?" in client.get(f"/devices/{device_a.pk}/deactivate/").content
    assert client.post(f"/devices/{device_a.pk}/deactivate/").status_code == 302
    device_a.refresh_from_db()
    assert device_a.is_active is True
    assert report(client, device_a.pk, device_a.key).status_code == 200


def test_deleting_asks_first_then_the_device_is_gone(client, alice, device_a):
    client.force_login(alice)
    confirm = client.get(f"/devices/{device_a.pk}/delete/")
    assert b"This cannot be undone." in confirm.content
    assert Device.objects.filter(pk=device_a.pk).exists()
    response = client.post(f"/devices/{device_a.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert not Device.objects.filter(pk=device_a.pk).exists()
    assert [str(m) for m in response.context["messages"]] == ["ap-lobby was deleted."]
    assert report(client, device_a.pk, device_a.key).status_code == 404


# ------------------------------------------------------------------ who may do what

CHANGES = ["rotate-key", "deactivate", "delete"]


def test_an_admin_sees_the_controls(client, alice, device_a):
    client.force_login(alice)
    fleet = client.get("/").content.decode()
    device = client.get(f"/devices/{device_a.pk}/").content.decode()
    assert 'id="add-device-link"' in fleet
    assert 'id="fleet-add-device"' in fleet
    for action in ["connect", *CHANGES]:
        assert f'href="/devices/{device_a.pk}/{action}/"' in device


def test_a_member_sees_the_device_but_no_controls(client, bob, device_a):
    client.force_login(bob)
    fleet = client.get("/")
    device = client.get(f"/devices/{device_a.pk}/")
    assert (fleet.status_code, device.status_code) == (200, 200)
    assert "add-device" not in fleet.content.decode()
    assert "/devices/add/" not in fleet.content.decode()
    assert 'id="device-actions"' not in device.content.decode()
    for action in ["connect", *CHANGES]:
        assert f"/{action}/" not in device.content.decode()


@pytest.mark.parametrize("action", ["connect", *CHANGES])
def test_a_member_gets_403_from_every_change(client, bob, device_a, action):
    key = device_a.key
    client.force_login(bob)
    assert client.get(f"/devices/{device_a.pk}/{action}/").status_code == 403
    if action != "connect":
        assert client.post(f"/devices/{device_a.pk}/{action}/").status_code == 403
    device_a.refresh_from_db()
    assert (device_a.key, device_a.is_active) == (key, True)


def test_a_member_gets_403_from_adding(client, bob, orgs):
    client.force_login(bob)
    assert client.get("/devices/add/").status_code == 403
    assert add(client, organization=orgs[0].pk).status_code == 403
    assert not Device.objects.exists()


@pytest.mark.parametrize("action", ["connect", *CHANGES])
def test_another_organization_gets_404(client, charlie, device_a, action):
    client.force_login(charlie)
    assert client.get(f"/devices/{device_a.pk}/{action}/").status_code == 404
    if action != "connect":
        assert client.post(f"/devices/{device_a.pk}/{action}/").status_code == 404
    assert Device.objects.get(pk=device_a.pk).key == device_a.key


@pytest.mark.parametrize("path", ["/devices/add/", "/devices/{pk}/connect/", "/devices/{pk}/delete/"])
def test_anonymous_visitors_are_sent_to_log_in(client, device_a, path):
    response = client.get(path.format(pk=device_a.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_a_change_without_its_csrf_token_is_refused(alice, device_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/devices/{device_a.pk}/delete/").status_code == 403
    assert Device.objects.filter(pk=device_a.pk).exists()


# ------------------------------------------------------------------ docs/connecting-a-router.md

GUIDE = ROOT / "docs" / "connecting-a-router.md"


def test_the_guides_router_commands_are_the_connect_pages(client, alice, orgs, settings):
    from tests.test_cli_settings import doc_block

    settings.ALLOWED_HOSTS = ["testserver", "192.168.1.10"]  # as when served on that address
    client.force_login(alice)
    add(client, organization=orgs[0].pk, name="ap-doc")
    device = Device.objects.get(name="ap-doc")
    html = text(client.get(f"/devices/{device.pk}/connect/", HTTP_HOST="192.168.1.10:8000"))
    commands = re.search(r'<pre id="openwrt-commands">(.*?)</pre>', html, re.S).group(1)
    curl = re.search(r'<pre id="curl-command">(.*?)</pre>', html, re.S).group(1)
    placeholders = {str(device.pk): "<uuid>", device.key: "<key>"}
    for value, placeholder in placeholders.items():
        commands, curl = commands.replace(value, placeholder), curl.replace(value, placeholder)
    assert doc_block(GUIDE, "## 4. On the router", 0) == commands + "\n"
    assert doc_block(GUIDE, "## 4. On the router", 1) == curl + "\n"


def test_the_guides_tls_commands_are_the_connect_pages_over_https(client, alice, orgs, settings):
    from tests.test_cli_settings import doc_block

    settings.ALLOWED_HOSTS = ["testserver", "fleetwatch.example.org"]
    client.force_login(alice)
    add(client, organization=orgs[0].pk, name="ap-tls")
    device = Device.objects.get(name="ap-tls")
    html = text(client.get(f"/devices/{device.pk}/connect/", HTTP_HOST="fleetwatch.example.org", secure=True))
    commands = re.search(r'<pre id="openwrt-commands">(.*?)</pre>', html, re.S).group(1).splitlines()
    url, verify, cacert = doc_block(GUIDE, "## 3. TLS").splitlines()
    assert url in commands
    assert verify in commands
    # The CA file is the agent's `cacert` option (openwisp-monitoring's init script passes it on).
    assert re.fullmatch(r"uci set openwisp\.http\.cacert='/[^']+\.pem'", cacert)
    assert "| `cacert` |" in GUIDE.read_text()


def test_the_guides_device_create_command(orgs, capsys):
    from django.core.management import call_command

    from fleetwatch.inventory.models import Organization

    Organization.objects.create(name="Demo", slug="demo")
    line = re.search(r"`fleetwatch device create ([^`]+)`", GUIDE.read_text()).group(1)
    call_command("device", "create", *line.split())
    device = Device.objects.get(name="ap-garden")
    assert capsys.readouterr().out == f"id: {device.pk}\nkey: {device.key}\n"


# ------------------------------------------------------------------ in a browser, as `make run` serves

PORTS = range(8151, 8160)  # the live-server ports set aside for these tests


def free_port() -> int:
    """The first of PORTS nothing listens on (another run of this test may hold one)."""
    import socket

    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class Demo:
    """`fleetwatch serve --demo` (what `make run` runs) in a fresh data dir on 127.0.0.1:PORT,
    with one simulated router and no back-fill to keep it light; its printed login is read
    from its output. Stopped with Ctrl-C (SIGINT), as a person stops `make run`; its process
    group (this test's own) is then ended by its id if anything is left."""

    def __init__(self, port: int):
        self.dir = tempfile.mkdtemp(prefix="fw-onboarding-")
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
        env.update(
            FLEETWATCH_DATA_DIR=self.dir,
            FLEETWATCH_BIND=f"127.0.0.1:{port}",
            FLEETWATCH_DEMO_DEVICES="1",
            FLEETWATCH_DEMO_DAYS="0",
            FLEETWATCH_WORKERS="1",
            PYTHONPATH=str(ROOT / "src"),
        )
        self.log = open(Path(self.dir) / "serve.log", "w+")  # closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fleetwatch", "serve", "--demo"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def login(self, timeout: float = 120) -> tuple[str, str]:
        """Waits (by polling the output, no sleeping) for the printed "Log in as: demo / <pw>"."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.log.seek(0)
            found = re.search(r"Log in as: (\S+) / (\S+)", self.log.read())
            if found:
                return found.group(1), found.group(2)
            if self.process.poll() is not None:
                break
            self.process_wait(0.2)
        self.log.seek(0)
        pytest.fail(f"`fleetwatch serve --demo` printed no login:\n{self.log.read()[-3000:]}")

    def process_wait(self, seconds: float) -> None:
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGTERM)  # only this test's own process group
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def demo():
    server = Demo(free_port())
    try:
        yield server
    finally:
        server.stop()


def post_report(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(example_report()).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def screenshot(page, name: str) -> None:
    """With FLEETWATCH_SCREENSHOTS=1, the page into docs/img/<name>.png (for the docs)."""
    if os.environ.get("FLEETWATCH_SCREENSHOTS") == "1":
        page.screenshot(path=str(ROOT / "docs" / "img" / f"{name}.png"))


@pytest.mark.django_db(transaction=True)
def test_from_the_demo_login_an_admin_adds_a_device_connects_it_and_sees_its_charts(demo, browser):
    """Issue 13's acceptance: from `make run`'s login, add a device in the UI, copy its UUID and
    key from the page, post an agent report with them (200), and see the device's charts."""
    username, password = demo.login()
    assert username == "demo"
    context = browser.new_context(
        timezone_id="UTC",
        viewport={"width": 1000, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.goto(f"{demo.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")

    page.click("#add-device-link")
    assert page.url == f"{demo.url}/devices/add/"
    page.fill("input[name=name]", "ap-garden")
    page.fill("input[name=mac_address]", "44:d1:fa:4b:38:50")
    page.fill("input[name=management_ip]", "127.0.0.1")
    page.fill("input[name=new_location]", "Garden")
    screenshot(page, "onboarding-add")
    page.click("#add-device button[type=submit]")

    assert re.fullmatch(rf"{demo.url}/devices/[0-9a-f-]{{36}}/connect/", page.url)
    copied = {}
    for target in ("#device-uuid", "#device-key"):
        page.click(f"button.copy[data-copy='{target}']")
        page.wait_for_selector(f"button.copy[data-copy='{target}'][data-copied=true]")
        copied[target] = page.evaluate("navigator.clipboard.readText()")
        assert copied[target] == page.text_content(target)
    uuid, key = copied["#device-uuid"], copied["#device-key"]
    assert re.fullmatch(r"[0-9a-f-]{36}", uuid)
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert f"uci set openwisp.http.key='{key}'" in page.text_content("#openwrt-commands")
    screenshot(page, "onboarding-connect")

    status, body = post_report(f"{demo.url}/api/v1/monitoring/device/{uuid}/?key={key}")
    assert (status, body) == (200, b"null")
    # The guide's curl check, as written, with this server, UUID and key put in.
    from tests.test_cli_settings import doc_block

    curl = doc_block(GUIDE, "## 4. On the router", 1).strip()
    curl = curl.replace("http://192.168.1.10:8000", demo.url).replace("<uuid>", uuid).replace("<key>", key)
    out = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60).stdout
    assert out.splitlines()[0].strip() == "HTTP/1.1 200 OK"
    assert out.splitlines()[-1] == "null"

    page.click("#device-page-link")
    assert page.url == f"{demo.url}/devices/{uuid}/"
    page.wait_for_selector("#charts[data-loaded=true]", timeout=30_000)
    charts = dict(
        page.eval_on_selector_all(
            "section.chart",
            "els => els.map(e => [e.querySelector('h2').textContent,"
            " [e.querySelector('.summary').textContent, e.querySelectorAll('canvas').length]])",
        )
    )
    # Drawn, from the report just posted (load 0.12 of the example's one CPU).
    assert charts["CPU Load"] == ["CPU Load: 12%", 1]
    assert page.text_content("h1").startswith("ap-garden")


@pytest.mark.django_db(transaction=True)
def test_a_member_sees_the_new_device_page_without_controls(browser, live_server, bob, device_a):
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    assert page.query_selector("#add-device-link") is None
    page.click(f"text={device_a.name}")
    assert page.url == f"{live_server.url}/devices/{device_a.pk}/"
    assert page.query_selector("#device-actions") is None
    response = page.goto(f"{live_server.url}/devices/{device_a.pk}/delete/")
    assert response.status == 403
