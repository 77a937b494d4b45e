"""The real ``fleetwatch`` command (a subprocess running this checkout's code) with bad and good
settings: one line naming the variable and exit status 2, never a traceback; the documented
production environment passes ``check --deploy --fail-level WARNING``; the examples of
docs/configuration.md and docs/operations.md, run as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NO_ISSUES = "System check identified no issues (0 silenced).\n"


def run(args, tmp_path, env=None, module=("-m", "fleetwatch.cli")):
    """``fleetwatch <args>`` in ``tmp_path`` with only ``env`` set (no FLEETWATCH_* of ours)."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT / "src"),
        "HOME": str(tmp_path),
        "FLEETWATCH_DATA_DIR": str(tmp_path / "var"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, *module, *args], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120
    )


def doc_block(path: Path, heading: str, index: int = 0) -> str:
    """The ``index``-th fenced block under ``heading`` (``# Title`` or ``## Section``), up to the
    next ``## `` heading, of a docs page."""
    section = ("\n" + path.read_text()).split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\w*\n(.*?)```", section, re.S)[index]


def env_lines(block: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in block.splitlines() if line and not line.startswith("#"))


CHECK_INTERVAL_ERROR = (
    "fleetwatch: configuration error: FLEETWATCH_CHECK_INTERVAL must be a number of seconds, "
    "e.g. 300 for five minutes, not '5m'\n"
)


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--bind", "127.0.0.1:8139"],
        ["worker"],
        ["migrate"],
        ["check"],
        ["createsuperuser"],
        ["help"],
    ],
)
def test_every_command_stops_on_a_bad_setting_with_one_line(tmp_path, command):
    done = run(command, tmp_path, {"FLEETWATCH_CHECK_INTERVAL": "5m"})
    assert (done.returncode, done.stdout, done.stderr) == (2, "", CHECK_INTERVAL_ERROR)


def test_the_documented_example_of_a_bad_value(tmp_path):
    example = doc_block(DOCS / "configuration.md", "# Configuration").splitlines()
    assert example[0] == "$ FLEETWATCH_CHECK_INTERVAL=5m fleetwatch serve"
    done = run(["serve"], tmp_path, {"FLEETWATCH_CHECK_INTERVAL": "5m"})
    assert (done.returncode, done.stderr) == (2, example[1] + "\n")
    assert done.stderr == CHECK_INTERVAL_ERROR


def test_durations_are_seconds(tmp_path):
    done = run(
        [
            "shell",
            "--verbosity",
            "0",
            "-c",
            "from django.conf import settings; print(settings.CHECK_INTERVAL_SECONDS)",
        ],
        tmp_path,
        {"FLEETWATCH_CHECK_INTERVAL": "300"},
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "300.0\n", "")


def test_the_wsgi_module_stops_gunicorn_with_one_line(tmp_path):
    # 3 is gunicorn's "worker failed to boot": it stops instead of restarting the worker.
    done = run([], tmp_path, {"FLEETWATCH_BROKER": "sqs://queue"}, module=("-c", "import fleetwatch.wsgi"))
    assert done.returncode == 3
    assert done.stderr == (
        "fleetwatch: configuration error: FLEETWATCH_BROKER must be a URL starting with filesystem://, "
        "amqp://, amqps://, pyamqp://, redis://, rediss://, not 'sqs://queue'\n"
    )


def test_gunicorn_stops_at_once_on_a_bad_setting(tmp_path):
    done = run(
        [
            "fleetwatch.wsgi:application",
            "--bind",
            "127.0.0.1:8138",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        tmp_path,
        {"FLEETWATCH_LOG_LEVEL": "loud"},
        module=("-m", "gunicorn"),
    )
    assert done.returncode == 3
    assert done.stderr.count("\n") == 4, done.stderr  # the line, then gunicorn's three (no restart)
    assert done.stderr.startswith(
        "fleetwatch: configuration error: FLEETWATCH_LOG_LEVEL must be one of DEBUG, INFO, WARNING, "
        "ERROR, CRITICAL, not 'loud'\n"
    )
    assert done.stderr.endswith("Reason: Worker failed to boot.\n")
    assert "Traceback" not in done.stderr


def test_serve_runs_the_system_checks_before_it_starts(tmp_path):
    done = run(
        ["serve", "--bind", "127.0.0.1:8139"],
        tmp_path,
        {"FLEETWATCH_EMAIL_TLS": "true", "FLEETWATCH_EMAIL_SSL": "true"},
    )
    assert done.returncode == 2
    assert "(fleetwatch.E005) FLEETWATCH_EMAIL_TLS and FLEETWATCH_EMAIL_SSL are both on" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var" / "fleetwatch.sqlite3").exists()  # not even migrated


def test_the_worker_does_not_start_without_its_brokers_package(tmp_path):
    done = run(["worker"], tmp_path, {"FLEETWATCH_BROKER": "redis://127.0.0.1:6379/0"})
    assert done.returncode == 2
    assert "(fleetwatch.E004) The redis:// broker needs the redis package" in done.stderr


PRODUCTION = env_lines(doc_block(DOCS / "operations.md", "## Production settings"))


def test_the_documented_production_settings_pass_the_deploy_checks(tmp_path):
    assert PRODUCTION["FLEETWATCH_BASE_URL"] == "https://fleetwatch.example.org"  # the block parsed
    assert doc_block(DOCS / "operations.md", "## Production settings", 1).splitlines()[0] == (
        "fleetwatch check --deploy --fail-level WARNING"
    )
    done = run(["check", "--deploy", "--fail-level", "WARNING"], tmp_path, PRODUCTION)
    assert (done.returncode, done.stdout, done.stderr) == (0, NO_ISSUES, "")


def test_without_them_the_deploy_checks_fail(tmp_path):
    done = run(["check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert done.returncode == 1
    found = re.findall(r"\((\w+\.\w+)\)", done.stderr)
    assert found == [
        "fleetwatch.W010",
        "security.W004",
        "security.W008",
        "security.W012",
        "security.W016",
    ]


def test_the_documented_silencing_of_the_hsts_warnings(tmp_path):
    env = {
        name: value
        for name, value in PRODUCTION.items()
        if name not in ("FLEETWATCH_HSTS_INCLUDE_SUBDOMAINS", "FLEETWATCH_HSTS_PRELOAD")
    }
    warned = run(["check", "--deploy", "--fail-level", "WARNING"], tmp_path, env)
    assert warned.returncode == 1
    assert re.findall(r"\((\w+\.\w+)\)", warned.stderr) == ["security.W005", "security.W021"]
    text = (DOCS / "operations.md").read_text()
    assert "`FLEETWATCH_SILENCED_CHECKS=security.W005,security.W021`" in text
    env["FLEETWATCH_SILENCED_CHECKS"] = "security.W005,security.W021"
    done = run(["check", "--deploy", "--fail-level", "WARNING"], tmp_path, env)
    assert (done.returncode, done.stdout) == (0, "System check identified no issues (2 silenced).\n")


def test_check_connect_on_the_embedded_stack(tmp_path):
    done = run(["check", "--connect"], tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, NO_ISSUES, "")


def test_check_connect_reports_servers_that_do_not_answer(tmp_path):
    done = run(
        ["check", "--connect"],
        tmp_path,
        {
            "FLEETWATCH_TIMESERIES": "postgresql://fleetwatch:secret@127.0.0.1:1/fleetwatch",
            "FLEETWATCH_BROKER": "amqp://fleetwatch:secret@127.0.0.1:1/fleetwatch",
        },
    )
    assert done.returncode == 1
    assert re.findall(r"\((\w+\.\w+)\)", done.stderr) == ["fleetwatch.E011", "fleetwatch.E012"]
    # Without --connect no server is asked.
    offline = run(["check"], tmp_path, {"FLEETWATCH_TIMESERIES": "postgresql://fleetwatch@127.0.0.1:1/x"})
    assert (offline.returncode, offline.stdout) == (0, NO_ISSUES)
