"""End-to-end runs of the benchmarks with tiny numbers, so that they cannot rot."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench_env(**extra: str) -> dict[str, str]:
    """The environment a benchmark runs in: this checkout's code first, and none of the
    settings naming a store, broker or data directory (each bench makes its own)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        **extra,
    }
    for name in ("FLEETWATCH_DATABASE", "FLEETWATCH_TIMESERIES", "FLEETWATCH_BROKER", "FLEETWATCH_DATA_DIR"):
        env.pop(name, None)
    return env
