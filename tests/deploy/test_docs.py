"""The command blocks of docs/deploy-containers.md and docs/ci.md, run as written (with bash)."""

import os
import re
import subprocess

from tests.deploy.conftest import ENTRYPOINT, ROOT, fleetwatch_environment
from tests.deploy.test_compose import project

CONTAINERS = ROOT / "docs" / "deploy-containers.md"
CI = ROOT / "docs" / "ci.md"


def blocks(path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", path.read_text(), re.S)


def bash(script: str, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )


def test_the_docs_have_these_blocks():
    assert len(blocks(CONTAINERS)) == 3
    assert len(blocks(CI)) == 1


def test_the_compose_block_validates_the_example(tmp_path, docker_compose):
    """Run from the root of a copy of the repository's deploy files (the block starts with cd)."""
    project(tmp_path, None)
    (tmp_path / "deploy" / "compose" / ".env").unlink()  # the block makes it
    result = bash(blocks(CONTAINERS)[0], cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert (tmp_path / "deploy" / "compose" / ".env").read_text() == (
        ROOT / "deploy" / "compose" / ".env.example"
    ).read_text()


def test_the_first_user_block_runs_through_the_entry_point(tmp_path):
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "fleetwatch-entrypoint").symlink_to(ENTRYPOINT)
    env = fleetwatch_environment(tmp_path)
    env["PATH"] = f"{shims}:{env['PATH']}"
    assert bash("fleetwatch migrate --verbosity 0", cwd=tmp_path, env=env).returncode == 0
    result = bash(blocks(CONTAINERS)[1], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == ["id", "slug", "created", "username", "token"]
    assert lines[1:4] == ["slug: main", "created: 1", "username: admin"]
    assert re.fullmatch(r"token: [0-9a-f]{40}", lines[4]), lines


def test_the_image_block_builds_and_runs_the_image(tmp_path):
    """`tools.sh image`, then the entry point's ``urls`` role in a container of that image."""
    result = bash(blocks(CONTAINERS)[2], cwd=ROOT, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "localhost/fleetwatch:test",
        "FLEETWATCH_TIMESERIES=influxdb2://***@influxdb2:8086/fleetwatch?org=fleetwatch",
        "FLEETWATCH_DATABASE=",
        "FLEETWATCH_BROKER=",
        "FLEETWATCH_CHANNELS_BROKER_URL=",
        "FLEETWATCH_CHANNELS_BROKER_API_URL=",
    ]


def test_the_ci_block_prints_the_jobs_commands():
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("FLEETWATCH_TEST_BACKENDS", "FLEETWATCH_TEST_BROKERS", "FLEETWATCH_TEST_BACKUP_TOOLS")
    }
    result = bash(blocks(CI)[0], cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    narrow = 'FLEETWATCH_TEST_BACKENDS="postgresql" FLEETWATCH_TEST_BROKERS="filesystem" FLEETWATCH_TEST_BACKUP_TOOLS=""'
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "make venv",
        f'{narrow} bash scripts/test.sh -q -m "(backend)"',
        f"{narrow} bash scripts/openwisp/setup.sh",
        f"{narrow} bash scripts/openwisp/run.sh fleetwatch-postgresql",
    ]
    assert lines[4:7] == [
        "make venv",
        ".venv/bin/ruff check src tests bench scripts agent",
        ".venv/bin/ruff format --check src tests bench scripts agent",
    ]
    assert len(lines) == 10
