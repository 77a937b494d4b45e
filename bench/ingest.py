"""Ingest benchmark: N devices × M agent reports POSTed over HTTP to Fleetwatch under gunicorn.

Prints reports/s, client-side latency p50/p95/p99 and the server's CPU time per report (all
gunicorn processes, from /proc). Bodies are built before the clock starts; each device posts its
reports oldest first with a distinct `time`, as the OpenWrt agent does after an outage.

    .venv/bin/python bench/ingest.py --devices 50 --reports 40 --concurrency 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ingest.payloads import example_report

from bench.server import Server, cpu_seconds


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[max(0, round(p / 100 * len(sorted_values)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--reports", type=int, default=40, help="reports per device")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--timeseries",
        help="time-series URL (default: the embedded SQLite file); e.g. influxdb://127.0.0.1:58086/fw_bench",
    )
    args = parser.parse_args()

    if args.timeseries:
        from fleetwatch.timeseries import load_backend

        load_backend(args.timeseries).flush()  # a clean store: the bench counts what it wrote
    server = Server(workers=args.workers, threads=args.threads, timeseries=args.timeseries).start()
    try:
        server.manage("org", "create", "--name", "Bench", "--slug", "bench")
        devices = []
        for i in range(args.devices):
            out = server.manage("device", "create", "--org", "bench", "--name", f"bench-{i:04d}")
            devices.append((re.search(r"id: (\S+)", out).group(1), re.search(r"key: (\S+)", out).group(1)))
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5 * args.reports)
        jobs = []
        for step in range(args.reports):
            stamp = (start + timedelta(minutes=5 * step)).strftime("%d-%m-%Y_%H:%M:%S.%f")
            for i, (pk, key) in enumerate(devices):
                report = example_report()
                for iface in report["interfaces"]:
                    if "statistics" in iface:
                        iface["statistics"]["rx_bytes"] += step * 1_000_000 + i
                        iface["statistics"]["tx_bytes"] += step * 250_000
                report["resources"]["load"][0] = round(0.1 + (step % 10) / 10, 2)
                jobs.append(
                    (f"/api/v1/monitoring/device/{pk}/?key={key}&time={stamp}", json.dumps(report).encode())
                )
        # Each worker thread takes whole devices so a device's reports stay in time order.
        lanes = [[] for _ in range(args.concurrency)]
        for n, job in enumerate(jobs):
            lanes[(n % args.devices) % args.concurrency].append(job)
        latencies: list[float] = []
        failures = []
        lock = threading.Lock()

        def run(lane):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            mine = []
            for path, body in lane:
                t0 = time.perf_counter()
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                mine.append(time.perf_counter() - t0)
                if response.status != 200:
                    failures.append(response.status)
            with lock:
                latencies.extend(mine)

        cpu_before = cpu_seconds(server.pids())
        client_before = time.process_time()
        began = time.perf_counter()
        threads = [threading.Thread(target=run, args=(lane,)) for lane in lanes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        cpu = cpu_seconds(server.pids()) - cpu_before
        client_cpu = time.process_time() - client_before
    finally:
        server.stop()

    latencies.sort()
    n = len(latencies)
    print(
        f"{n} reports ({args.devices} devices × {args.reports}), concurrency {args.concurrency}, "
        f"gunicorn {args.workers} workers × {args.threads} threads, "
        f"time series: {args.timeseries or 'embedded SQLite'}"
    )
    print(f"failures: {len(failures)} {sorted(set(failures))}")
    print(f"throughput: {n / elapsed:,.0f} reports/s ({elapsed:.1f} s)   target >= 540")
    print(
        f"latency ms: p50 {percentile(latencies, 50) * 1000:.1f}  p95 {percentile(latencies, 95) * 1000:.1f}  "
        f"p99 {percentile(latencies, 99) * 1000:.1f}  (mean {statistics.mean(latencies) * 1000:.1f})"
    )
    print(f"server CPU: {cpu * 1000 / n:.2f} ms per report   target <= 3")
    print(f"client CPU: {client_cpu * 1000 / n:.2f} ms per report (the load generator shares the 2 cores)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
