"""bench/charts.py end to end with tiny numbers (two days of data, two runs a page, on the
embedded SQLite default), so the chart bench cannot rot: both servers answer, their pages are
identical (the bench asserts it), and every figure is printed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from bench.server import free_port

from tests.bench import ROOT, bench_env


def test_a_tiny_chart_run_prints_both_timings():
    env = bench_env()
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "charts.py"),
            *("--days", "2", "--runs", "2"),
            "--raw-first",  # the path with two restarts (raw points, then rollups) on one data dir
            *("--port", str(free_port(range(19349, 19339, -1)))),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        out, err = process.communicate(timeout=480)
    except subprocess.TimeoutExpired:
        process.terminate()  # the bench stops its server on SIGTERM
        out, err = process.communicate(timeout=60)
        pytest.fail(f"bench/charts.py ran for more than 480 s:\n{out}{err[-3000:]}")
    assert process.returncode == 0, out + err[-3000:]
    written = re.search(
        r"^([\d,]+) points over 2 days written in [\d.]+ s .*; store: sqlite; timed first: (.+)$",
        out,
        re.M,
    )
    assert written, out
    assert int(written[1].replace(",", "")) > 2 * 288  # several fields a report, 576 reports
    assert written[2] == "raw points"
    page = re.search(
        r"^30d device page \((\d+) charts × 31 buckets\): rollups p50 [\d.]+ / p95 [\d.]+ ms; "
        r"raw points p50 [\d.]+ / p95 [\d.]+ ms; raw/rollups p95 ×[\d.]+",
        out,
        re.M,
    )
    assert page, out
    assert int(page[1]) >= 5
    assert "365d device page" not in out  # only with a year of data
