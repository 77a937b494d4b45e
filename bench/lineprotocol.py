"""Line protocol ingestion benchmark: Telegraf-like batches POSTed to /api/v2/write of a Fleetwatch
under gunicorn (embedded SQLite by default), against writing the same points straight into a
backend of the same kind, side by side in one run.

Each batch is ``--lines`` lines (5,000 by default, Telegraf's metric_batch_size is 1,000) of
``--hosts`` hosts' cpu (per core), mem, disk, net and system inputs (3 to 5 fields each), with
timestamps unique per batch; bodies are built (and gzipped with --gzip) before the clock starts.
A first batch, not timed, creates the devices and metric rows (as a Telegraf's first flush does).

Prints points (lines) per second through HTTP and written directly (``Backend.write`` of the
same points, already parsed and mapped: the storage's own cost), their ratio, field values per
second, the CPU time per 1,000 points of the server (all its processes) and of the direct
write, and request latency p50/p95. On a shared machine the CPU ratio is the steadier figure.

    .venv/bin/python bench/lineprotocol.py --batches 20 --concurrency 2
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.server import Server, cpu_seconds, free_port
from bench.stats import percentile

T0 = 1_764_633_600  # 2025-12-02 00:00 UTC


def batch(number: int, lines: int, hosts: int, rng: random.Random) -> str:
    """``lines`` lines of Telegraf's common inputs for ``hosts`` hosts, batch ``number``'s times."""
    out: list[str] = []
    step = 0
    while len(out) < lines:
        stamp = (T0 + number * 100_000 + step) * 1_000_000_000
        for h in range(hosts):
            host = f"host-{h:03d}"
            for core in range(4):
                out.append(
                    f"cpu,cpu=cpu{core},host={host} usage_user={rng.uniform(0, 90):.3f},"
                    f"usage_system={rng.uniform(0, 9):.3f},usage_idle={rng.uniform(0, 100):.3f},"
                    f"usage_iowait={rng.uniform(0, 2):.3f} {stamp}"
                )
            out.append(
                f"mem,host={host} used_percent={rng.uniform(20, 80):.2f},total=8000000000i,"
                f"available={rng.randrange(10**9, 4 * 10**9)}i,used={rng.randrange(10**9, 4 * 10**9)}i {stamp}"
            )
            out.append(
                f"disk,device=sda1,fstype=ext4,host={host},mode=rw,path=/ used_percent={rng.uniform(10, 90):.2f},"
                f"free={rng.randrange(10**9)}i,total=200000000000i,used={rng.randrange(10**9)}i {stamp}"
            )
            out.append(
                f"net,host={host},interface=eth0 bytes_recv={step * 1000 + h}i,bytes_sent={step * 500}i,"
                f"packets_recv={step * 10}i,packets_sent={step * 5}i {stamp}"
            )
            out.append(
                f"system,host={host} load1={rng.uniform(0, 4):.2f},load5={rng.uniform(0, 4):.2f},"
                f"load15={rng.uniform(0, 4):.2f} {stamp}"
            )
        step += 1
    return "\n".join(out[:lines]) + "\n"


def direct(bodies: list[str], workdir: str) -> tuple[float, float, int]:
    """Seconds (wall clock and this process's CPU) ``Backend.write`` takes for the bodies' points
    (parsed and mapped beforehand, with the tags the server gives them) into a fresh SQLite
    store, and the points written."""
    from fleetwatch.ingest.lineprotocol import parse
    from fleetwatch.timeseries import Point, load_backend
    from fleetwatch.timeseries.times import EPOCH, ONE_MICROSECOND

    backend = load_backend({"BACKEND": "sqlite", "NAME": os.path.join(workdir, "direct.db")})
    device = {"content_type": "inventory.device", "organization_id": "1"}
    batches = []
    for body in bodies:
        points = []
        for line in parse(body):
            tags = {k: v for k, v in line.tags.items() if k != "host"}
            tags.update(device, object_id=f"00000000-0000-0000-0000-{line.tags['host'][-3:]:0>12}")
            points.append(Point(line.measurement, line.fields, EPOCH + line.time * ONE_MICROSECOND, tags))
        batches.append(points)
    backend.write(batches[0])  # as the HTTP run: the first batch is not timed
    began, cpu = time.perf_counter(), time.process_time()
    for points in batches[1:]:
        backend.write(points)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    backend.close()
    return elapsed, cpu, sum(len(b) for b in batches[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--batches", type=int, default=20, help="timed batches (plus one untimed)")
    parser.add_argument("--lines", type=int, default=5000, help="lines per batch")
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=2, help="client connections posting at once")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--gzip", action="store_true", help="gzip the bodies (Telegraf's default)")
    parser.add_argument("--port", type=int, help="the server's port (default: the first free of 21100-21199)")
    args = parser.parse_args()

    rng = random.Random(19)
    bodies = [batch(n, args.lines, args.hosts, rng) for n in range(args.batches + 1)]
    fields = sum(len(re.findall(r"=[^,\s]+", line.split(" ", 1)[1])) for line in bodies[1].splitlines())
    payloads = [gzip.compress(b.encode()) if args.gzip else b.encode() for b in bodies]
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if args.gzip:
        headers["Content-Encoding"] = "gzip"

    server = Server(
        port=args.port or free_port(range(21100, 21200)), workers=args.workers, threads=args.threads
    )
    server.start()
    try:
        server.manage("org", "create", "--name", "Bench", "--slug", "bench")
        token = server.manage("accesstoken", "create", "--org", "bench", "--name", "bench").strip()
        headers["Authorization"] = f"Token {token}"
        path = "/api/v2/write?org=bench&bucket=telegraf&precision=ns"
        failures: list[tuple[int, bytes]] = []
        latencies: list[float] = []
        lock = threading.Lock()

        def post(conn, body):
            t0 = time.perf_counter()
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            content = response.read()
            took = time.perf_counter() - t0
            if response.status != 204:
                failures.append((response.status, content[:300]))
            return took

        first = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        post(first, payloads[0])  # devices and metric rows are created here
        first.close()
        lanes = [payloads[1 + i :: args.concurrency] for i in range(args.concurrency)]

        def run(lane):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            mine = [post(conn, body) for body in lane]
            conn.close()
            with lock:
                latencies.extend(mine)

        cpu_before = cpu_seconds(server.pids())
        began = time.perf_counter()
        threads = [threading.Thread(target=run, args=(lane,)) for lane in lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        cpu = cpu_seconds(server.pids()) - cpu_before
    finally:
        server.stop()
    if failures:
        print(f"FAILED: {len(failures)} batches not stored, e.g. {failures[0]}", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="fw-bench-lp-") as workdir:
        direct_seconds, direct_cpu, direct_points = direct(bodies, workdir)
    points = args.batches * args.lines
    http_rate = points / elapsed
    direct_rate = direct_points / direct_seconds
    latencies.sort()
    print(
        f"line protocol: {args.batches} batches of {args.lines} lines ({fields / args.lines:.1f} fields a line), "
        f"{args.hosts} hosts, {args.concurrency} connections, SQLite{', gzip' if args.gzip else ''}"
    )
    print(f"/api/v2/write: {http_rate:,.0f} points/s ({http_rate * fields / args.lines:,.0f} field values/s)")
    print(f"Backend.write: {direct_rate:,.0f} points/s (the same points, parsed and mapped beforehand)")
    print(f"ratio: {http_rate / direct_rate:.2f}")
    server_ms, direct_ms = cpu / points * 1e6, direct_cpu / direct_points * 1e6
    print(
        f"CPU per 1,000 points: server {server_ms:.1f} ms (all processes), Backend.write {direct_ms:.1f} ms; "
        f"ratio {direct_ms / server_ms:.2f}"
    )
    print(
        f"request latency p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
