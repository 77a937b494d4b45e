"""Chart benchmark: latency of one device's 30-day chart API page under gunicorn.

One report goes through the agent endpoint (creating the device's metrics and charts); 30 days
of 5-minute samples are then extracted by the same parser and written straight into the
server's time-series store (fast set-up); finally `GET …/device/<id>/?time=30d` runs 50 times
over HTTP with a token.

    .venv/bin/python bench/charts.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ingest.payloads import example_report

from bench.server import Server
from fleetwatch.ingest.netjson import extract
from fleetwatch.timeseries import Point, load_backend


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    server = Server().start()
    try:
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

        backend = load_backend(f"sqlite:///{server.dir}/timeseries.sqlite3")
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
        backend.write(points)
        backend.close()

        # A fresh connection: the set-up above may outlast the server's keep-alive.
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        timings = []
        body = None
        for _ in range(args.runs + 1):
            t0 = time.perf_counter()
            conn.request(
                "GET",
                f"/api/v1/monitoring/device/{pk}/?time={args.days}d&timezone=Europe/Rome",
                headers={"Authorization": f"Token {token}"},
            )
            response = conn.getresponse()
            body = response.read()
            timings.append((time.perf_counter() - t0) * 1000)
            assert response.status == 200, body[:200]
        timings = sorted(timings[1:])  # the first run warms the worker
    finally:
        server.stop()
    data = json.loads(body)
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"{len(points):,} points over {args.days} days; page of {len(data['charts'])} charts × "
        f"{len(data['x'])} buckets"
    )
    print(
        f"30-day device page: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms "
        f"({args.runs} runs)   target p95 <= 50 ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
