"""The demo's real host: ``fleetwatch serve --demo`` runs fleetwatch-agent (agent/, installed by
``make``) on this machine, so the fleet shows a real Linux host next to the simulated routers.

The device is made once in the demo organization (found again by its serial, the machine id)
and the agent gets its id and key in ``<data dir>/demo-agent/agent.toml``, written at each
start, with remote commands **enabled** (the demo's command console needs them: on a real
machine its owner decides), a report every minute, so the charts move while one watches, and
a command poll every :data:`POLL` seconds, so a command sent from the console comes back
within seconds (a real agent starts at 90 s and grows to an hour between polls).

The device page names that file under its "remote commands are enabled" note
(:func:`commands_enabled_by`), so nobody takes the demo's setting for a default.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import tomllib
from pathlib import Path

from django.conf import settings

from fleetwatch.inventory.models import Device, Organization

INTERVAL = 60  # seconds between the demo host's reports
# Seconds between command polls, fixed (poll_min = poll_max, no growth): the console feels live
# at the cost of one small request every 3 s, which a demo on loopback affords.
POLL = 3


def folder() -> Path:
    """Where the demo keeps the agent's configuration and state: ``<data dir>/demo-agent``."""
    return settings.DATA_DIR / "demo-agent"


def machine_serial() -> str:
    """The machine id (as the agent's default serial), else the hostname."""
    try:
        serial = Path("/etc/machine-id").read_text().strip()
    except OSError:
        serial = ""
    return serial or socket.gethostname()


def available() -> bool:
    """Whether the agent package is installed (``make`` installs it into the venv)."""
    return importlib.util.find_spec("fleetwatch_agent") is not None


def prepare(organization: Organization, url: str, folder: Path) -> tuple[Device, Path]:
    """The demo host's device (made once) and its agent configuration file (written anew)."""
    serial = machine_serial()
    device, _ = Device.objects.get_or_create(
        organization=organization, serial=serial, defaults={"name": socket.gethostname()[:64] or "this-host"}
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.toml"

    def text(value: str) -> str:
        return json.dumps(value)  # a JSON string is a valid TOML basic string

    path.write_text(
        "# Written by `fleetwatch serve --demo` at each start: this machine as a demo device.\n"
        f"server = {text(url)}\n"
        f"device_id = {text(str(device.pk))}\n"
        f"key = {text(device.key)}\n"
        f"serial = {text(serial)}\n"
        f"state_dir = {text(str(folder / 'state'))}\n"
        f"interval = {INTERVAL}\n"
        "# Enabled for the demo's command console; a real machine's owner decides.\n"
        "commands = true\n"
        "# A command poll every few seconds, so the console answers at once (a real agent: 90 s to 1 h).\n"
        f"poll_min = {POLL}\n"
        f"poll_max = {POLL}\n"
        "poll_growth = 1\n"
    )
    path.chmod(0o600)  # it holds the device key
    return device, path


def command(config: Path) -> list[str]:
    """The agent's command line, with this interpreter."""
    return [sys.executable, "-m", "fleetwatch_agent", "--config", str(config)]


def commands_enabled_by(device: Device) -> Path | None:
    """The demo's agent configuration file if it is ``device``'s and enables remote commands
    (what the device page names under its note), else None (no demo, another device, or an
    unreadable file: the page then says only what the agent declared)."""
    path = folder() / "agent.toml"
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if config.get("device_id") == str(device.pk) and config.get("commands") is True:
        return path
    return None


def shown(path: Path) -> str:
    """``path`` as the page shows it: relative to the server's working directory when inside it
    (``var/demo-agent/agent.toml`` for ``make run``), else whole."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
