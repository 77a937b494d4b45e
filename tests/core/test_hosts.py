"""The default allowed hosts follow the address Fleetwatch serves on (issue 13: a router on the
LAN posting to the server's LAN address got 400). Nothing here leaves the machine: requests go
through Django's test client with the Host header a LAN router would send."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from fleetwatch.core.hosts import bind_host, default_allowed_hosts

LOOPBACK = ["127.0.0.1", "localhost", "[::1]"]


def lan_address() -> str:
    """A non-loopback IPv4 address of this machine, read by `ip` (not by the code under test)."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        address = line.split()[3].split("/")[0]
        if not address.startswith("127."):
            return address
    pytest.fail("this machine has no non-loopback IPv4 address to test with")


@pytest.mark.parametrize(
    ("bind", "host"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("0.0.0.0:8000", "0.0.0.0"),
        ("[::]:8000", "::"),
        ("[fd00::2]:80", "fd00::2"),
        ("fd00::2", "fd00::2"),
        ("fleetwatch.lan:8000", "fleetwatch.lan"),
        ("fleetwatch.lan", "fleetwatch.lan"),
        ("unix:/run/fleetwatch.sock", None),
        ("fd://3", None),
    ],
)
def test_the_host_of_a_bind_address(bind, host):
    assert bind_host(bind) == host


@pytest.mark.parametrize("bind", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "unix:/run/fw.sock"])
def test_a_loopback_server_answers_to_loopback_names_only(bind):
    assert default_allowed_hosts(bind) == LOOPBACK


def test_a_server_bound_to_one_address_answers_to_it():
    assert default_allowed_hosts("192.168.1.10:8000") == [*LOOPBACK, "192.168.1.10"]
    assert default_allowed_hosts("[fd00::5]:8000") == [*LOOPBACK, "[fd00::5]"]
    assert default_allowed_hosts("Fleetwatch.LAN:8000") == [*LOOPBACK, "fleetwatch.lan"]


def test_a_server_bound_to_every_address_answers_to_this_machines_addresses(load):
    hosts = load(FLEETWATCH_BIND="0.0.0.0:8000")["ALLOWED_HOSTS"]
    assert hosts[:3] == LOOPBACK
    assert lan_address() in hosts
    assert "0.0.0.0" not in hosts


def test_allowed_hosts_when_set_win_over_the_bind_address(load):
    loaded = load(FLEETWATCH_BIND="0.0.0.0:8000", FLEETWATCH_ALLOWED_HOSTS="fleetwatch.example.org")
    assert loaded["ALLOWED_HOSTS"] == ["fleetwatch.example.org"]
    assert load()["ALLOWED_HOSTS"] == LOOPBACK


@pytest.mark.django_db
def test_an_agent_report_to_the_lan_address_is_accepted_when_serving_on_every_address(
    load, client, settings, device_a, timeseries, caplog
):
    from tests.ingest.payloads import example_report

    address = lan_address()
    path = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}"
    body = json.dumps(example_report())
    # The default of a loopback server: a request for the LAN address is refused (Django's 400).
    settings.ALLOWED_HOSTS = load()["ALLOWED_HOSTS"]
    with caplog.at_level("ERROR", logger="django.security.DisallowedHost"):
        refused = client.post(path, body, content_type="application/json", HTTP_HOST=f"{address}:8000")
    assert refused.status_code == 400
    # What the guide tells the operator to look for in the server's log:
    assert [r.getMessage() for r in caplog.records if r.name == "django.security.DisallowedHost"] == [
        f"Invalid HTTP_HOST header: '{address}:8000'. You may need to add '{address}' to ALLOWED_HOSTS."
    ]
    # Served on 0.0.0.0: the same request is stored.
    settings.ALLOWED_HOSTS = load(FLEETWATCH_BIND="0.0.0.0:8000")["ALLOWED_HOSTS"]
    stored = client.post(path, body, content_type="application/json", HTTP_HOST=f"{address}:8000")
    assert stored.status_code == 200
    # ... and so it is when served on that address alone.
    settings.ALLOWED_HOSTS = load(FLEETWATCH_BIND=f"{address}:8000")["ALLOWED_HOSTS"]
    again = client.post(path, body, content_type="application/json", HTTP_HOST=f"{address}:8000")
    assert again.status_code == 200


def test_serve_passes_its_bind_address_to_the_server_processes(monkeypatch):
    """``fleetwatch serve --bind`` sets FLEETWATCH_BIND for gunicorn, whose settings follow it."""
    from fleetwatch import cli

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    monkeypatch.setenv("FLEETWATCH_BIND", "127.0.0.1:8000")  # restored after the test
    monkeypatch.setattr(cli, "_system_checks", stop)
    with pytest.raises(Stop):
        cli.serve(["--bind", "0.0.0.0:8151"])
    assert os.environ["FLEETWATCH_BIND"] == "0.0.0.0:8151"


# ------------------------------------------------------------------ docs/connecting-a-router.md

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "connecting-a-router.md"
SECTION = "## 2. Serve on an address the router reaches"


def test_the_guides_bind_command_serves_the_lan(load):
    from tests.test_cli_settings import doc_block

    command = doc_block(GUIDE, SECTION, 0).strip()
    assert command == "fleetwatch serve --bind 0.0.0.0:8000"
    hosts = load(FLEETWATCH_BIND=command.split("--bind ")[1])["ALLOWED_HOSTS"]
    assert lan_address() in hosts
    inline = re.search(r"`FLEETWATCH_BIND=(\S+) fleetwatch serve`", GUIDE.read_text()).group(1)
    assert load(FLEETWATCH_BIND=inline)["ALLOWED_HOSTS"] == [*LOOPBACK, "192.168.1.10"]


def test_the_guides_allowed_hosts_example(load):
    from tests.test_cli_settings import doc_block

    line = doc_block(GUIDE, SECTION, 1).strip()
    assignment, command = line.split(" ", 1)
    name, value = assignment.split("=", 1)
    assert command == "fleetwatch serve --bind 0.0.0.0:8000"
    loaded = load(**{name: value}, FLEETWATCH_BIND="0.0.0.0:8000")
    assert loaded["ALLOWED_HOSTS"] == ["fleetwatch.lan", "192.168.1.10", "127.0.0.1", "localhost"]
