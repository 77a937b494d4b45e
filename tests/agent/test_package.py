"""The agent stays a package of its own: it runs on machines without the server, so no module
imports ``fleetwatch`` (or Django), and its third-party imports are its declared dependencies."""

from __future__ import annotations

import ast
import sys
import tomllib

from tests.agent.conftest import AGENT_SRC, ROOT

# Distribution → the top-level modules it provides.
PROVIDES = {"psutil": "psutil", "paho-mqtt": "paho", "pika": "pika"}


def imported_roots() -> dict[str, set[str]]:
    found = {}
    for path in (AGENT_SRC / "fleetwatch_agent").glob("*.py"):
        roots = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots.add(node.module.split(".")[0])
        found[path.name] = roots
    return found


def test_no_server_code_and_only_declared_dependencies():
    project = tomllib.loads((ROOT / "agent" / "pyproject.toml").read_text())["project"]
    declared = [d.split(">")[0].split("[")[0] for d in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        declared += [d.split(">")[0] for d in extra]
    allowed = (
        {PROVIDES[name] for name in declared}
        | set(sys.stdlib_module_names)
        | {"fleetwatch_agent", "__future__"}
    )
    roots = imported_roots()
    assert set(roots) >= {
        "config.py",
        "collect.py",
        "enroll.py",
        "queue.py",
        "http.py",
        "mqtt.py",
        "amqp.py",
        "commands.py",
        "main.py",
    }
    for name, modules in roots.items():
        assert "fleetwatch" not in modules, name
        assert modules <= allowed, (name, modules - allowed)
    assert project["name"] == "fleetwatch-agent"
    assert project["scripts"] == {"fleetwatch-agent": "fleetwatch_agent.main:main"}


def test_the_broker_clients_are_loaded_only_for_their_channel():
    roots = imported_roots()
    assert {name for name, modules in roots.items() if "paho" in modules} == {"mqtt.py"}
    assert {name for name, modules in roots.items() if "pika" in modules} == {"amqp.py"}
