"""The Ansible role of deploy/ansible/, run for real on this machine (``connection: local``).

For each of the SQLite and PostgreSQL variants (those named in ``FLEETWATCH_TEST_BACKENDS``), the
example playbook and inventory deploy Fleetwatch into a temporary root with the process fallback
(no systemd as PID 1 here): the health endpoint answers 200, a second run reports ``changed=0``,
and the units the role wrote pass ``systemd-analyze verify``. ansible-lint passes on the role.
The commands and the extra variables are read from docs/deploy-ansible.md, so the page shows what
runs here. Everything the play starts is stopped by PID at the end; Ansible itself comes from
``scripts/services/ansible.sh`` (a cached virtualenv outside the repository).
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "ansible"
DOC = ROOT / "docs" / "deploy-ansible.md"
VARIANTS = ("sqlite", "postgresql")
# Left out of the copy of the checkout the role installs from (caches, servers' data, builds).
NOT_SOURCE = (".git", ".venv", ".services", "var", "build", "dist", "__pycache__", "*.egg-info", "*.pyc")
NOT_SOURCE += (".pytest_cache", ".ruff_cache")


def requested_variants() -> list[str]:
    raw = os.environ.get("FLEETWATCH_TEST_BACKENDS", "").strip()
    names = [n.strip() for n in raw.split(",") if n.strip()] if raw else list(VARIANTS)
    return [name for name in VARIANTS if name in names]


def doc_block(marker: str) -> str:
    """The fenced block of docs/deploy-ansible.md whose first line is ``marker``."""
    blocks = re.findall(r"```\w*\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    found = [block for block in blocks if block.startswith(marker + "\n")]
    assert len(found) == 1, f"docs/deploy-ansible.md: one block starting {marker!r}, found {len(found)}"
    return found[0]


def doc_commands() -> list[list[str]]:
    """The commands of the page's "how the test runs it" block, one argv each (comments dropped)."""
    lines = doc_block("# in deploy/ansible/, as root").splitlines()[1:]
    return [shlex.split(line, comments=True) for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def ansible_bin() -> Path:
    """The bin directory of the Ansible virtualenv (installed the first time, then cached)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "services" / "ansible.sh"), "bin-dir"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/services/ansible.sh failed:\n{done.stderr}", pytrace=False)
    return Path(done.stdout.strip().splitlines()[-1])


def ansible_env(ansible_bin: Path, root: Path) -> dict[str, str]:
    # Ansible's own temporary files and settings stay under the temporary root too.
    env = dict(
        os.environ, PATH=f"{ansible_bin}{os.pathsep}{os.environ['PATH']}", ANSIBLE_NOCOLOR="1", NO_COLOR="1"
    )
    env.update(
        ANSIBLE_HOME=str(root / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(root / "ansible-tmp"),
        ANSIBLE_REMOTE_TEMP=str(root / "ansible-tmp"),
        XDG_CACHE_HOME=str(root / "cache"),
    )
    for name in ("FLEETWATCH_DATA_DIR", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)  # the deployed Fleetwatch must not see the suite's own settings
    return env


def wait_gone(pid: int, timeout: float) -> bool:
    """True when the process ended within ``timeout`` seconds (a pidfd becomes readable at exit)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def processes_in_groups(groups: set[int]) -> list[int]:
    """Live processes of these process groups (zombies left out: they have ended, and this
    machine's PID 1 reaps orphans late)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in "ZX" and os.getpgid(int(entry.name)) in groups:
                    found.append(int(entry.name))
            except (ProcessLookupError, FileNotFoundError):
                pass
    return found


def stop_started(root: Path) -> list[str]:
    """Stop, by PID, what the play started under ``root``: the web process and the worker (pid
    files of the process fallback), then the PostgreSQL cluster. Returns what had to be killed
    because it outlived its main process (a leak the test reports)."""
    leaks = []
    targets = [(int(p.read_text()), signal.SIGTERM) for p in sorted((root / "run").glob("*.pid"))]
    postmaster = root / "postgresql" / "postmaster.pid"
    if postmaster.exists():
        # SIGINT: PostgreSQL's fast shutdown.
        targets.append((int(postmaster.read_text().splitlines()[0]), signal.SIGINT))
    groups = set()
    for pid, signum in targets:
        try:
            groups.add(os.getpgid(pid))
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
        if not wait_gone(pid, 60):
            os.kill(pid, signal.SIGKILL)
            leaks.append(f"pid {pid} ignored signal {signum.name} for 60 s")
            wait_gone(pid, 10)
    # Children (gunicorn's workers, Celery's pool) end with their parent; anything left is a leak.
    for pid in processes_in_groups(groups):
        leaks.append(f"pid {pid} outlived its server: {Path(f'/proc/{pid}/cmdline').read_bytes()!r}")
        os.kill(pid, signal.SIGKILL)
    return leaks


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def recap(output: str) -> dict[str, int]:
    match = re.search(r"^localhost\s+:\s+(.*)$", output, flags=re.M)
    assert match, output[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def run(argv: list[str], env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=DEPLOY, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_page_shows_the_commands_this_test_runs():
    commands = doc_commands()
    assert [c[:4] for c in commands] == [
        ["ansible-playbook", "-i", "inventory.yml", "playbook.yml"],
        ["ansible-playbook", "-i", "inventory.yml", "playbook.yml"],
        ["ansible-lint", "--offline", "playbook.yml", "postgresql.yml"],
    ]
    assert commands[1][4:6] == ["-e", "@postgresql.yml"]
    assert doc_block("# $ROOT/test-vars.yml").count("$ROOT/") == 8
    # The example files appear on the page exactly as they are.
    for name in ("playbook.yml", "inventory.yml", "postgresql.yml"):
        assert doc_block("---\n" + (DEPLOY / name).read_text(encoding="utf-8").split("\n", 2)[1]) == (
            DEPLOY / name
        ).read_text(encoding="utf-8")


def test_ansible_lint_passes(ansible_bin, tmp_path):
    lint = doc_commands()[2]
    done = run(lint, ansible_env(ansible_bin, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed: 0 failure(s), 0 warning(s)" in done.stdout + done.stderr


@pytest.mark.parametrize("variant", requested_variants())
def test_role_deploys_idempotently(variant, ansible_bin):
    playbook = doc_commands()[VARIANTS.index(variant)]
    # Reasons to fail, not to skip: the role installs Debian packages and switches users.
    assert os.geteuid() == 0, "the role's test runs as root (apt, runuser, PostgreSQL's own user)"
    assert shutil.which("systemd-analyze"), "systemd-analyze (Debian's systemd package) is needed"
    # A root the PostgreSQL user can traverse (pytest's tmp_path is private to root).
    root = Path(tempfile.mkdtemp(prefix="fleetwatch-ansible-"))
    root.chmod(0o755)
    try:
        shutil.copytree(ROOT, root / "source", ignore=shutil.ignore_patterns(*NOT_SOURCE))
        test_vars = doc_block("# $ROOT/test-vars.yml").replace("$ROOT", str(root))
        (root / "test-vars.yml").write_text(test_vars, encoding="utf-8")
        ports = [int(p) for p in re.findall(r"_port: (\d+)", test_vars)]
        assert ports == [18820, 18821]
        taken = [p for p in ports if not port_free(p)]
        assert not taken, f"127.0.0.1:{taken} already in use: the deployment needs them"
        argv = [arg.replace("$ROOT", str(root)) for arg in playbook]
        env = ansible_env(ansible_bin, root)

        first = run(argv, env)
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
        assert recap(first.stdout)["failed"] == 0
        with urllib.request.urlopen("http://127.0.0.1:18820/api/v1/health/", timeout=10) as response:
            assert response.status == 200
            assert json.load(response) == {
                "status": "ok",
                "timeseries": {"backend": variant, "reachable": True},
            }

        second = run(argv, env)
        assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
        counts = recap(second.stdout)
        assert (counts["changed"], counts["failed"]) == (0, 0), second.stdout[-6000:]

        environment = (root / "etc" / "fleetwatch.env").read_text(encoding="utf-8")
        scheme = {"sqlite": "sqlite:////", "postgresql": "postgresql://fleetwatch:change-me@127.0.0.1:18821/"}
        assert f"FLEETWATCH_TIMESERIES='{scheme[variant]}" in environment
        assert f"FLEETWATCH_DATABASE='{scheme[variant]}" in environment
        assert "FLEETWATCH_USAGE_METRICS='true'" in environment

        units = sorted(p.name for p in (root / "units").glob("*.service"))
        expected = ["fleetwatch-web.service", "fleetwatch-worker.service"]
        assert units == sorted(
            expected + (["fleetwatch-postgresql.service"] if variant == "postgresql" else [])
        )
        verify = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", *units],
            cwd=root / "units",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    finally:
        leaks = stop_started(root)
        shutil.rmtree(root, ignore_errors=True)
    assert leaks == []
    assert port_free(18820)


def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path):
    """The units' check above can fail: the same command refuses a unit with a relative ExecStart."""
    (tmp_path / "broken.service").write_text(
        "[Service]\nExecStart=venv/bin/fleetwatch serve\n", encoding="utf-8"
    )
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "broken.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 1
    assert "Neither a valid executable name nor an absolute path: venv/bin/fleetwatch" in verify.stderr
