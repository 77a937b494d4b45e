"""bench/scale.py end to end with tiny numbers (20 devices reporting every 2 s for 3 s on the
embedded SQLite default), so the scale run cannot rot: a live server and worker, every report
answered 200, the chart probes answered, evaluation drained, every figure printed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from bench.server import free_port

from tests.bench import ROOT, bench_env


def test_a_tiny_scale_run_prints_every_figure():
    # one pass a second, so evaluation drains within the run's few seconds
    env = bench_env(FLEETWATCH_ALERT_EVALUATION_INTERVAL="1")
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "scale.py"),
            *("--devices", "20", "--interval", "2", "--duration", "3", "--warmup", "0.5"),
            *("--history-days", "1", "--sample-every", "0.5", "--chart-every", "0.3"),
            *("--drain-cap", "20", "--finish-cap", "10", "--connections", "4"),
            # from the top of the range: a full-size run started by hand takes the bottom
            *("--port", str(free_port(range(19199, 19149, -1)))),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        out, err = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.terminate()  # the bench stops its server and worker on SIGTERM
        out, err = process.communicate(timeout=120)
        pytest.fail(f"bench/scale.py ran for more than 240 s:\n{out}{err[-3000:]}")
    assert process.returncode == 0, out + err[-3000:]
    assert "set-up: 20 devices registered and primed" in out
    answered = re.search(r"(\d+) of (\d+) due in it answered, 0 unanswered", out)
    assert answered
    assert answered[1] == answered[2]
    assert int(answered[1]) in (29, 30, 31)  # 10 reports/s for 3 s (the window's edges are floats)
    assert f"status codes: {{200: {answered[1]}}}; warm-up: {{200: " in out
    assert "NOT 200" not in out
    assert "reports/s: offered 10.0," in out
    for name in ("device 30 d", "device 365 d", "dashboard 7 d"):
        timings = re.search(
            rf"{name} chart API under load: p50 [\d.]+ ms  p95 [\d.]+ ms  \((\d+) requests; "
            r"last answer: (\d+|\?) charts, ([\d,]+) numbers\)",
            out,
        )
        assert timings, out
        assert int(timings[1]) >= 1
        if name.startswith("device"):
            # a day of history and the run's reports: the page is not empty
            assert int(timings[2]) >= 5, timings[0]
            assert int(timings[3].replace(",", "")) > 0, timings[0]
    assert "chart API errors" not in out
    assert re.search(
        r"server \(gunicorn tree\): CPU [\d.]+ cores, [\d.]+ ms per report; resident memory max", out
    )
    assert re.search(r"store: .* KB per device-day", out)
    lag = re.search(r"the oldest report of a pass waited at most ([\d.]+) s", out)
    assert lag
    assert float(lag[1]) < 60
    assert re.search(r"final 0; broker messages max \d+, final \d+; drained [\d.]+ s after the window", out)
    assert "evaluation within 60 s: met" in out
