"""Helpers of the agent's end-to-end tests: a real Fleetwatch (gunicorn, bench/server.py) on a
port of the agent's range, and the agent as a subprocess (``python -m fleetwatch_agent``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bench.server import Server, free_port

from fleetwatch.timeseries import ReadQuery, load_backend
from tests.agent.conftest import agent_env

# Live servers of these tests (the helpers' port plan: 18750-18799 for the agent's).
PORTS = range(18750, 18800)


class LiveFleetwatch(Server):
    """A throwaway Fleetwatch on SQLite files, one worker."""

    def __init__(self, ports=PORTS):
        super().__init__(port=free_port(ports), workers=1, threads=4, log="gunicorn.log")
        for name in ("FLEETWATCH_TIMESERIES", "FLEETWATCH_DATABASE"):
            self.env.pop(name, None)
        self.dir = Path(self.dir)

    def device(self, n: int) -> dict:
        """A new organization and device: ``{"id", "key"}``."""
        self.manage("org", "create", "--name", f"Org {n}", "--slug", f"org-{n}")
        lines = self.manage("device", "create", "--org", f"org-{n}", "--name", f"host-{n}")
        fields = dict(line.split(": ", 1) for line in lines.strip().splitlines())
        return {"id": fields["id"], "key": fields["key"]}

    def shell(self, code: str) -> str:
        """``code`` run by ``fleetwatch shell`` on the server's database; its last line of output."""
        out = self.manage("shell", "-c", code).strip()
        return out.splitlines()[-1] if out else ""

    def read(self, measurement: str, device: dict, **tags) -> list:
        backend = load_backend({"BACKEND": "sqlite", "NAME": str(self.dir / "timeseries.sqlite3")})
        try:
            return backend.read(ReadQuery(measurement, tags={"object_id": device["id"], **tags}))
        finally:
            backend.close()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def write_config(path: Path, **values) -> Path:
    """A TOML file of ``values`` (strings, numbers, booleans, lists of strings)."""

    def toml(value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + ", ".join(toml(v) for v in value) + "]"
        if isinstance(value, int | float):
            return repr(value)
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    path.write_text("".join(f"{key} = {toml(value)}\n" for key, value in values.items()))
    return path


def run_agent(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m fleetwatch_agent -c config [args]`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "fleetwatch_agent", "-c", str(config), *args],
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_agent(config: Path, *args: str) -> subprocess.Popen:
    """The agent's loop as a subprocess (stderr piped, line by line)."""
    return subprocess.Popen(
        [sys.executable, "-m", "fleetwatch_agent", "-c", str(config), "-v", *args],
        env=agent_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def wait_for_line(process: subprocess.Popen, text: str, limit: int = 500) -> list[str]:
    """Read the agent's log until a line holding ``text``; the lines read. AssertionError if the
    process ends or ``limit`` lines pass first."""
    lines = []
    for _ in range(limit):
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"the agent ended before logging {text!r}:\n" + "".join(lines))
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not logged in {limit} lines:\n" + "".join(lines))
