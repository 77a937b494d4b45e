"""Usage-metrics collector benchmark, on SQLite and PostgreSQL side by side (issue 16).

For each database, in a child process of its own (Django's settings are per process):

1. **Ingestion**, payloads/s, target ≥ 2,000/s:
   * in-process: the endpoint's own work without HTTP (``json.loads``, ``ingest.parse``,
     ``ingest.store``) for ``--ingest`` uploads of a simulated population, one after another;
   * over HTTP: ``--http`` other uploads POSTed to ``/api/v1/usage/collect/`` of a live gunicorn
     (``--workers`` × ``--threads``, the collector on, its per-address rate raised by
     ``FLEETWATCH_USAGE_COLLECT_RATE``) by ``--concurrency`` clients on keep-alive connections,
     bodies encoded before the clock starts; every answer must be 204.
2. **Charts over ``--events`` stored events** (default 10,000,000; an event counts ``times``),
   target p95 ≤ 200 ms: a population sized to hold that many events over ``--days`` days is
   loaded into empty tables by ``collector.bulk`` (the tables ``ingest.store`` writes, proven in
   tests/usage/test_simulate.py); then each chart query runs ``--runs`` times after a warm-up.
   Timed: every public function of ``fleetwatch.usage.collector.answers`` taking ``since`` or
   ``dimension`` (once per period and dimension), when the module exists, and the equivalent
   ``GROUP BY`` queries below (``direct:``) in any case.

Every figure is printed beside its target.

    .venv/bin/python bench/usage.py                                   # full size, both databases
    .venv/bin/python bench/usage.py --events 200000 --backends sqlite # a quick check

PostgreSQL: ``--postgresql-url`` (default ``FLEETWATCH_BENCH_POSTGRESQL_URL``, else
``FLEETWATCH_TEST_POSTGRESQL_URL``) names a server and a role allowed to create databases; the
bench drops and creates the database ``fw_bench_usage`` there.
"""

from __future__ import annotations

import argparse
import http.client
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402

INGEST_TARGET = 2000  # payloads/s
CHART_TARGET = 200.0  # ms, p95
BENCH_DATABASE = "fw_bench_usage"


