"""bench/rollup_writes.py with tiny numbers on every backend of the run, so it cannot rot: it
prints both kinds of writes, and a seal exactly where the backend seals rollups."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.bench import ROOT, bench_env
from tests.timeseries.conftest import requested_backends


@pytest.mark.parametrize("name", requested_backends())
def test_a_tiny_run_prints_live_late_and_the_seal(name):
    url = [] if name == "sqlite" else ["--timeseries", _url(name)]
    env = bench_env()
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rollup_writes.py"), "--devices", "2", "--reports", "4", *url],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].endswith("4 reports of 9 points each, 2 devices")
    assert [line.split()[0] for line in lines[2:4]] == ["live", "late"]
    sealing = name in ("influxdb", "influxdb2")
    assert lines[-1].startswith("seal of the live reports' hours: ") is sealing
    assert (lines[-1] == "this backend keeps rollups on every write: no seal") is not sealing


def _url(name: str) -> str:
    url = os.environ.get(f"FLEETWATCH_TEST_{name.upper()}_URL")
    if not url:
        pytest.fail(f"FLEETWATCH_TEST_{name.upper()}_URL is not set: run `make test`", pytrace=False)
    return url + ("&" if "?" in url else "?") + "schema=fleetwatch_test_bench_rollups"
