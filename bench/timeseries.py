"""Storage-layer benchmark: write throughput against the raw driver, and chart latency.

For each backend, in one run:

* **write**: N series × M timestamps × 3 fields through ``Backend.write()`` in batches, next
  to the raw driver's bulk path (SQLite ``executemany``, PostgreSQL binary ``COPY``) loading
  the same rows, already prepared as tuples, into an equivalent table with the same primary
  key; for InfluxDB, the same points as line protocol, prepared beforehand, POSTed to
  ``/write`` in batches of the same size; for InfluxDB 2.x, the same line protocol, prepared
  beforehand, written with the official client's synchronous write API in batches of the same
  size into a throwaway bucket; for Elasticsearch, the official client's
  ``helpers.bulk`` of the documents our backend stores for those points (same fields and
  mapping, deterministic ids), prepared beforehand, into a throwaway index created from the same
  mapping, in batches of the same size and with the same refresh policy (none: the server's
  refresh interval). The ratio is ours / raw (target ≥ 0.5).
* **chart**: a 30-day series with one point every 5 minutes, charted with 1 h and 1 d buckets,
  50 runs each: p50 and p95 latency of ``Backend.chart()`` (target p95 ≤ 20 ms on SQLite).

    python bench/timeseries.py                      # sqlite (+ each backend whose URL is set)
    FLEETWATCH_BENCH_POSTGRESQL_URL=postgresql://… python bench/timeseries.py --backends postgresql
    FLEETWATCH_BENCH_ELASTICSEARCH_URL=elasticsearch://…/fleetwatch python bench/timeseries.py --backends elasticsearch
    FLEETWATCH_BENCH_INFLUXDB2_URL="$(bash scripts/services/influxdb2.sh start | tail -n 1)" \
        python bench/timeseries.py --backends influxdb2
    make bench                                      # starts the servers it needs
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleetwatch.timeseries import Aggregate, ChartQuery, Point, load_backend
from fleetwatch.timeseries.model import to_micros

START = datetime(2026, 9, 1, tzinfo=UTC)
NOW = datetime(2026, 10, 31, tzinfo=UTC)


def make_points(series: int, timestamps: int) -> list[Point]:
    points = []
    for t in range(timestamps):
        moment = START + timedelta(seconds=60 * t)
        for s in range(series):
            points.append(
                Point(
                    "bench",
                    {"rx": float(t * s), "tx": float(t + s), "n": t},
                    moment,
                    {"object_id": f"dev{s:05d}", "ifname": "eth0"},
                )
            )
    return points


def raw_rows(series: int, timestamps: int) -> list[tuple]:
    """The same rows our layout stores, as the raw driver would get them."""
    rows = []
    for t in range(timestamps):
        ts = to_micros(START + timedelta(seconds=60 * t))
        for s in range(series):
            rows.append((s + 1, 1, ts, float(t * s), None))
            rows.append((s + 1, 2, ts, float(t + s), None))
            rows.append((s + 1, 3, ts, float(t), None))
    return rows


def batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ------------------------------------------------------------------ raw driver baselines


def raw_sqlite(path: str, rows: list[tuple], batch_rows: int) -> float:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute(
        "CREATE TABLE raw (series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, ts INTEGER NOT NULL, "
        "num REAL, txt TEXT, PRIMARY KEY (series_id, field_id, ts)) WITHOUT ROWID"
    )
    started = time.perf_counter()
    for chunk in batches(rows, batch_rows):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?)", chunk)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def raw_postgresql(url: str, rows: list[tuple], batch_rows: int) -> float:
    import psycopg

    from fleetwatch.timeseries.loading import parse_url

    s = parse_url(url)
    conn = psycopg.connect(
        host=s["HOST"],
        port=s["PORT"],
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"],
        autocommit=True,
    )
    conn.execute("DROP TABLE IF EXISTS fw_bench_raw")
    conn.execute(
        "CREATE TABLE fw_bench_raw (series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, "
        "ts BIGINT NOT NULL, num DOUBLE PRECISION, txt TEXT, PRIMARY KEY (series_id, field_id, ts))"
    )
    started = time.perf_counter()
    for chunk in batches(rows, batch_rows):
        with conn.transaction():
            with conn.cursor().copy(
                "COPY fw_bench_raw (series_id, field_id, ts, num, txt) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "int4", "int8", "float8", "text"])
                for row in chunk:
                    copy.write_row(row)
    elapsed = time.perf_counter() - started
    conn.execute("DROP TABLE fw_bench_raw")
    conn.close()
    return elapsed


def raw_influxdb(url: str, points: list[Point], batch_points: int) -> float:
    import urllib3

    from fleetwatch.timeseries.backends.lineprotocol import line
    from fleetwatch.timeseries.loading import parse_url

    s = parse_url(url)
    base = f"http://{s['HOST']}:{s['PORT']}"
    http = urllib3.PoolManager()
    http.request("POST", f"{base}/query", fields={"q": "DROP DATABASE fw_bench_raw"}, encode_multipart=False)
    http.request(
        "POST", f"{base}/query", fields={"q": "CREATE DATABASE fw_bench_raw"}, encode_multipart=False
    )
    bodies = [
        "\n".join(line(p.measurement, p.tags, p.fields, to_micros(p.time)) for p in chunk).encode()
        for chunk in batches(points, batch_points)
    ]
    started = time.perf_counter()
    for body in bodies:
        response = http.request("POST", f"{base}/write?db=fw_bench_raw&precision=u", body=body)
        assert response.status == 204, response.data
    elapsed = time.perf_counter() - started
    http.request("POST", f"{base}/query", fields={"q": "DROP DATABASE fw_bench_raw"}, encode_multipart=False)
    return elapsed


def raw_influxdb2(url: str, points: list[Point], batch_points: int) -> float:
    from influxdb_client import InfluxDBClient, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS

    from fleetwatch.timeseries.backends.lineprotocol import line
    from fleetwatch.timeseries.loading import parse_url

    s = parse_url(url)
    options = s.get("OPTIONS") or {}
    org = options.get("org", "fleetwatch")
    client = InfluxDBClient(url=f"http://{s['HOST']}:{s['PORT']}", token=s["USER"], org=org, timeout=120_000)
    buckets = client.buckets_api()

    def drop_bucket():
        for bucket in buckets.find_buckets_iter(org=org):
            if bucket.name == "fw_bench_raw":
                buckets.delete_bucket(bucket)

    drop_bucket()
    buckets.create_bucket(bucket_name="fw_bench_raw", org=org)
    write_api = client.write_api(write_options=SYNCHRONOUS)
    # One line-protocol string per batch, prepared beforehand: the client only encodes and POSTs.
    bodies = [
        "\n".join(line(p.measurement, p.tags, p.fields, to_micros(p.time)) for p in chunk)
        for chunk in batches(points, batch_points)
    ]
    started = time.perf_counter()
    for body in bodies:
        write_api.write("fw_bench_raw", org, body, write_precision=WritePrecision.US)
    elapsed = time.perf_counter() - started
    drop_bucket()
    client.close()
    return elapsed


def raw_elasticsearch(url: str, points: list[Point], batch_points: int) -> float:
    import json

    import elasticsearch
    from elasticsearch import helpers

    from fleetwatch.timeseries.backends.elasticsearch import layout
    from fleetwatch.timeseries.backends.elasticsearch.documents import document, document_id
    from fleetwatch.timeseries.loading import parse_url

    s = parse_url(url)
    options = s.get("OPTIONS") or {}
    client = elasticsearch.Elasticsearch(
        f"{options.get('scheme', 'http')}://{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 9200}",
        basic_auth=(s["USER"], s["PASSWORD"]) if s.get("USER") else None,
        ca_certs=options.get("ca_certs"),
        request_timeout=120,
    )
    index = "fw_bench_raw"
    client.indices.delete(index=index, ignore_unavailable=True)
    # The index our backend's template would create, made beforehand (ours creates it on the
    # first write).
    client.indices.create(index=index, settings=layout.settings(), mappings=layout.mappings())
    # The same documents and ids our backend writes, as plain bulk "index" actions (the fastest
    # plain path into an empty index; ours sends "create" to detect points that already exist).
    chunks = []
    for chunk in batches(points, batch_points):
        actions = []
        for p in chunk:
            series_key = json.dumps(p.tags, sort_keys=True, separators=(",", ":"))
            micros = to_micros(p.time)
            actions.append(
                {
                    "_index": index,
                    "_id": document_id("default", p.measurement, series_key, micros),
                    "_source": document(p.measurement, p.tags, series_key, micros, dict(p.fields)),
                }
            )
        chunks.append(actions)
    started = time.perf_counter()
    for actions in chunks:
        # One bulk request per batch; no refresh, as our backend's plain write.
        ok, _errors = helpers.bulk(client, actions, chunk_size=batch_points, stats_only=True)
        assert ok == len(actions), ok
    elapsed = time.perf_counter() - started
    client.indices.delete(index=index, ignore_unavailable=True)
    client.close()
    return elapsed


# ------------------------------------------------------------------ measurements


def measure_write(backend, points: list[Point], batch_points: int) -> float:
    started = time.perf_counter()
    for chunk in batches(points, batch_points):
        backend.write(chunk)
    return time.perf_counter() - started


def measure_charts(backend, runs: int) -> dict[str, tuple[float, float]]:
    end = NOW
    start = end - timedelta(days=30)
    tags = {"content_type": "inventory.device", "object_id": "chart-device"}
    series = [
        Point("cpu", {"cpu_usage": float((i * 7) % 100)}, start + timedelta(minutes=5 * i), tags)
        for i in range(30 * 24 * 12)
    ]
    backend.write(series)
    results = {}
    for interval in ("1h", "1d"):
        query = ChartQuery(
            "cpu",
            [Aggregate("mean", "cpu_usage", "CPU_load")],
            start,
            end,
            interval=interval,
            timezone="Europe/Rome",
            tags=tags,
        )
        assert backend.chart(query).has_data
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            backend.chart(query)
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
        results[interval] = (statistics.median(timings), p95)
    return results


def run_backend(name: str, url: str | None, args, workdir: Path) -> dict:
    print(f"\n== {name}", flush=True)
    points = make_points(args.series, args.timestamps)
    rows = raw_rows(args.series, args.timestamps)
    n_points = len(points)
    batch_rows = args.batch * 3

    if name == "sqlite":
        raw_seconds = raw_sqlite(str(workdir / "raw.db"), rows, batch_rows)
        backend = load_backend({"BACKEND": "sqlite", "NAME": str(workdir / "ts.db")}, clock=lambda: NOW)
    else:
        if name == "influxdb":
            raw_seconds = raw_influxdb(url, points, args.batch)
        elif name == "influxdb2":
            raw_seconds = raw_influxdb2(url, points, args.batch)
        elif name == "elasticsearch":
            raw_seconds = raw_elasticsearch(url, points, args.batch)
        else:
            raw_seconds = raw_postgresql(url, rows, batch_rows)
        backend = load_backend(
            url + ("&" if "?" in url else "?") + "schema=fleetwatch_bench", clock=lambda: NOW
        )
        backend.flush()
    del rows
    ours_seconds = measure_write(backend, points, args.batch)
    stored = backend.count_points()
    assert stored.get("bench") == n_points, stored
    charts = measure_charts(backend, args.runs)
    if name != "sqlite":
        backend.flush()
    backend.close()
    result = {
        "backend": name,
        "points": n_points,
        "ours_pps": n_points / ours_seconds,
        "raw_pps": n_points / raw_seconds,
        "ratio": raw_seconds / ours_seconds,
        "charts": charts,
    }
    print(
        f"write: fleetwatch {result['ours_pps']:,.0f} points/s ({ours_seconds:.1f} s), "
        f"raw driver {result['raw_pps']:,.0f} points/s ({raw_seconds:.1f} s), "
        f"ratio {result['ratio']:.2f} (target >= 0.50)"
    )
    for interval, (p50, p95) in charts.items():
        print(f"30-day chart, {interval} buckets: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({args.runs} runs)")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    servers = ("postgresql", "influxdb", "influxdb2", "elasticsearch")
    default_backends = ",".join(
        ["sqlite", *[name for name in servers if os.environ.get(f"FLEETWATCH_BENCH_{name.upper()}_URL")]]
    )
    parser.add_argument("--backends", default=default_backends)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--timestamps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10_000, help="points per write() call")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="fw-bench-") as tmp:
        for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
            url = None
            if name != "sqlite":
                url = os.environ.get(f"FLEETWATCH_BENCH_{name.upper()}_URL")
                if not url:
                    print(f"{name}: set FLEETWATCH_BENCH_{name.upper()}_URL (make bench starts it)")
                    return 2
            workdir = Path(tmp) / name
            workdir.mkdir()
            results.append(run_backend(name, url, args, workdir))

    print(
        "\n| backend | points | Fleetwatch write (points/s) | raw driver (points/s) | ratio | "
        "30 d chart 1 h p50 / p95 (ms) | 30 d chart 1 d p50 / p95 (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        h, d = r["charts"]["1h"], r["charts"]["1d"]
        print(
            f"| {r['backend']} | {r['points']:,} | {r['ours_pps']:,.0f} | {r['raw_pps']:,.0f} | "
            f"{r['ratio']:.2f} | {h[0]:.1f} / {h[1]:.1f} | {d[0]:.1f} / {d[1]:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
