"""The Dockerfile: hadolint finds nothing in it; podman builds it (on the Debian stand-in for the
official Python base, docs/deploy-containers.md says why) into an image that runs as a non-root
user, holds no compiler nor pip, and whose web container answers its own health check."""

import json
import subprocess
import uuid

import pytest

from fleetwatch import __version__
from tests.deploy.conftest import ROOT, free_port, health, install, podman_environment, wait_for_answer


def test_hadolint_finds_nothing(hadolint):
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_finds_a_bad_dockerfile(hadolint, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:latest\nUSER root\n")
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "Dockerfile:1 DL3007 warning: Using latest is prone to errors if the image will ever update. "
        "Pin the version explicitly to a release tag",
        "Dockerfile:2 DL3002 warning: Last USER should not be root",
        "Dockerfile:2 DL3066 info: Non-numeric user-id may not be resolvable by host system",
    ]


@pytest.fixture(scope="module")
def image():
    """The image, built (or found in podman's layer cache) by scripts/deploy/tools.sh image."""
    return install("image", timeout=3600)


@pytest.fixture(scope="module")
def podman():
    path = install("podman")
    env = podman_environment()

    def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run([path, *args], env=env, capture_output=True, text=True, timeout=timeout)

    return run


def test_the_image_runs_as_a_user_and_answers_health_on_port_8000(podman, image):
    result = podman("image", "inspect", image)
    assert result.returncode == 0, result.stderr
    (inspected,) = json.loads(result.stdout)
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["fleetwatch-entrypoint"]
    assert config["Cmd"] == ["web"]
    assert config["ExposedPorts"] == {"8000/tcp": {}}
    assert config["WorkingDir"] == "/var/lib/fleetwatch"
    assert inspected["Healthcheck"] == {
        "Test": ["CMD", "fleetwatch-healthcheck"],
        "Interval": 30_000_000_000,
        "Timeout": 10_000_000_000,
        "StartPeriod": 120_000_000_000,
        "Retries": 3,
    }
    env = dict(entry.split("=", 1) for entry in config["Env"])
    assert env["FLEETWATCH_DATA_DIR"] == "/var/lib/fleetwatch"
    assert env["FLEETWATCH_BIND"] == "0.0.0.0:8000"
    assert env["PATH"].startswith("/opt/fleetwatch/bin:")


# A one-off container: no network, and no health check (podman would schedule it with systemd
# timers, and there is no systemd here).
RUN = ("run", "--rm", "--network", "none", "--health-cmd", "none")

PROBE = """
id -u; id -g
for tool in gcc cc c++ make pip pip3 git; do command -v "$tool" || true; done
for python in /opt/fleetwatch/bin/python /usr/bin/python3 /usr/local/bin/python3; do
    [ -x "$python" ] && "$python" -c 'import importlib.util as u, sys
print(sys.executable, [m for m in ("pip", "setuptools", "wheel") if u.find_spec(m)])'
done
fleetwatch version
"""


def test_the_image_has_no_build_tools_and_runs_as_uid_10001(podman, image):
    result = podman(*RUN, "--entrypoint", "/bin/sh", image, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["10001", "10001"]
    # No compiler, make, pip or git; no pip, setuptools or wheel importable by any Python there.
    assert lines[2:-1] == [f"{python} []" for python in ("/opt/fleetwatch/bin/python", "/usr/bin/python3")]
    assert lines[-1] == __version__  # the installed package is this checkout's, not a placeholder


def test_the_web_container_serves_and_passes_its_health_check(podman, image):
    port = free_port()
    name = f"fleetwatch-test-{uuid.uuid4().hex[:8]}"
    started = podman(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        "-e",
        f"FLEETWATCH_BIND=127.0.0.1:{port}",
        "-e",
        "FLEETWATCH_WORKERS=1",
        image,
    )
    assert started.returncode == 0, started.stderr
    try:
        assert wait_for_answer(port, seconds=180) == 200
        assert health(port) == (200, b'{"status":"ok","timeseries":{"backend":"sqlite","reachable":true}}')
        check = podman("healthcheck", "run", name)
        assert (check.returncode, check.stderr) == (0, ""), check.stdout
        state = podman("inspect", "--format", "{{.State.Health.Status}}", name)
        assert state.stdout.strip() == "healthy"
        user = podman("exec", name, "id", "-u")
        assert user.stdout == "10001\n"
    finally:
        logs = podman("logs", name)
        podman("rm", "--force", "--time", "10", name)
    assert "Traceback" not in logs.stderr + logs.stdout
