"""What rollup upkeep costs an agent's report, on each backend: live writes against late ones.

An agent's report is written as the monitoring endpoint writes it: the points the NetJSON
parser extracts from the demo router's report (its first, so without traffic deltas: the
points at one instant, counted in the output), tagged with one of ``--devices`` devices. Side by side, in one run and on one store:

* **live**: reports stamped now, as they arrive from a fleet that is online. A backend that
  seals rollups (InfluxDB 1.x and 2.x) leaves them to the next seal; the others refresh the
  units they touch in the write.
* **late**: the same reports stamped three hours ago (an agent that was offline, a resend):
  every backend refreshes the units they touch before the write returns. On a sealing
  backend this is also what every report cost before sealing existed.
* **seal**: then one seal rolling up the live reports' hour of every device (the worker's
  ``seal-rollups`` task), timed once.

    python bench/rollup_writes.py                              # sqlite
    python bench/rollup_writes.py --timeseries influxdb://127.0.0.1:18086/bench_rollup_writes
    python bench/rollup_writes.py --timeseries "influxdb2://TOKEN@127.0.0.1:18087/bench_rollup_writes?org=fleetwatch"

The store is flushed before and after (use a database, bucket or index name of its own).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ingest.payloads import example_report

from bench.stats import percentile
from fleetwatch.ingest.netjson import extract
from fleetwatch.timeseries import Point, load_backend


def report_points(device: int, moment: datetime) -> list[Point]:
    """One report's points for ``device`` at ``moment``, as the monitoring endpoint writes them."""
    tags = {"content_type": "inventory.device", "object_id": f"device-{device}", "organization_id": "org"}
    return [
        Point(s.measurement, s.fields, s.time, {**tags, **s.main_tags})
        for s in extract(example_report(), moment)
    ]


def timed_writes(backend, devices: int, reports: int, moment: datetime) -> list[float]:
    """Milliseconds of each report's ``write()``, devices in turn, each report a second apart."""
    times = []
    for i in range(reports):
        points = report_points(i % devices, moment + timedelta(seconds=i))
        t0 = time.perf_counter()
        backend.write(points)
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--timeseries", help="a store URL (default: a throwaway SQLite file)")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--reports", type=int, default=200, help="reports per kind (live, late)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.timeseries or f"sqlite:///{tmp}/bench.db"
        backend = load_backend(url)
        backend.flush()
        try:
            now = datetime.now(UTC)
            # Warm-up: the store's set-up, series catalogue and field types, outside the figures.
            timed_writes(backend, args.devices, args.devices, now - timedelta(hours=5))
            live = timed_writes(backend, args.devices, args.reports, now - timedelta(minutes=5))
            late = timed_writes(backend, args.devices, args.reports, now - timedelta(hours=3))
            t0 = time.perf_counter()
            sealed = backend.seal_rollups(now + timedelta(hours=3))
            seal_ms = (time.perf_counter() - t0) * 1000
        finally:
            backend.flush()
            backend.close()
    points = len(report_points(0, now))
    print(f"{backend.display_name}: {args.reports} reports of {points} points each, {args.devices} devices")
    print(f"{'write':<6} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, values in (("live", live), ("late", late)):
        print(
            f"{name:<6} {percentile(values, 50):>8.2f} {percentile(values, 95):>8.2f} "
            f"{statistics.fmean(values):>8.2f}"
        )
    print(f"late / live (p50): x{percentile(late, 50) / percentile(live, 50):.1f}")
    if sealed:
        print(f"seal of the live reports' hours: {seal_ms:.0f} ms (horizon {sealed['default'].isoformat()})")
    else:
        print("this backend keeps rollups on every write: no seal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
