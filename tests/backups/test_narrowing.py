"""FLEETWATCH_TEST_BACKUP_TOOLS: which servers the backup tools are tested against.

Unset means all; a list narrows on purpose and the tests needing a server left out are deselected
(never skipped); "" deselects them all. Checked on a real collection of test_services.py, in a
child pytest (collection only: no server is needed).
"""

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.backups.conftest import requested_backup_tools

ROOT = Path(__file__).resolve().parents[2]
SERVICES = "tests/backups/test_services.py"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ["mariadb", "postgresql"]),
        ("", []),
        (" , ", []),
        ("postgresql", ["postgresql"]),
        (" mariadb ,postgresql,", ["mariadb", "postgresql"]),
    ],
)
def test_the_variable_names_the_servers(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("FLEETWATCH_TEST_BACKUP_TOOLS", raising=False)
    else:
        monkeypatch.setenv("FLEETWATCH_TEST_BACKUP_TOOLS", value)
    assert requested_backup_tools() == expected


def test_an_unknown_server_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("FLEETWATCH_TEST_BACKUP_TOOLS", "mariadb,oracle")
    with pytest.raises(pytest.UsageError, match=r"unknown servers: \['oracle'\]"):
        requested_backup_tools()


@cache  # a child pytest takes about 2 s: each setting is collected once
def collect(tools: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_TEST_")}
    if tools is not None:
        env["FLEETWATCH_TEST_BACKUP_TOOLS"] = tools
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", SERVICES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def collected(done: subprocess.CompletedProcess) -> set[str]:
    return {line.split("::", 1)[1] for line in done.stdout.splitlines() if line.startswith(SERVICES + "::")}


def test_postgresql_alone_deselects_the_mariadb_tests():
    everything = collect(None)
    narrowed = collect("postgresql")

    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert narrowed.returncode == 0, narrowed.stdout + narrowed.stderr
    assert collected(narrowed) == {
        "test_pg_dump_holds_the_tables_and_every_row",
        "test_pg_dump_with_a_wrong_password_is_refused",
        "test_a_throwaway_database_is_dropped_after_the_block[postgresql]",
    }
    deselected = len(collected(everything)) - 3
    assert f"3/{len(collected(everything))} tests collected ({deselected} deselected)" in narrowed.stdout


def test_an_empty_list_deselects_every_test_that_needs_a_server():
    everything = collect(None)
    narrowed = collect("")

    assert collected(narrowed) == set()
    assert f"no tests collected ({len(collected(everything))} deselected)" in narrowed.stdout
    assert narrowed.returncode == 5  # pytest's "no tests": the narrowed run selected none here
