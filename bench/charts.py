"""Chart benchmark: one device's chart page over HTTP, with rollups and from raw points.

One report goes through the agent endpoint (creating the device's metrics and charts); N days
of 5-minute samples are then extracted by the same parser and written straight into the
server's time-series store (fast set-up, rollups kept by the write as always). Then
`GET …/device/<id>/?time=30d` (and `365d` when the data covers a year) runs `--runs` times over
HTTP with a token, first on a server reading rollups, then on a server of the same data
started with the store option `rollups=false` (raw points only): the ratio is measured side
by side in one run (`--raw-first` swaps the order).

    .venv/bin/python bench/charts.py                 # 30 days, SQLite
    .venv/bin/python bench/charts.py --days 365      # a year: 30-day and 365-day pages
    .venv/bin/python bench/charts.py --timeseries postgresql://…/fleetwatch?schema=bench_charts
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import signal
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ingest.payloads import example_report

from bench.server import Server, free_port
from bench.stats import percentile
from fleetwatch.ingest.netjson import extract
from fleetwatch.timeseries import Point, load_backend

TARGETS = {"30d": 20.0, "365d": 30.0}  # p95 ms on SQLite (issue 18)


def _with_option(url: str, option: str) -> str:
    return url + ("&" if "?" in url else "?") + option


def _page(port: int, pk: str, token: str, time_range: str, runs: int) -> tuple[list[float], dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    timings, body = [], b""
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        conn.request(
            "GET",
            f"/api/v1/monitoring/device/{pk}/?time={time_range}&timezone=Europe/Rome",
            headers={"Authorization": f"Token {token}"},
        )
        response = conn.getresponse()
        body = response.read()
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status == 200, body[:200]
    conn.close()
    return timings[1:], json.loads(body)  # the first run warms the worker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--timeseries", help="store URL (default: the server's SQLite file)")
    parser.add_argument(
        "--raw-first", action="store_true", help="time the raw-points server first, then rollups"
    )
    parser.add_argument("--port", type=int, default=0, help="default: the first free from 8765")
    args = parser.parse_args()
    # A terminated run stops its server (the finally below) and drops what it wrote.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = args.port or free_port(range(8765, 8800))
    server = Server(port=port, timeseries=args.timeseries)
    url = args.timeseries or f"sqlite:///{server.dir}/timeseries.sqlite3"
    ranges = ["30d", "365d"] if args.days >= 365 else ["30d"]
    results: dict[tuple[str, bool], tuple[list[float], dict]] = {}
    try:
        server.start()
        if args.timeseries:
            store = load_backend(url)
            store.flush()
            store.close()
        server.manage("org", "create", "--name", "Bench", "--slug", "bench")
        out = server.manage("device", "create", "--org", "bench", "--name", "bench-device")
        pk, key = re.search(r"id: (\S+)", out).group(1), re.search(r"key: (\S+)", out).group(1)
        org = re.search(
            r"id: (\S+)", server.manage("org", "create", "--name", "Bench", "--slug", "bench")
        ).group(1)
        token = re.search(
            r"token: (\S+)",
            server.manage("user", "create", "--username", "bench", "--password", "bench", "--org", "bench"),
        ).group(1)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request(
            "POST",
            f"/api/v1/monitoring/device/{pk}/?key={key}",
            json.dumps(example_report()),
            {"Content-Type": "application/json"},
        )
        assert conn.getresponse().read() == b"null"
        conn.close()

        backend = load_backend(url)
        tags = {"content_type": "inventory.device", "object_id": pk, "organization_id": org}
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        points = []
        previous = None
        for step in range(args.days * 288):
            moment = end - timedelta(minutes=5 * (args.days * 288 - step))
            report = example_report()
            for iface in report["interfaces"]:
                if "statistics" in iface:
                    iface["statistics"]["rx_bytes"] += step * 1_000_000
            report["resources"]["load"][0] = round(0.1 + (step % 12) / 10, 2)
            for s in extract(report, moment, previous):
                points.append(Point(s.measurement, s.fields, s.time, {**tags, **s.main_tags}))
            previous = report
        t0 = time.perf_counter()
        for first in range(0, len(points), 50_000):
            backend.write(points[first : first + 50_000])
        write_s = time.perf_counter() - t0
        backend.close()
        # The same data, the same data directory: a server reading rollups and one started with
        # `rollups=false` (raw points only), in the order asked (the first runs just after the
        # import, which a store may still be digesting: compare both orders).
        order = (False, True) if args.raw_first else (True, False)
        for index, rollups in enumerate(order):
            if index or not rollups:
                server.stop()
                again = Server(port=port, timeseries=url if rollups else _with_option(url, "rollups=false"))
                shutil.rmtree(again.dir, ignore_errors=True)
                again.dir, again.env["FLEETWATCH_DATA_DIR"] = server.dir, server.dir
                server = again.start()
            for time_range in ranges:
                results[time_range, rollups] = _page(server.port, pk, token, time_range, args.runs)
    finally:
        server.stop()
        if args.timeseries:
            # Drop what the run created (database, buckets or indices): a year of points.
            store = load_backend(url)
            store.flush()
            store.close()
        shutil.rmtree(server.dir, ignore_errors=True)
    print(
        f"{len(points):,} points over {args.days} days written in {write_s:.1f} s "
        f"(rollups kept by the write); store: {url.split('://')[0]}; timed first: "
        f"{'raw points' if args.raw_first else 'rollups'}"
    )
    for time_range in ranges:
        rolled, rolled_body = results[time_range, True]
        raw_timings, raw_body = results[time_range, False]
        assert rolled_body == raw_body, f"{time_range}: the pages differ with and without rollups"
        p95, raw_p95 = percentile(rolled, 95), percentile(raw_timings, 95)
        print(
            f"{time_range} device page ({len(rolled_body['charts'])} charts × {len(rolled_body['x'])} "
            f"buckets): rollups p50 {statistics.median(rolled):.1f} / p95 {p95:.1f} ms; raw points "
            f"p50 {statistics.median(raw_timings):.1f} / p95 {raw_p95:.1f} ms; raw/rollups p95 "
            f"×{raw_p95 / p95:.1f}   target p95 <= {TARGETS[time_range]:.0f} ms (SQLite)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
