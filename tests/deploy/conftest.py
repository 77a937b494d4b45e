"""Helpers of the deployment tests: the tools scripts/deploy/tools.sh installs (a tool that cannot
be had fails the test that needs it, with the script's reason), a free loopback port, and a
Fleetwatch web process started through the image's entry point on this machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "scripts" / "deploy" / "tools.sh"
ENTRYPOINT = ROOT / "deploy" / "container" / "entrypoint.sh"
HEALTHCHECK = ROOT / "deploy" / "container" / "healthcheck.py"
COMPOSE_DIR = ROOT / "deploy" / "compose"


def install(tool: str, timeout: int = 1800) -> str:
    """``scripts/deploy/tools.sh <tool>``: the tool's path (or image name), its last line of output.
    Fails the calling test with the script's last lines when it cannot be installed."""
    result = subprocess.run(["bash", str(TOOLS), tool], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        pytest.fail(
            f"scripts/deploy/tools.sh {tool} failed (exit {result.returncode}):\n{tail}", pytrace=False
        )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def docker_compose() -> str:
    return install("compose")


@pytest.fixture(scope="session")
def actionlint() -> str:
    return install("actionlint")


@pytest.fixture(scope="session")
def hadolint() -> str:
    return install("hadolint")


def podman_environment() -> dict[str, str]:
    """The environment podman runs with: the cache's storage.conf and containers.conf."""
    result = subprocess.run(
        ["bash", "-c", f"source {TOOLS} && env -0"], capture_output=True, text=True, check=True, timeout=60
    )
    return dict(entry.split("=", 1) for entry in result.stdout.split("\0") if "=" in entry)


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fleetwatch_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment for this checkout's ``fleetwatch``: the venv's bin first on PATH (the
    image has its own there), no FLEETWATCH_* of the caller, a data directory in ``tmp_path``."""
    keep = {name: value for name, value in os.environ.items() if not name.startswith("FLEETWATCH_")}
    return {
        **keep,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(ROOT / "src"),
        "HOME": str(tmp_path),
        "FLEETWATCH_DATA_DIR": str(tmp_path / "var"),
        **extra,
    }


def health(port: int) -> tuple[int, bytes]:
    """``GET /api/v1/health/`` on 127.0.0.1:port: (status, body); (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def wait_for_answer(port: int, process: subprocess.Popen | None = None, seconds: float = 120) -> int:
    """Poll the health endpoint until it answers at all (any status); the status. Fails when the
    process exits first or nothing answers in time (start-up: migrations, static files)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, _ = health(port)
        if status:
            return status
        if process is not None and process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before answering", pytrace=False)
        time.sleep(0.5)
    pytest.fail(f"nothing answered on 127.0.0.1:{port} within {seconds} s", pytrace=False)


def stop(process: subprocess.Popen) -> None:
    """Terminate a started server (its process group: gunicorn and its workers) and wait."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
