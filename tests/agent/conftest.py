"""The host agent's tests (agent/, package ``fleetwatch_agent``).

The agent is its own package: `make` installs it into the venv (``pip install -e ./agent``), and
this file puts ``agent/src`` first on ``sys.path`` as well, so the tests use this checkout's
agent however the venv was made. Subprocesses get the same through :func:`agent_env`.

Broker tests (marker ``agent_broker``) talk to the real RabbitMQ: they run when ``amqp`` is in
``FLEETWATCH_TEST_BROKERS`` (default ``filesystem,amqp``) and are deselected otherwise, as
tests/messaging's are; with it, a missing URL variable or a broker that does not answer fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENT_SRC = ROOT / "agent" / "src"
if str(AGENT_SRC) not in sys.path:
    sys.path.insert(0, str(AGENT_SRC))


def agent_env(**extra: str) -> dict:
    """The environment of an agent subprocess: this checkout's agent and server code first."""
    path = [str(AGENT_SRC), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p), **extra}


def amqp_requested() -> bool:
    raw = os.environ.get("FLEETWATCH_TEST_BROKERS", "filesystem,amqp")
    return "amqp" in [b.strip() for b in raw.split(",")]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "agent_broker: the agent against the real RabbitMQ (FLEETWATCH_TEST_BROKERS has amqp)"
    )


def pytest_collection_modifyitems(config, items):
    if amqp_requested():
        return
    kept = [item for item in items if not item.get_closest_marker("agent_broker")]
    deselected = [item for item in items if item.get_closest_marker("agent_broker")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
