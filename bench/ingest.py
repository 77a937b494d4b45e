"""Ingest benchmark: N devices × M agent reports POSTed over HTTP to Fleetwatch under gunicorn.

Prints reports/s, client-side latency p50/p95/p99 and the server's CPU time per report (all
gunicorn processes, from /proc). Bodies are built before the clock starts; each device posts its
reports oldest first with a distinct `time`, as the OpenWrt agent does after an outage.

With --live the reports carry no `time` (they are live, so their alerting values are evaluated)
and a `fleetwatch worker` runs beside the server. The last report of every device has its disk
95 % full; after posting, the bench waits (at most --drain-cap seconds) until every device's
disk metric is unhealthy and the queues are empty, then prints the queue depth at the end of
posting (broker messages + reports pending evaluation), the lag from the last report's arrival
to its evaluation, and the largest queue depth seen (sampled every 0.25 s).

    .venv/bin/python bench/ingest.py --devices 50 --reports 40 --concurrency 8
    .venv/bin/python bench/ingest.py --devices 50 --reports 40 --concurrency 8 --live --port 8791
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
from bench.stats import percentile
from bench.worker import Queues, Worker

DISK_SIZE = 258016 + 16112  # both file systems of the example report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--reports", type=int, default=40, help="reports per device")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765, help="the server's port on 127.0.0.1")
    parser.add_argument(
        "--live",
        action="store_true",
        help="live reports (no `time`), evaluated by a worker: measure the alert evaluation lag",
    )
    parser.add_argument(
        "--drain-cap", type=float, default=600, help="--live: seconds to wait for evaluation to catch up"
    )
    parser.add_argument(
        "--timeseries",
        help="time-series URL (default: the embedded SQLite file); e.g. influxdb://127.0.0.1:18086/fw_bench",
    )
    args = parser.parse_args()

    if args.timeseries:
        from fleetwatch.timeseries import load_backend

        load_backend(args.timeseries).flush()  # a clean store: the bench counts what it wrote
    server = Server(port=args.port, workers=args.workers, threads=args.threads, timeseries=args.timeseries)
    server.start()
    worker = queues = None
    evaluation = {}
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
                path = f"/api/v1/monitoring/device/{pk}/?key={key}"
                if args.live:
                    if step == args.reports - 1:  # the sentinel: disk 95 % full
                        report["resources"]["disk"][0]["used_bytes"] = round(0.95 * DISK_SIZE) - 3872
                else:
                    path += f"&time={stamp}"
                jobs.append((path, json.dumps(report).encode()))
        # Each worker thread takes whole devices so a device's reports stay in time order.
        lanes = [[] for _ in range(args.concurrency)]
        for n, job in enumerate(jobs):
            lanes[(n % args.devices) % args.concurrency].append(job)
        latencies: list[float] = []
        failures = []
        lock = threading.Lock()
        last_arrival = [0.0]
        if args.live:
            worker = Worker(server).start()
            queues = Queues(server)
            monitor = Monitor(queues, args.devices)

        def run(lane):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            mine = []
            for path, body in lane:
                t0 = time.perf_counter()
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                mine.append(time.perf_counter() - t0)
                last_arrival[0] = max(last_arrival[0], time.perf_counter())
                if response.status != 200:
                    failures.append(response.status)
            with lock:
                latencies.extend(mine)

        cpu_before = cpu_seconds(server.pids())
        worker_cpu_before = cpu_seconds(worker.pids()) if worker else 0
        client_before = time.process_time()
        if args.live:
            monitor.start()
        began = time.perf_counter()
        threads = [threading.Thread(target=run, args=(lane,)) for lane in lanes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        cpu = cpu_seconds(server.pids()) - cpu_before
        client_cpu = time.process_time() - client_before
        if args.live:
            evaluation = monitor.drain(last_arrival[0], args.drain_cap)
            evaluation["worker_cpu"] = cpu_seconds(worker.pids()) - worker_cpu_before
    finally:
        if worker:
            worker.stop()
        if queues:
            queues.close()
        server.stop()

    latencies.sort()
    n = len(latencies)
    print(
        f"{n} reports ({args.devices} devices × {args.reports}), concurrency {args.concurrency}, "
        f"gunicorn {args.workers} workers × {args.threads} threads, "
        f"time series: {args.timeseries or 'embedded SQLite'}"
    )
    print(f"failures: {len(failures)} {sorted(set(failures))}   (data dir: {server.dir})")
    print(f"throughput: {n / elapsed:,.0f} reports/s ({elapsed:.1f} s)   target >= 540")
    print(
        f"latency ms: p50 {percentile(latencies, 50) * 1000:.1f}  p95 {percentile(latencies, 95) * 1000:.1f}  "
        f"p99 {percentile(latencies, 99) * 1000:.1f}  (mean {statistics.mean(latencies) * 1000:.1f})"
    )
    print(f"server CPU: {cpu * 1000 / n:.2f} ms per report   target <= 3")
    print(f"client CPU: {client_cpu * 1000 / n:.2f} ms per report (the load generator shares the 2 cores)")
    if not args.live:
        print("alert evaluation: not measured (back-dated reports raise no alerts; see --live)")
        return 1 if failures else 0
    e = evaluation

    def depth(sample):
        broker, pending = sample
        return f"{broker + (pending or 0)} ({broker} broker messages + {_na(pending)} reports pending evaluation)"

    print(f"queue depth at end of posting: {depth(e['end_of_posting'])}")
    print(f"max queue depth: {depth(e['max'])}")
    if e["lag"] is None:
        print(f"last report evaluated: not within {args.drain_cap:.0f} s   target <= 60 s")
    else:
        print(f"lag from the last report's arrival to its evaluation: {e['lag']:.1f} s   target <= 60 s")
    drained = f"{e['drained']:.1f} s after the last report" if e["drained"] is not None else "not drained"
    print(f"queues empty: {drained}; at the end: {depth(e['final'])}")
    print(f"worker CPU: {e['worker_cpu'] * 1000 / n:.2f} ms per report (posting and catching up)")
    return 1 if failures or e["lag"] is None else 0


def _na(value) -> str:
    return "n/a" if value is None else str(value)


class Monitor:
    """Samples the queues every 0.25 s in a thread; :meth:`drain` waits for evaluation to catch up."""

    def __init__(self, queues: Queues, devices: int, every: float = 0.25):
        self.queues, self.devices, self.every = queues, devices, every
        self.samples: list[tuple[float, int, int | None, int]] = []  # (time, broker, pending, evaluated)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _sample(self) -> tuple[float, int, int | None, int]:
        return (
            time.perf_counter(),
            self.queues.broker_messages(),
            self.queues.pending_reports(),
            self.queues.unhealthy("disk", "bench"),
        )

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self.stopped.is_set():
                try:
                    self.samples.append(self._sample())
                except Exception as exc:  # a busy database: the next sample will do
                    print(f"(sample skipped: {exc})", file=sys.stderr)
                self.stopped.wait(self.every)
        finally:
            connection.close()

    def drain(self, last_arrival: float, cap: float) -> dict:
        """Wait until every device's last report is evaluated and the queues are empty, or the cap."""
        posted = time.perf_counter()
        end_of_posting = evaluated_at = drained_at = None
        seen = 0
        deadline = posted + cap
        while time.perf_counter() < deadline and self.thread.is_alive():
            for when, broker, pending, evaluated in self.samples[seen:]:
                seen += 1
                if end_of_posting is None and when >= posted:
                    end_of_posting = (broker, pending)
                if evaluated_at is None and evaluated >= self.devices:
                    evaluated_at = when
                if evaluated_at is not None and broker == 0 and not pending:
                    drained_at = when
            if drained_at is not None and end_of_posting is not None:
                break
            time.sleep(self.every)
        self.stopped.set()
        self.thread.join()
        final = self.samples[-1]
        deepest = max(self.samples, key=lambda s: s[1] + (s[2] or 0))
        return {
            "end_of_posting": end_of_posting or final[1:3],
            "max": deepest[1:3],
            "final": final[1:3],
            "lag": None if evaluated_at is None else max(0.0, evaluated_at - last_arrival),
            "drained": None if drained_at is None else max(0.0, drained_at - last_arrival),
        }


if __name__ == "__main__":
    sys.exit(main())
