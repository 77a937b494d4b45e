"""bench/lineprotocol.py with tiny numbers, so it cannot rot: a live server takes the batches
(any refusal fails the bench), and the figures are printed in their order."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.bench import ROOT, bench_env


def test_a_tiny_run_prints_both_rates_and_their_ratio():
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "lineprotocol.py"),
            "--batches",
            "2",
            "--lines",
            "200",
            "--gzip",
        ],
        capture_output=True,
        text=True,
        env=bench_env(),
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == (
        "line protocol: 2 batches of 200 lines (3.9 fields a line), 10 hosts, 2 connections, SQLite, gzip"
    )
    assert re.fullmatch(r"/api/v2/write: [\d,]+ points/s \([\d,]+ field values/s\)", lines[1])
    assert re.fullmatch(
        r"Backend\.write: [\d,]+ points/s \(the same points, parsed and mapped beforehand\)", lines[2]
    )
    assert re.fullmatch(r"ratio: \d+\.\d\d", lines[3])
    assert re.fullmatch(
        r"CPU per 1,000 points: server [\d.]+ ms \(all processes\), Backend\.write [\d.]+ ms; ratio \d+\.\d\d",
        lines[4],
    )
    assert re.fullmatch(r"request latency p50 \d+ ms, p95 \d+ ms", lines[5])
    assert len(lines) == 6
