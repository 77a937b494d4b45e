"""The demo's real host (fleetwatch.monitoring.demo_agent): one device for this machine, found
again at the next start, and an agent configuration the agent accepts, commands enabled."""

from __future__ import annotations

import stat

from fleetwatch_agent.config import load

from fleetwatch.inventory.models import Device
from fleetwatch.monitoring import demo_agent


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
    assert config.state_dir == tmp_path / "demo-agent" / "state"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_agent.available() is True
    assert demo_agent.command(path)[1:] == ["-m", "fleetwatch_agent", "--config", str(path)]
