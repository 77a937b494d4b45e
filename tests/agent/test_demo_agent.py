"""The demo's real host (fleetwatch.monitoring.demo_agent): one device for this machine, found
again at the next start, and an agent configuration the agent accepts, commands enabled and a
command poll of a few seconds; its device page says commands are enabled, and by which file."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from fleetwatch_agent.config import load

from fleetwatch.inventory.models import Device
from fleetwatch.messaging import commands
from fleetwatch.monitoring import demo_agent

ROOT = Path(__file__).resolve().parents[2]


def test_one_device_for_this_machine_and_its_agent_configuration(orgs, tmp_path):
    org = orgs[0]
    device, path = demo_agent.prepare(org, "http://127.0.0.1:8000", tmp_path / "demo-agent")
    again, _ = demo_agent.prepare(org, "http://127.0.0.1:8000", tmp_path / "demo-agent")
    assert again.pk == device.pk
    assert Device.objects.filter(organization=org).count() == 1
    assert device.serial == demo_agent.machine_serial()
    config = load(path)
    assert (config.server, config.device_id, config.key) == (
        "http://127.0.0.1:8000",
        str(device.pk),
        device.key,
    )
    assert (config.commands, config.interval, config.channel) == (True, 60.0, "http")
    # the console answers within seconds: a fixed 3 s poll (a real agent: 90 s growing to 1 h)
    assert (config.poll_min, config.poll_max, config.poll_growth) == (3.0, 3.0, 1.0)
    assert config.state_dir == tmp_path / "demo-agent" / "state"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_agent.available() is True
    assert demo_agent.command(path)[1:] == ["-m", "fleetwatch_agent", "--config", str(path)]


def test_the_device_page_names_the_file_that_enabled_commands(
    client, alice, orgs, device_a, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    device, path = demo_agent.prepare(orgs[0], "http://127.0.0.1:8000", demo_agent.folder())
    assert path == tmp_path / "demo-agent" / "agent.toml"
    commands.http_answer(device, features="c", agent="fleetwatch-agent/0.1.0")  # the agent's poll
    client.force_login(alice)
    page = client.get(f"/devices/{device.pk}/").content.decode()
    assert (
        '<p class="commands-note enabled" id="commands-note">Remote commands are enabled on this device.</p>'
        in page
    )
    note = re.search(r'<p class="meta" id="commands-demo">(.*?)</p>', page).group(1)
    assert note == (
        f"Enabled for the demo by its agent configuration, <code>{path}</code> (<code>commands = true</code>), "
        "written by <code>fleetwatch serve --demo</code>; on a real machine its owner decides."
    )
    # docs/web.md quotes it as `make run` shows it
    docs = " ".join((ROOT / "docs" / "web.md").read_text().split())
    quoted = (
        note.replace(str(path), "var/demo-agent/agent.toml").replace("<code>", "`").replace("</code>", "`")
    )
    assert f'"{quoted}"' in docs
    # another device, or the file turning commands off, has no such line
    assert 'id="commands-demo"' not in client.get(f"/devices/{device_a.pk}/").content.decode()
    path.write_text(path.read_text().replace("commands = true", "commands = false"))
    assert demo_agent.commands_enabled_by(device) is None
    # `make run` serves from the checkout: the page shows var/demo-agent/agent.toml
    assert demo_agent.shown(Path.cwd() / "var" / "demo-agent" / "agent.toml") == "var/demo-agent/agent.toml"
    assert demo_agent.shown(path) == str(path)
    assert 'id="commands-demo"' not in client.get(f"/devices/{device.pk}/").content.decode()
