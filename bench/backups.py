"""Backups benchmark: a matrix of 500 jobs with 100,000 runs and 5 million file rows on the
embedded SQLite default, then

1. every job's checks evaluated once (``evaluate_all``), in-process: target ≤ 1 s;
2. the dashboard API (``/api/v1/backups/check/freshness/all`` and ``recent/all``) and the
   dashboard page (``/backups/``) under gunicorn, p50/p95 of 50 requests: target p95 ≤ 50 ms;
3. ping ingestion: ``/ping/<uuid>/start`` then ``/ping/<uuid>/0`` by 8 concurrent clients,
   pings per second: target ≥ 500.

Each figure is printed next to its target and their ratio. The data is written with plain SQL
into the tables the migrations created (the ORM would take minutes for 5 million rows).

    .venv/bin/python bench/backups.py [--jobs 500 --runs 100000 --files 5000000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.server import Server
from bench.stats import percentile

SECTIONS_PER_DC = 50
TYPES = ("dump", "snapshot")
DATACENTERS = ("eqiad", "codfw", "esams", "ulsfo", "drmrs")
NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def populate(db: Path, organization_id: str, jobs: int, runs: int, files: int) -> list[str]:
    """Insert ``jobs`` jobs (sections × types × datacenters), ``runs`` runs spread evenly over
    them (one a day, newest yesterday; about 2 % failed, the rest finished) and ``files`` file
    rows spread over the runs. Returns the jobs' ids (hex, as Django stores UUIDs in SQLite)."""
    rng = random.Random(20261130)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    cells = [(f"s{n}", t, dc) for dc in DATACENTERS for n in range(1, SECTIONS_PER_DC + 1) for t in TYPES]
    cells = cells[:jobs]
    job_ids = [uuid.uuid4().hex for _ in cells]
    org = uuid.UUID(organization_id).hex
    con.executemany(
        "INSERT INTO backups_backupjob (id, organization_id, section, type, datacenter, freshness,"
        " min_size, warn_size_percentage, crit_size_percentage, max_duration, schedule, is_active,"
        " status, needs_check, created) VALUES (?, ?, ?, ?, ?, ?, 307200, 5.0, 15.0, 43200, 'daily', 1, 'unknown', 0, ?)",
        [
            (job_id, org, section, kind, dc, 691200 if kind == "dump" else 259200, _iso(NOW))
            for job_id, (section, kind, dc) in zip(job_ids, cells, strict=True)
        ],
    )
    per_job = runs // len(cells)
    files_per_run = files // (per_job * len(cells))
    run_rows, file_rows = [], []
    run_pk = 0
    for job_id, (section, kind, dc) in zip(job_ids, cells, strict=True):
        size = rng.randint(400_000, 2_000_000_000)
        for age in range(per_job, 0, -1):
            run_pk += 1
            start = NOW - timedelta(days=age, hours=rng.randint(0, 3))
            end = start + timedelta(minutes=rng.randint(10, 600))
            status = "failed" if rng.random() < 0.02 else "finished"
            size = max(1, int(size * rng.uniform(0.97, 1.04)))
            run_rows.append(
                (
                    run_pk,
                    org,
                    job_id,
                    f"{kind}.{section}.{start:%Y-%m-%d--%H-%M-%S}",
                    status,
                    f"db{run_pk % 2000:04d}.{dc}.wmnet",
                    f"dbprov{run_pk % 8}.{dc}.wmnet",
                    kind,
                    section,
                    dc,
                    _iso(start),
                    _iso(end),
                    size,
                )
            )
            for n in range(files_per_run):
                file_rows.append((run_pk, section, f"table{n:03d}.sql.gz", size // files_per_run, _iso(end)))
            if len(file_rows) >= 200_000:
                _flush(con, run_rows, file_rows)
    _flush(con, run_rows, file_rows)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return job_ids


def _flush(con, run_rows, file_rows) -> None:
    con.executemany(
        "INSERT INTO backups_backuprun (id, organization_id, job_id, name, status, source, host, type,"
        " section, datacenter, start_date, end_date, total_size, exit_status, log, origin, run_id,"
        " imported_from, imported_id, charted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '',"
        " 'api', NULL, '', NULL, 1)",
        run_rows,
    )
    con.executemany(
        "INSERT INTO backups_backupfile (run_id, file_path, file_name, size, file_date) VALUES (?, ?, ?, ?, ?)",
        file_rows,
    )
    run_rows.clear()
    file_rows.clear()


def evaluate_in_process(data_dir: str) -> tuple[float, dict]:
    """Seconds of one ``evaluate_all`` over every job, and the jobs' statuses it produced."""
    os.environ["FLEETWATCH_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    import django

    django.setup()
    from django.db.models import Count

    from fleetwatch.backups.checks import evaluate_all
    from fleetwatch.backups.models import BackupJob

    evaluate_all(NOW)  # warm: the first pass creates each job's check rows
    started = time.perf_counter()
    evaluate_all(NOW)
    elapsed = time.perf_counter() - started
    statuses = dict(BackupJob.objects.values_list("status").annotate(n=Count("pk")))
    return elapsed, statuses


def timed_gets(port: int, paths: list[str], headers: dict, runs: int) -> dict[str, list[float]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    timings: dict[str, list[float]] = {path: [] for path in paths}
    for path in paths:
        for attempt in range(runs + 1):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
            if attempt:  # the first one warms the worker
                timings[path].append((time.perf_counter() - started) * 1000)
    return timings


def ping_rate(port: int, job_ids: list[str], clients: int, pings: int) -> float:
    """Pings per second: each client sends start then 0 for jobs in turn over its own
    keep-alive connection."""
    per_client = pings // clients
    errors: list[str] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for n in range(per_client // 2):
            job = str(uuid.UUID(job_ids[(index * 7919 + n) % len(job_ids)]))
            for suffix in ("start", "0"):
                conn.request("POST", f"/ping/{job}/{suffix}", body=b"", headers={"Content-Length": "0"})
                response = conn.getresponse()
                if response.read() != b"OK" or response.status != 200:
                    errors.append(f"{suffix}: {response.status}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} pings failed, e.g. {errors[0]}")
    return (per_client // 2) * 2 * clients / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--pings", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=8235)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (one per core)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    args = parser.parse_args()

    server = Server(port=args.port, workers=args.workers, threads=args.threads)
    server.manage("migrate", "--verbosity", "0")
    org = re.search(r"id: (\S+)", server.manage("org", "create", "--name", "Bench", "--slug", "bench")).group(
        1
    )
    token = re.search(
        r"token: (\S+)",
        server.manage("user", "create", "--username", "bench", "--password", "bench", "--org", "bench"),
    ).group(1)
    started = time.perf_counter()
    job_ids = populate(Path(server.dir) / "fleetwatch.sqlite3", org, args.jobs, args.runs, args.files)
    print(
        f"data: {args.jobs} jobs, {args.runs} runs, {args.files} file rows written in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )

    elapsed, statuses = evaluate_in_process(server.dir)
    print(f"evaluate_all: {elapsed * 1000:.0f} ms for {args.jobs} jobs  (target ≤ 1000 ms: ×{elapsed:.2f})")
    print(f"  job statuses: {statuses}")

    server.start()
    try:
        headers = {"Authorization": f"Token {token}"}
        paths = ["/api/v1/backups/check/freshness/all", "/api/v1/backups/recent/all"]
        timings = timed_gets(server.port, paths, headers, args.requests)
        for path, values in timings.items():
            p50, p95 = statistics.median(values), percentile(values, 95)
            print(f"GET {path}: p50 {p50:.1f} ms, p95 {p95:.1f} ms  (target p95 ≤ 50 ms: ×{p95 / 50:.2f})")
        rate = ping_rate(server.port, job_ids, args.clients, args.pings)
        print(f"pings: {rate:.0f}/s with {args.clients} clients  (target ≥ 500/s: ×{rate / 500:.2f})")
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)  # about 600 MB with the defaults
    return 0


if __name__ == "__main__":
    sys.exit(main())