# --------------------------------------------------------------------------- parent
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--events", type=int, default=10_000_000, help="events stored for the chart queries")
    parser.add_argument("--days", type=int, default=365, help="the population's period, in days")
    parser.add_argument("--ingest", type=int, default=3000, help="uploads stored in-process")
    parser.add_argument("--http", type=int, default=6000, help="uploads POSTed over HTTP")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP clients")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=18770, help="the live server's port on 127.0.0.1")
    parser.add_argument("--runs", type=int, default=30, help="runs of each chart query")
    parser.add_argument(
        "--postgresql-url",
        default=os.environ.get("FLEETWATCH_BENCH_POSTGRESQL_URL")
        or os.environ.get("FLEETWATCH_TEST_POSTGRESQL_URL"),
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    results = []
    for backend in args.backends.split(","):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fleetwatch.settings"}
        for name in ("FLEETWATCH_DATABASE", "FLEETWATCH_TIMESERIES"):
            env.pop(name, None)
        env["FLEETWATCH_DATA_DIR"] = tempfile.mkdtemp(prefix="fw-bench-usage-")
        if backend == "postgresql":
            if not args.postgresql_url:
                parser.error("postgresql: set --postgresql-url or FLEETWATCH_BENCH_POSTGRESQL_URL")
            env["FLEETWATCH_DATABASE"] = fresh_database(args.postgresql_url)
        elif backend != "sqlite":
            parser.error(f"unknown backend {backend!r}")
        command = [sys.executable, __file__, *sys.argv[1:], "--child", backend]
        print(f"== {backend}", flush=True)
        # The child's progress is echoed as it comes; its last line is its result.
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
            last = None
            for line in process.stdout:
                if line.startswith("RESULT "):
                    last = json.loads(line[len("RESULT ") :])
                else:
                    print(line, end="", flush=True)
        if process.returncode or last is None:
            print(f"{backend}: the bench failed (exit {process.returncode})", flush=True)
            return 1
        results.append(last)
    report(results)
    return 0


def fresh_database(url: str) -> str:
    """Drop and create :data:`BENCH_DATABASE` on the server of ``url``; return its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    return urlunsplit(urlsplit(url)._replace(path="/" + BENCH_DATABASE))


def report(results: list[dict]) -> None:
    print("\n== results")
    print(
        "| backend | in-process (payloads/s) | HTTP (payloads/s) | HTTP p50 / p95 (ms) | "
        "server CPU per payload (ms) | events stored | reports | load (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['backend']} | {r['inprocess']:,.0f} | {r['http']:,.0f} | {r['http_p50']:.1f} / "
            f"{r['http_p95']:.1f} | {r['server_cpu_ms']:.2f} | {r['events']:,} | {r['reports']:,} | "
            f"{r['load_seconds']:.0f} |"
        )
    print("\n| backend | chart query | p50 (ms) | p95 (ms) |")
    print("|---|---|---|---|")
    for r in results:
        for name, (p50, p95) in r["charts"].items():
            print(f"| {r['backend']} | {name} | {p50:.1f} | {p95:.1f} |")
    print()
    for r in results:
        for what, value in (("in-process", r["inprocess"]), ("HTTP", r["http"])):
            status = "met" if value >= INGEST_TARGET else "NOT met"
            print(
                f"{r['backend']}: ingestion {what} {value:,.0f} payloads/s, target ≥ {INGEST_TARGET:,}: "
                f"{status} (×{value / INGEST_TARGET:.2f})"
            )
        worst = max(r["charts"].items(), key=lambda item: item[1][1])
        status = "met" if worst[1][1] <= CHART_TARGET and r["events"] >= r["target_events"] else "NOT met"
        print(
            f"{r['backend']}: slowest chart p95 {worst[1][1]:.1f} ms ({worst[0]}) over {r['events']:,} events, "
            f"target ≤ {CHART_TARGET:.0f} ms over {r['target_events']:,}: {status}"
        )
        if r["skipped"]:
            print(f"{r['backend']}: answers not timed: {', '.join(r['skipped'])}")


# --------------------------------------------------------------------------- child
def child(args) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from fleetwatch.usage.collector import bulk, ingest, simulate
    from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Report

    call_command("migrate", interactive=False, verbosity=0)
    end = datetime.now(UTC).date()
    result = {"backend": args.child, "target_events": args.events}

    # 1a. In-process ingestion.
    bodies = uploads(simulate.Population(400, 60, seed=1, end=end), args.ingest)
    t0 = time.perf_counter()
    for body in bodies:
        ingest.store(ingest.parse(json.loads(body)))
    result["inprocess"] = len(bodies) / (time.perf_counter() - t0)
    print(f"in-process: {len(bodies):,} uploads, {result['inprocess']:,.0f}/s", flush=True)

    # 1b. Over HTTP.
    result.update(over_http(args, uploads(simulate.Population(800, 60, seed=2, end=end), args.http)))
    for model in (Report, Instance, ActivePeriod, DailyTally):
        model.objects.all().delete()

    # 2. Charts over many events: a population of the size asked for, bulk-loaded.
    population = sized(simulate, args.events, args.days, end)
    instances = len(population.deployments)
    counted = {"events": 0}

    def documents():
        for upload in population.uploads():
            counted["events"] += upload.events
            yield upload.body

    print(f"loading {instances:,} deployments over {args.days} days", flush=True)
    t0 = time.perf_counter()
    stored, _ = bulk.load(documents())
    result["load_seconds"] = time.perf_counter() - t0
    result["events"], result["reports"] = counted["events"], stored
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"loaded {instances:,} deployments over {args.days} days: {stored:,} reports, "
        f"{counted['events']:,} events in {result['load_seconds']:.0f} s "
        f"({ActivePeriod.objects.count():,} active periods, {DailyTally.objects.count():,} tallies)",
        flush=True,
    )
    since = population.start
    charts, skipped = {}, []
    for name, call in queries(since, end, skipped):
        timings = []
        for _ in range(args.runs + 1):
            t0 = time.perf_counter()
            call()
            timings.append((time.perf_counter() - t0) * 1000)
        timings = timings[1:]  # the first run warms caches
        charts[name] = (statistics.median(timings), percentile(timings, 95))
        print(f"{name}: p50 {charts[name][0]:.1f} ms, p95 {charts[name][1]:.1f} ms", flush=True)
    result["charts"], result["skipped"] = charts, skipped
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


def sized(simulate, events: int, days: int, end):
    """The population of seed 3 sending at least ``events`` events, within about 1 %: sized
    from a sample of 1,000 deployments, then counted exactly and grown while short (a sample
    alone fell 2 % short at full size)."""
    sample = simulate.Population(1000, days, seed=3, end=end)
    instances = max(1, round(events / (sum(u.events for u in sample.uploads()) / 1000) * 1.01))
    while True:
        population = simulate.Population(instances, days, seed=3, end=end)
        counted = sum(u.events for u in population.uploads())
        if counted >= events:
            return population
        instances = round(instances * events / counted * 1.01) + 1


def uploads(population, count: int) -> list[bytes]:
    """The first ``count`` uploads of ``population``, encoded (fails if it has fewer)."""
    found = []
    for upload in population.uploads():
        found.append(json.dumps(upload.body).encode())
        if len(found) == count:
            return found
    raise SystemExit(f"the population sends only {len(found)} uploads, fewer than {count}")


def over_http(args, bodies: list[bytes]) -> dict:
    from bench.server import Server, cpu_seconds

    server = Server(port=args.port, workers=args.workers, threads=args.threads, log="gunicorn.log")
    server.env.update(FLEETWATCH_USAGE_COLLECTOR="true", FLEETWATCH_USAGE_COLLECT_RATE="1000000/minute")
    if "FLEETWATCH_DATABASE" in os.environ:
        server.env["FLEETWATCH_DATABASE"] = os.environ["FLEETWATCH_DATABASE"]
    server.start()
    lanes = [bodies[n :: args.concurrency] for n in range(args.concurrency)]
    latencies, failures, lock = [], [], threading.Lock()

    def run(lane):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        mine = []
        for body in lane:
            t0 = time.perf_counter()
            conn.request("POST", "/api/v1/usage/collect/", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t0)
            if response.status != 204:
                failures.append(response.status)
        conn.close()
        with lock:
            latencies.extend(mine)

    try:
        cpu0 = cpu_seconds(server.pids())
        threads = [threading.Thread(target=run, args=(lane,)) for lane in lanes]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(server.pids()) - cpu0
    finally:
        server.stop()
    if failures:
        raise SystemExit(f"HTTP: {len(failures)} answers were not 204, e.g. {failures[:5]}")
    rate = len(bodies) / elapsed
    print(
        f"HTTP: {len(bodies):,} uploads by {args.concurrency} clients, {args.workers} workers × "
        f"{args.threads} threads: {rate:,.0f}/s",
        flush=True,
    )
    return {
        "http": rate,
        "http_p50": statistics.median(latencies) * 1000,
        "http_p95": percentile(latencies, 95) * 1000,
        "server_cpu_ms": cpu / len(bodies) * 1000,
    }


def queries(since, end, skipped: list[str]):
    """``(name, callable)`` for every chart query timed (see the module's docstring)."""
    try:
        from fleetwatch.usage.collector import answers
    except ImportError:
        answers = None
    if answers is not None:
        for name, function in inspect.getmembers(answers, inspect.isfunction):
            if name.startswith("_") or function.__module__ != answers.__name__:
                continue
            parameters = inspect.signature(function).parameters
            if "since" not in parameters and "dimension" not in parameters:
                continue
            calls = answer_calls(answers, name, function, parameters, since, end)
            if calls is None:
                skipped.append(f"{name}{inspect.signature(function)}")
            yield from calls or ()
    yield from direct(since, end)


def answer_calls(answers, name, function, parameters, since, end):
    """The calls of one answer, its arguments chosen by name; None if one cannot be chosen."""
    choices = {
        "period": list(getattr(answers, "PERIODS", ("week", "month"))),
        "dimension": list(getattr(answers, "DIMENSIONS", ("install_method", "os", "backend"))),
    }
    fixed = {"since": since, "until": end, "today": end}
    variants = [{}]
    for parameter in parameters.values():
        if parameter.name in choices:
            variants = [{**v, parameter.name: c} for v in variants for c in choices[parameter.name]]
        elif parameter.name in fixed:
            for v in variants:
                v[parameter.name] = fixed[parameter.name]
        elif parameter.default is inspect.Parameter.empty:
            return None
    return [
        (
            f"answers.{name}({', '.join(str(v[k]) for k in v if k in choices)})",
            lambda v=v: function(**v),
        )
        for v in variants
    ]


def direct(since, end):
    """The GROUP BY queries an answer needs, written directly with the ORM."""
    from django.db.models import Count, Sum

    from fleetwatch.usage import payload
    from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance

    def active(period):
        return list(
            ActivePeriod.objects.filter(period=period, start__gte=since, start__lte=end)
            .values_list("start")
            .annotate(n=Count("id"))
            .order_by()
        )

    def anonymous_heartbeats():
        return list(
            DailyTally.objects.filter(
                anonymous=True, category=payload.HEARTBEAT, day__gte=since, day__lte=end
            )
            .values_list("day")
            .annotate(n=Sum("count"))
            .order_by()
        )

    def installs():
        return list(
            DailyTally.objects.filter(
                category__in=(payload.INSTALL, payload.UPGRADE), day__gte=since, day__lte=end
            )
            .values_list("day", "category")
            .annotate(n=Sum("count"))
            .order_by()
        )

    def adoption(period):
        return list(
            ActivePeriod.objects.filter(period=period, start__gte=since, start__lte=end)
            .values_list("start", "version")
            .annotate(n=Count("id"))
            .order_by()
        )

    last_month = (end.replace(day=1) - timedelta(days=1)).replace(day=1)

    def shares(dimension):
        return list(
            ActivePeriod.objects.filter(period="month", start=last_month)
            .values_list(dimension)
            .annotate(n=Count("id"))
            .order_by()
        )

    def survival():
        cohorts: dict = {}
        rows = Instance.objects.exclude(installed_on=None).values_list(
            "installed_on", "last_seen", "withdrawn_on"
        )
        for installed, last, withdrawn in rows.iterator(chunk_size=5000):
            cohort = cohorts.setdefault(installed.replace(day=1), {})
            for weeks in (4, 12, 26, 52):
                due = installed + timedelta(weeks=weeks)
                if due > end or (withdrawn and withdrawn < due):
                    continue
                at_risk, surviving = cohort.get(weeks, (0, 0))
                cohort[weeks] = (at_risk + 1, surviving + (last is not None and last >= due))
        return cohorts

    yield "direct: active per week", lambda: active("week")
    yield "direct: active per month", lambda: active("month")
    yield "direct: anonymous heartbeats per day", anonymous_heartbeats
    yield "direct: installs and upgrades per day", installs
    yield "direct: adoption per week", lambda: adoption("week")
    yield "direct: adoption per month", lambda: adoption("month")
    for dimension in ("install_method", "os", "backend"):
        yield f"direct: {dimension} shares (last month)", lambda d=dimension: shares(d)
    yield "direct: survival by cohort (4/12/26/52 weeks)", survival


if __name__ == "__main__":
    sys.exit(main())
