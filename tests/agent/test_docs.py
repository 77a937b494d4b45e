"""docs/agent.md, run: the example configuration parses to what it says, the table names every
key, the systemd unit's command line is the agent's, and ``--print`` prints a valid report."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

from fleetwatch_agent.config import Config, parse
from fleetwatch_agent.main import parse_args

from fleetwatch.ingest.netjson import validate
from tests.agent.conftest import ROOT, agent_env

DOC = (ROOT / "docs" / "agent.md").read_text()


def block(language: str) -> str:
    [found] = re.findall(rf"```{language}\n(.*?)```", DOC, re.S)
    return found


def test_the_example_configuration():
    config = parse(block("toml"))
    assert config.server == "https://fleet.example.org"
    assert (config.token, config.serial, config.name) == (
        "fwe_3kQ9xW1bE7rT0yU2iO4pA6sD8fG",
        "SG-1234RPI4ABCD",
        "station-7",
    )
    assert (config.channel, config.interval, config.queue_size, config.commands) == (
        "mqtt",
        300.0,
        1000,
        True,
    )
    assert config.state_dir == Path("/var/lib/fleetwatch-agent")
    assert (config.logs, config.services) == (["/var/log/syslog"], ["caddy"])
    assert config.skip_interfaces == ["lo", "veth*", "docker*"]
    example_keys = set(re.findall(r"^#? ?(\w+) = ", block("toml"), re.M))
    assert example_keys == {f.name for f in dataclasses.fields(Config)}


def test_the_table_names_every_key_with_its_default():
    rows = re.findall(r"^\| (`[^|]+`) \| ([^|]+) \|", DOC, re.M)
    documented = {}
    for keys, default in rows:
        for key in re.findall(r"`(\w+)`", keys):
            documented[key] = default.strip()
    fields = {f.name for f in dataclasses.fields(Config)}
    assert fields <= set(documented)
    defaults = Config(server="http://x")
    for name in ("channel", "interval", "queue_size", "timeout", "command_timeout", "poll_offline"):
        shown = documented[name].strip("`")
        assert shown == (str(getattr(defaults, name)).removesuffix(".0")), name
    assert documented["commands"] == "`false`"
    assert defaults.commands is False


def test_the_systemd_unit_runs_the_agent_with_the_file():
    [line] = re.findall(r"^ExecStart=(.*)$", block("ini"), re.M)
    program, *args = line.split()
    assert program.endswith("/bin/fleetwatch-agent")
    assert parse_args(args).config == Path("/etc/fleetwatch-agent.toml")


def test_print_shows_the_report():
    result = subprocess.run(
        [sys.executable, "-m", "fleetwatch_agent", "--print"],
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    dropped = []
    validate(json.loads(result.stdout), dropped)
    assert dropped == []
