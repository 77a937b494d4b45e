"""Scale run: N simulated routers reporting every 5 minutes through the real agent endpoint of a
live Fleetwatch (gunicorn + `fleetwatch worker`), on SQLite or PostgreSQL, for a fixed duration.

    .venv/bin/python bench/scale.py --devices 10000 --duration 300 --warmup 30
    .venv/bin/python bench/scale.py --backend postgresql --devices 100000 --duration 300

Set-up (before any clock starts):

* A server as bench/server.py makes it (``--backend sqlite``: the embedded SQLite files in a
  fresh data dir; ``postgresql``: a fresh database, dropped at the end, holding the relational
  tables and, in its schema ``timeseries``, the points), and a worker with its schedule, which
  runs the alert evaluation passes (``fleetwatch.monitoring.evaluation``).
* Devices are bulk-created in the database. Two template routers (one without, one with an LTE
  modem, as ``fleetwatch simulate`` gives every fourth router one) send one report each through
  the endpoint and are evaluated; their metric, chart, alert-settings, health and state rows are
  then copied to every other device, so the run measures the steady state of a fleet that has
  reported before (a device's first report also creates its metric rows: not measured here).
  Counters are primed so every report of the run is a live, in-order one. Devices get no
  periodic checks (``run_checks`` has nothing to queue).
* ``--history-days`` of 5-minute data of device 0 (the chart device) are written straight into
  the store (the demo simulator's reports, parsed by the agent parser), so its 30- and 365-day
  charts have something to read.

The run: one asyncio client with ``--connections`` keep-alive connections offers every device's
report once per ``--interval`` (300 s), devices spread evenly over the period (N / 300 reports/s,
333/s at 100,000). Bodies come from templates of the demo simulator's reports with the varying
numbers (counters growing, load, memory) filled in. Nothing is measured during ``--warmup``;
then for ``--duration`` seconds it records every report (status, latency from sending, and from
the moment it was due, which includes any queueing in the client), samples the server's and the
worker's process trees (CPU, resident memory, psutil) and the evaluation queue (reports pending
evaluation, their oldest, and the broker's messages) every ``--sample-every`` seconds, and times
the chart device's 30-day and 365-day chart API and the organization dashboard API (7 days) one
after another on a connection of their own. After the window it waits for evaluation to drain
(at most ``--drain-cap`` s). The evaluation lag per pass is read from the worker's log (each pass
logs how long its oldest report waited).

``--profile`` samples the server's and the worker's processes with py-spy during the window and
prints where their time goes.

Exit status 0 when every report got 200 and evaluation drained; targets are printed, not enforced.
Loopback only; every loop is bounded by the duration and the caps.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import http.client
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench.server import Server, free_port
from bench.stats import percentile
from bench.worker import Queues, Worker

DEFAULT_POSTGRESQL = os.environ.get(
    "FLEETWATCH_TEST_POSTGRESQL_URL", "postgresql://fleetwatch:fleetwatch@127.0.0.1:15432/fleetwatch"
)
REPORTS_PER_DAY = 288  # one every 5 minutes
CHART_PATHS = ("device 30 d", "device 365 d", "dashboard 7 d")
TARGET_RATE = 100_000 / 300
TARGET_P99_MS = 200.0
TARGET_LAG_S = 60.0


# ------------------------------------------------------------------------------ report bodies


SENTINEL = 987_654_321_000  # + field number: placeholders found again in the JSON text
FIELDS = ("rx", "tx", "rx_packets", "tx_packets", "wlan_rx", "wlan_tx", "load", "free", "available")


class Bodies:
    """Report bodies of the demo simulator's routers with the varying numbers filled in.

    ``templates`` reports of each kind (without and with an LTE modem) are rendered once with
    placeholders; :meth:`body` joins a template's pieces with device ``i``'s numbers at report
    number ``k`` (``k = -1``: the readings the counters are primed with). Counters grow by a
    few MB a report, so every report is an in-order reading of a router that stayed up.

    The templates are rendered as at ``busy_hour`` (UTC) of the last day that had it, not at the
    run's start: the simulator's WiFi clients follow the hour of day (none from about 06:00 to
    10:00 UTC, a dozen or more at 20:00), so a run's reports, and whether the chart device has a
    WiFi clients chart at all, would depend on when the run started."""

    def __init__(self, templates: int = 8, busy_hour: int = 20):
        from fleetwatch.monitoring.simulator import report

        now = datetime.now(UTC)
        shaped = now.replace(hour=busy_hour, minute=0, second=0, microsecond=0)
        if shaped > now:
            shaped -= timedelta(days=1)
        self.pieces: dict[bool, list[list[str | int]]] = {}
        for lte in (False, True):
            kinds = []
            for j in range(templates):
                data = report(j, shaped, shaped, lte)
                wan, wlan = data["interfaces"][0], data["interfaces"][1]
                wan["statistics"] = {
                    "rx_bytes": SENTINEL + 0,
                    "tx_bytes": SENTINEL + 1,
                    "rx_packets": SENTINEL + 2,
                    "tx_packets": SENTINEL + 3,
                }
                wlan["statistics"] = {"rx_bytes": SENTINEL + 4, "tx_bytes": SENTINEL + 5}
                data["resources"]["load"][0] = SENTINEL + 6
                data["resources"]["memory"]["free"] = SENTINEL + 7
                data["resources"]["memory"]["available"] = SENTINEL + 8
                text = json.dumps(data, separators=(",", ":"))
                parts = re.split(rf"{SENTINEL // 1000}(\d\d\d)", text)
                kinds.append([p if n % 2 == 0 else int(p) for n, p in enumerate(parts)])
            self.pieces[lte] = kinds

    @staticmethod
    def lte(i: int) -> bool:
        return i % 4 == 3  # as `fleetwatch simulate`

    @staticmethod
    def counters(i: int, k: int) -> tuple[int, int]:
        """WAN ``(rx_bytes, tx_bytes)`` of device ``i`` at report ``k``."""
        rx = 10**9 + i * 1000 + (k + 1) * (3_000_000 + (i % 7) * 500_000)
        return rx, rx // 5

    def values(self, i: int, k: int) -> list:
        rx, tx = self.counters(i, k)
        free = 40_000_000 + ((i * 31 + k * 7) % 40) * 1_000_000
        return [
            rx,
            tx,
            rx // 900,
            tx // 600,
            tx // 2,
            rx // 2,
            ((i * 7 + k) % 60) / 100,
            free,
            free + 6_291_456,
        ]

    def body(self, i: int, k: int) -> bytes:
        pieces = self.pieces[self.lte(i)][i % len(self.pieces[False])]
        values = self.values(i, k)
        return "".join(p if isinstance(p, str) else str(values[p]) for p in pieces).encode()


# ------------------------------------------------------------------------------ set-up


def bulk_register(org_id, devices: int, bodies: Bodies, post, batch: int = 2000) -> list[tuple[str, str]]:
    """``devices`` devices of the organization, as ``[(id, key)]`` in index order: bulk-created,
    then primed from two template routers (devices 0 and 3, or 0 alone when fewer) that report
    through ``post(id, key, body)`` (returns the HTTP status) and are evaluated here."""
    from django.db import transaction

    from fleetwatch.inventory.models import Device, new_device_key
    from fleetwatch.monitoring.evaluation import evaluate_pending
    from fleetwatch.monitoring.ingestion import _micros
    from fleetwatch.monitoring.models import AlertSettings, Chart, DeviceHealth, DeviceState, Metric

    ids = [uuid.uuid4() for _ in range(devices)]
    keys = [new_device_key() for _ in range(devices)]
    for start in range(0, devices, batch):
        Device.objects.bulk_create(
            [
                Device(id=ids[i], organization_id=org_id, name=f"scale-{i:06d}", key=keys[i])
                for i in range(start, min(devices, start + batch))
            ]
        )
    fleet = [(str(pk), key) for pk, key in zip(ids, keys, strict=True)]
    templates = {False: 0} | ({True: 3} if devices > 3 else {})
    for i in templates.values():
        status = post(*fleet[i], bodies.body(i, -1))
        if status != 200:
            raise RuntimeError(f"the template report of device {i} got {status}")
    while evaluate_pending():
        pass
    shapes = {}
    for lte, i in templates.items():
        metrics = list(
            Metric.objects.filter(device_id=ids[i])
            .select_related("alert_settings")
            .prefetch_related("charts")
        )
        state = DeviceState.objects.get(device_id=ids[i])
        health = DeviceHealth.objects.filter(device_id=ids[i]).first()
        shapes[lte] = (metrics, state.series_seen, health)
    shapes.setdefault(True, shapes[False])
    primed_at = datetime.now(UTC) - timedelta(minutes=5)
    for start in range(0, devices, batch):
        chunk = [i for i in range(start, min(devices, start + batch)) if i not in templates.values()]
        if not chunk:
            continue
        with transaction.atomic():
            new_metrics, alert_of = [], []
            for i in chunk:
                for m in shapes[Bodies.lte(i)][0]:
                    new_metrics.append(
                        Metric(
                            device_id=ids[i],
                            configuration=m.configuration,
                            name=m.name,
                            key=m.key,
                            field_name=m.field_name,
                            main_tags=m.main_tags,
                            is_healthy=m.is_healthy,
                            is_healthy_tolerant=m.is_healthy_tolerant,
                        )
                    )
                    alert_of.append(m)
            Metric.objects.bulk_create(new_metrics)
            charts, alerts = [], []
            for metric, model in zip(new_metrics, alert_of, strict=True):
                charts += [
                    Chart(metric_id=metric.pk, configuration=c.configuration) for c in model.charts.all()
                ]
                a = getattr(model, "alert_settings", None)
                if a is not None:
                    alerts.append(
                        AlertSettings(
                            metric_id=metric.pk,
                            is_active=a.is_active,
                            operator=a.operator,
                            threshold=a.threshold,
                            tolerance=a.tolerance,
                        )
                    )
            Chart.objects.bulk_create(charts)
            AlertSettings.objects.bulk_create(alerts)
            states, healths = [], []
            for i in chunk:
                _, seen, health = shapes[Bodies.lte(i)]
                rx, tx = bodies.counters(i, -1)
                counters = {"wan": {"rx_bytes": rx, "tx_bytes": tx, "t": _micros(primed_at)}}
                counters["wlan0"] = {"rx_bytes": tx // 2, "tx_bytes": rx // 2, "t": _micros(primed_at)}
                states.append(
                    DeviceState(
                        device_id=ids[i], series_seen=seen, counters=counters, counters_time=primed_at
                    )
                )
                if health is not None:
                    healths.append(
                        DeviceHealth(device_id=ids[i], status=health.status, changed=health.changed)
                    )
            DeviceState.objects.bulk_create(states)
            DeviceHealth.objects.bulk_create(healths)
    return fleet


def write_history(backend_url, device_id: str, org_id: str, days: int, before: datetime) -> int:
    """``days`` of 5-minute points of the chart device (the demo simulator's router 0, parsed by
    the agent parser) written straight into the store, ending 5 minutes before ``before``."""
    from fleetwatch.ingest.netjson import extract
    from fleetwatch.monitoring.simulator import REPORT_INTERVAL, report
    from fleetwatch.timeseries import Point, load_backend

    if days <= 0:
        return 0
    backend = load_backend(backend_url)
    tags = {"content_type": "inventory.device", "object_id": device_id, "organization_id": org_id}
    end = before - timedelta(seconds=REPORT_INTERVAL)
    steps = days * 86400 // REPORT_INTERVAL
    start = end - timedelta(seconds=REPORT_INTERVAL * steps)
    floor = backend.retention_floor("default")
    written, points, previous = 0, [], None
    try:
        for step in range(steps):
            moment = start + timedelta(seconds=REPORT_INTERVAL * step)
            data = report(0, moment, start, False)
            if moment > floor:
                points += [
                    Point(s.measurement, s.fields, s.time, {**tags, **s.main_tags})
                    for s in extract(data, moment, previous)
                ]
            previous = data
            if len(points) >= 20_000:
                backend.write(points)
                written += len(points)
                points = []
        backend.write(points)
        written += len(points)
    finally:
        backend.close()
    return written


# ------------------------------------------------------------------------------ the client


class Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams (Content-Length and chunked bodies)."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one request, return ``(status, body)``. A connection the server closed while idle
        (keep-alive timeout: the request was never read) is opened again and the request sent
        once more."""
        for attempt in (0, 1):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                self.writer.write(data)
                await self.writer.drain()
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self.close()
                if attempt == 0 and not getattr(exc, "partial", b""):
                    continue
                raise
            return await self._rest(head)
        raise AssertionError("unreachable")

    async def _rest(self, head: bytes) -> tuple[int, bytes]:
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                close = True
        if chunked:
            body = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")
        else:
            body = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, body


class Load:
    """The paced reports and the chart probes of one run (asyncio, one thread)."""

    def __init__(self, args, port: int, fleet: list[tuple[str, str]], bodies: Bodies, token: str):
        self.args, self.port, self.fleet, self.bodies, self.token = args, port, fleet, bodies, token
        host = f"127.0.0.1:{port}".encode()
        self.heads = [
            b"POST /api/v1/monitoring/device/%s/?key=%s HTTP/1.1\r\nHost: %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: " % (pk.encode(), key.encode(), host)
            for pk, key in fleet
        ]
        chart_device = fleet[0][0]
        auth = f"Authorization: Token {token}\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        self.chart_requests = {
            name: f"GET {path} HTTP/1.1\r\n{auth}".encode()
            for name, path in zip(
                CHART_PATHS,
                (
                    f"/api/v1/monitoring/device/{chart_device}/?time=30d",
                    f"/api/v1/monitoring/device/{chart_device}/?time=365d",
                    "/api/v1/monitoring/dashboard/?time=7d",
                ),
                strict=True,
            )
        }
        # (due, sent, done, status) of every report answered (or failed)
        self.records: list[tuple[float, float, float, int | str]] = []
        self.warmup_statuses: collections.Counter = collections.Counter()
        self.charts: dict[str, list[float]] = {name: [] for name in CHART_PATHS}
        self.chart_spans: list[tuple[float, float]] = []  # (sent, done) of every chart probe
        self.chart_errors: collections.Counter = collections.Counter()
        self.chart_answers: dict[str, bytes] = {}  # the last 200 body of each chart probe
        self.queue: asyncio.Queue | None = None
        self.offered = 0
        self.in_flight = 0
        self.stopping = False

    def request(self, i: int, k: int) -> bytes:
        body = self.bodies.body(i, k)
        return self.heads[i] + b"%d\r\n\r\n" % len(body) + body

    async def run(self, t0: float, measure_from: float, measure_to: float) -> None:
        self.queue = asyncio.Queue()
        self.measure_from, self.measure_to = measure_from, measure_to
        senders = [
            asyncio.create_task(self._sender(Connection(self.port))) for _ in range(self.args.connections)
        ]
        charts = asyncio.create_task(self._charts(Connection(self.port)))
        await self._schedule(t0, measure_to)
        # Reports already due are still sent for at most --finish-cap seconds, then the senders
        # stop: the queue is emptied (what is left counts as unanswered) and each sender ends
        # after its request in flight. The flag, not only cancel(): Python 3.11's wait_for()
        # loses a cancellation that arrives as the request completes, and that sender would go
        # on through the whole backlog.
        for _ in senders:
            self.queue.put_nowait(None)
        await asyncio.wait(senders, timeout=self.args.finish_cap)
        self.stopping = True
        while not self.queue.empty():
            self.queue.get_nowait()
        for task in (*senders, charts):
            task.cancel()
        await asyncio.wait([*senders, charts], timeout=self.args.request_timeout)

    async def _schedule(self, t0: float, end: float) -> None:
        loop = asyncio.get_running_loop()
        n, period = len(self.fleet), self.args.interval
        gap = period / n
        seq = 0
        while True:
            k, i = divmod(seq, n)
            due = t0 + k * period + i * gap
            if due >= end:
                return
            delay = due - loop.time()
            if delay > 0.001:
                await asyncio.sleep(delay)
            self.queue.put_nowait((i, k, due))
            if due >= self.measure_from:
                self.offered += 1
            seq += 1

    async def _sender(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self.stopping and (item := await self.queue.get()) is not None:
                i, k, due = item
                data = self.request(i, k)
                self.in_flight += 1
                sent = loop.time()
                try:
                    status, _ = await asyncio.wait_for(conn.request(data), self.args.request_timeout)
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                    status = type(exc).__name__
                    conn.close()
                finally:
                    self.in_flight -= 1
                done = loop.time()
                self.records.append((due, sent, done, status))
                if due < self.measure_from:
                    self.warmup_statuses[status] += 1
        finally:
            conn.close()

    async def _charts(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.measure_from - loop.time()))
        while loop.time() < self.measure_to and not self.stopping:
            for name, data in self.chart_requests.items():
                if loop.time() >= self.measure_to:
                    break
                sent = loop.time()
                try:
                    status, body = await asyncio.wait_for(conn.request(data), self.args.request_timeout)
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                    status = type(exc).__name__
                    conn.close()
                self.chart_spans.append((sent, loop.time()))
                if status == 200:
                    self.charts[name].append(loop.time() - sent)
                    self.chart_answers[name] = body
                else:
                    self.chart_errors[f"{name}: {status}"] += 1
            await asyncio.sleep(self.args.chart_every)


# ------------------------------------------------------------------------------ sampling


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_and_rss(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident bytes of a process tree."""
    cpu, rss = 0.0, 0
    for process in tree(pid):
        try:
            times = process.cpu_times()
            cpu += times.user + times.system
            rss += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return cpu, rss


def pending_state() -> tuple[int, datetime | None]:
    """Reports waiting for an evaluation pass and the time of the oldest (one query)."""
    from django.db import connection

    from fleetwatch.monitoring.models import PendingEvaluation

    table = connection.ops.quote_name(PendingEvaluation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MIN(time) FROM {table}")
        count, oldest = cursor.fetchone()
    if isinstance(oldest, str):
        from django.utils.dateparse import parse_datetime

        oldest = parse_datetime(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return count, oldest


class Sampler:
    """Every ``every`` seconds, in a thread: the server's and the worker's CPU and memory, the
    reports pending evaluation (and the age of the oldest), the broker's messages, the client's
    backlog."""

    def __init__(self, queues: Queues, server_pid: int, worker_pid: int, load: Load, every: float):
        self.queues, self.server_pid, self.worker_pid, self.load, self.every = (
            queues,
            server_pid,
            worker_pid,
            load,
            every,
        )
        self.samples: list[dict] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self.thread.start()
        return self

    def sample(self) -> dict:
        now = datetime.now(UTC)
        pending, oldest = pending_state()
        server_cpu, server_rss = cpu_and_rss(self.server_pid)
        worker_cpu, worker_rss = cpu_and_rss(self.worker_pid)
        queue = self.load.queue
        return {
            "at": time.monotonic(),
            "pending": pending,
            "oldest_age": (now - oldest).total_seconds() if oldest else 0.0,
            "broker": self.queues.broker_messages(),
            "server_cpu": server_cpu,
            "server_rss": server_rss,
            "worker_cpu": worker_cpu,
            "worker_rss": worker_rss,
            "backlog": (queue.qsize() if queue else 0) + self.load.in_flight,
            "load": os.getloadavg()[0],
        }

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self.stopped.is_set():
                try:
                    self.samples.append(self.sample())
                except Exception as exc:  # a busy database: the next sample will do
                    print(f"(sample skipped: {exc})", file=sys.stderr)
                self.stopped.wait(self.every)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


def store_bytes(backend: str, data_dir: str, schema: str = "timeseries") -> int:
    """Bytes the time-series store takes: the SQLite file's pages in use, or the PostgreSQL
    schema's tables with their indexes and TOAST."""
    if backend == "sqlite":
        import sqlite3

        # The pages in use, after the WAL is written back (a WAL file only ever grows).
        db = sqlite3.connect(f"{data_dir}/timeseries.sqlite3", timeout=60)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = (
                db.execute("PRAGMA page_count").fetchone()[0]
                - db.execute("PRAGMA freelist_count").fetchone()[0]
            )
            return pages * db.execute("PRAGMA page_size").fetchone()[0]
        finally:
            db.close()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            [schema],
        )
        return int(cursor.fetchone()[0])


def evaluation_passes(log: Path, since: int) -> list[tuple[int, float, float]]:
    """``(reports, seconds, oldest waited)`` of the passes the worker logged after byte ``since``."""
    pattern = re.compile(rb"evaluation pass: (\d+) reports in ([\d.]+) s; the oldest waited (-?[\d.]+) s")
    with open(log, "rb") as f:
        f.seek(since)
        return [(int(a), float(b), float(c)) for a, b, c in pattern.findall(f.read())]


def profile(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    """py-spy sampling ``pid`` and its children for ``seconds`` (collapsed stacks into ``out``)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.path.exists(spy):
        print("(py-spy not installed: no profile)", file=sys.stderr)
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--rate",
            "50",
            "--format",
            "raw",
            *("--duration", str(max(1, int(seconds))), "--output", str(out), "--nonblocking"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# What a sample of the server was doing, by the first of these frames on its stack.
ACTIVITIES = (
    ("agent report (POST)", "agent_report ("),
    ("device chart API (GET)", "DeviceMonitoringView.get ("),
    ("dashboard API (GET)", "DashboardView.get ("),
    ("alert evaluation pass", "evaluate_pending ("),
)


def summarize_profile(path: Path, top: int = 20) -> list[str]:
    """A collapsed-stack file (py-spy ``--format raw``) as text: the share of samples per
    activity (:data:`ACTIVITIES`), then the project's and its libraries' frames with the largest
    inclusive share (the generic frames of threads, gunicorn and Django's handler left out), then
    the leaf frames with the largest self share."""
    inclusive, leaf, activity = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    if not path.exists():
        return [f"(no profile at {path})"]
    generic = (
        "threading.py",
        "concurrent/futures",
        "gunicorn/",
        "django/core/handlers",
        "django/utils/deprecation",
    )
    generic += ("celery/", "click/", "billiard/", "kombu/", "<frozen", "runpy", "middleware", "csrf.py")
    generic += ("views/generic/base.py", "rest_framework/views.py", "django/dispatch")
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        for name, marker in ACTIVITIES:
            if any(marker in f for f in frames):
                activity[name] += n
                break
        else:
            activity["other (idle loops, start-up, other tasks)"] += n
        for frame in set(frames):
            if not any(g in frame.lower() for g in generic):
                inclusive[frame] += n
        if frames:
            leaf[frames[-1]] += n
    if not total:
        return ["(no samples)"]
    share = lambda n: f"{100 * n / total:5.1f} %"  # noqa: E731
    lines = [f"{total} samples (50 a second of each process, idle threads left out); by activity:"]
    lines += [f"  {share(n)}  {name}" for name, n in activity.most_common()]
    lines.append("inclusive (frames below the request handler):")
    lines += [f"  {share(n)}  {frame}" for frame, n in inclusive.most_common(top)]
    lines.append("self (leaf frames):")
    lines += [f"  {share(n)}  {frame}" for frame, n in leaf.most_common(top // 2)]
    return lines


# ------------------------------------------------------------------------------ the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=300, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=30, help="seconds of load before measuring")
    parser.add_argument("--interval", type=float, default=300, help="seconds between a device's reports")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections of the client")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--port", type=int, help="default: the first free of 19100–19199")
    parser.add_argument(
        "--busy-hour",
        type=int,
        default=20,
        choices=range(24),
        metavar="0-23",
        help="UTC hour whose activity the reports have (WiFi clients; 20: the simulator's peak)",
    )
    parser.add_argument("--history-days", type=int, default=30, help="days of data of the chart device")
    parser.add_argument("--chart-every", type=float, default=2.0, help="pause between chart probe rounds")
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds between samples")
    parser.add_argument("--drain-cap", type=float, default=120, help="seconds to wait for evaluation after")
    parser.add_argument("--finish-cap", type=float, default=60, help="seconds to finish reports already due")
    parser.add_argument("--request-timeout", type=float, default=60)
    parser.add_argument(
        "--postgresql-url", default=DEFAULT_POSTGRESQL, help="a server to create a database on"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the server and the worker")
    args = parser.parse_args(argv)
    if args.devices < 1 or args.duration <= 0 or args.interval <= 0:
        parser.error("--devices, --duration and --interval must be positive")

    # A terminated run stops its server and worker (the finally below) and drops its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = args.port or free_port(range(19100, 19200))
    database = None
    server = Server(port=port, workers=args.workers, threads=args.threads, log="gunicorn.log")
    server.env["FLEETWATCH_LOG_LEVEL"] = "DEBUG"  # the evaluation passes' lines (libraries: WARNING)
    for name in ("FLEETWATCH_DATABASE", "FLEETWATCH_TIMESERIES", "FLEETWATCH_BROKER"):
        server.env.pop(name, None)  # the embedded defaults unless --backend says otherwise
    if args.backend == "postgresql":
        database = f"fw_scale_{os.getpid()}"
        _admin(args.postgresql_url, f'CREATE DATABASE "{database}"')
        url = re.sub(r"/[^/?]*(\?.*)?$", f"/{database}", args.postgresql_url)
        server.env["FLEETWATCH_DATABASE"] = url
        server.env["FLEETWATCH_TIMESERIES"] = f"{url}?schema=timeseries"
    timeseries_url = server.env.get("FLEETWATCH_TIMESERIES", f"sqlite:///{server.dir}/timeseries.sqlite3")
    worker = queues = sampler = None
    result = {}
    drained_at = None
    try:
        started = time.monotonic()
        server.start()
        queues = Queues(server)
        logging.getLogger("fleetwatch.monitoring.evaluation").setLevel(logging.WARNING)  # set-up's pass
        org = re.search(r"id: (\S+)", _command("org", "create", "--name", "Scale", "--slug", "scale"))[1]
        token = re.search(
            r"token: (\S+)",
            _command("user", "create", "--username", "scale", "--password", "scale-bench", "--org", "scale"),
        )[1]
        bodies = Bodies(busy_hour=args.busy_hour)

        def post(pk: str, key: str, body: bytes) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request(
                    "POST",
                    f"/api/v1/monitoring/device/{pk}/?key={key}",
                    body,
                    {"Content-Type": "application/json"},
                )
                response = conn.getresponse()
                response.read()
                return response.status
            finally:
                conn.close()

        fleet = bulk_register(org, args.devices, bodies, post)
        registered = time.monotonic()
        history = write_history(timeseries_url, fleet[0][0], org, args.history_days, datetime.now(UTC))
        history_done = time.monotonic()
        print(
            f"set-up: {args.devices:,} devices registered and primed in {registered - started:.1f} s; "
            f"{history:,} points of history ({args.history_days} days) in {history_done - registered:.1f} s",
            flush=True,
        )
        worker = Worker(server, concurrency=args.worker_concurrency).start()
        log_start = worker.log.stat().st_size
        size_before = store_bytes(args.backend, server.dir)
        load = Load(args, port, fleet, bodies, token)
        loop = asyncio.new_event_loop()
        t0 = loop.time() + 0.5
        measure_from, measure_to = t0 + args.warmup, t0 + args.warmup + args.duration
        sampler = Sampler(queues, server.process.pid, worker.process.pid, load, args.sample_every).start()
        profiles = {}

        async def window_marks():
            await asyncio.sleep(max(0.0, measure_from - loop.time()))
            result["start"] = _mark(server, worker)
            if args.profile:
                for name, pid in (("server", server.process.pid), ("worker", worker.process.pid)):
                    out = Path(server.dir) / f"profile-{name}.txt"
                    profiles[name] = (profile(pid, args.duration, out), out)
            await asyncio.sleep(max(0.0, measure_to - loop.time()))
            result["end"] = _mark(server, worker)

        async def everything():
            marks = asyncio.create_task(window_marks())
            await load.run(t0, measure_from, measure_to)
            await marks

        client_cpu = time.process_time()
        loop.run_until_complete(everything())
        loop.close()
        client_cpu = time.process_time() - client_cpu
        # Evaluation catches up (bounded by --drain-cap).
        deadline = time.monotonic() + args.drain_cap
        while time.monotonic() < deadline:
            if pending_state()[0] == 0:
                drained_at = time.monotonic()
                break
            time.sleep(0.5)
        result["drain_after_window"] = (
            None if drained_at is None else max(0.0, drained_at - result["end"]["at"])
        )
        time.sleep(min(args.sample_every, 1.0))
        sampler.stop()
        size_after = store_bytes(args.backend, server.dir)
        for proc, _ in profiles.values():
            if proc is not None:
                proc.wait(timeout=args.duration + 60)
        passes = evaluation_passes(worker.log, log_start)
        failures_logged = worker.log.read_bytes()[log_start:].count(b"alert evaluation of device")
        result.update(
            load=load,
            samples=sampler.samples,
            passes=passes,
            failures_logged=failures_logged,
            size=(size_before, size_after),
            client_cpu=client_cpu,
            profiles={name: summarize_profile(out) for name, (_, out) in profiles.items()},
            pending_final=pending_state()[0],
        )
    finally:
        if sampler is not None and sampler.thread.is_alive():
            sampler.stop()
        if worker:
            worker.stop()
        if queues:
            queues.close()
        server.stop()
        if database:
            _admin(args.postgresql_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return report(args, server, result, drained_at is not None)


def _command(*args: str) -> str:
    """A ``fleetwatch`` management command run in this process (its output)."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _mark(server: Server, worker: Worker) -> dict:
    server_cpu, _ = cpu_and_rss(server.process.pid)
    worker_cpu, _ = cpu_and_rss(worker.process.pid)
    return {
        "at": time.monotonic(),
        "server_cpu": server_cpu,
        "worker_cpu": worker_cpu,
        "load": os.getloadavg(),
    }


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def _overlaps(spans: list[tuple[float, float]], start: float, end: float) -> bool:
    """Whether ``[start, end]`` overlaps one of the sorted, disjoint ``spans``."""
    i = bisect.bisect_right(spans, (end, float("inf")))
    return i > 0 and spans[i - 1][1] >= start


def answer_size(body: bytes | None) -> str:
    """What a chart answer holds (its charts and non-null numbers), so that a fast answer can be
    told from an empty one."""
    if body is None:
        return "no answer"

    def numbers(value) -> int:
        if isinstance(value, dict):
            return sum(numbers(v) for v in value.values())
        if isinstance(value, list):
            return sum(numbers(v) for v in value)
        return int(isinstance(value, int | float) and not isinstance(value, bool))

    data = json.loads(body)
    charts = data.get("charts") if isinstance(data, dict) else None
    return f"last answer: {len(charts) if isinstance(charts, list) else '?'} charts, {numbers(charts or data):,} numbers"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f}"


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def report(args, server: Server, r: dict, drained: bool) -> int:
    """Print the run's figures; 0 when every report got 200 and evaluation drained."""
    load: Load = r["load"]
    start, end = r["start"], r["end"]
    window = end["at"] - start["at"]
    # Latency and throughput of the reports answered in the window, whenever they were due (an
    # overloaded server answers the warm-up's backlog then); statuses of those due in it.
    answered = [r for r in load.records if load.measure_from <= r[2] <= load.measure_to]
    records = [r for r in load.records if r[0] >= load.measure_from]
    statuses = collections.Counter(status for *_, status in records)
    in_window = sum(1 for *_, status in answered if status == 200)
    ok = in_window
    service = sorted(done - sent for _, sent, done, _ in answered)
    queued = sorted(done - due for due, _, done, _ in answered)
    unfinished = load.offered - len(records)
    offered_rate = load.offered / args.duration
    achieved = in_window / args.duration
    server_cpu = end["server_cpu"] - start["server_cpu"]
    worker_cpu = end["worker_cpu"] - start["worker_cpu"]
    samples = [s for s in r["samples"] if start["at"] <= s["at"] <= end["at"]] or r["samples"]
    after = r["samples"]
    print(
        f"\nscale run: {args.devices:,} devices every {args.interval:g} s on {args.backend}; "
        f"{args.duration:g} s measured after {args.warmup:g} s of warm-up; gunicorn {args.workers} × "
        f"{args.threads} threads, worker concurrency {args.worker_concurrency}, {args.connections} client connections"
    )
    print(f"data dir: {server.dir}")
    print(
        f"load average (1/5/15 min): {' / '.join(f'{x:.2f}' for x in start['load'])} at the start, "
        f"{' / '.join(f'{x:.2f}' for x in end['load'])} at the end, 1-min max "
        f"{max(s['load'] for s in samples):.2f}"
    )
    print(
        f"reports/s: offered {offered_rate:,.1f}, achieved {achieved:,.1f} (200s answered in the window; "
        f"{len(records):,} of {load.offered:,} due in it answered, {unfinished:,} unanswered)   "
        f"target {TARGET_RATE:.0f} sustained"
    )
    print(
        f"status codes: {dict(sorted(statuses.items(), key=str))}"
        + (f"; warm-up: {dict(load.warmup_statuses)}" if load.warmup_statuses else "")
    )
    non_200 = {k: v for k, v in (statuses + load.warmup_statuses).items() if k != 200}
    if non_200:
        print(f"NOT 200: {non_200}")
    print(
        f"latency ms of the {len(answered):,} reports answered in the window (send → answer): p50 {_ms(percentile(service, 50))}  p95 {_ms(percentile(service, 95))}  "
        f"p99 {_ms(percentile(service, 99))}  max {_ms(service[-1] if service else None)}   "
        f"target p99 <= {TARGET_P99_MS:.0f}"
    )
    alone = sorted(
        done - sent for _, sent, done, _ in answered if not _overlaps(load.chart_spans, sent, done)
    )
    print(
        f"latency ms of the {len(alone):,} reports no chart probe overlapped: p50 {_ms(percentile(alone, 50))}  "
        f"p95 {_ms(percentile(alone, 95))}  p99 {_ms(percentile(alone, 99))}"
    )
    print(
        f"latency ms (due → answer, with the client's queueing): p50 {_ms(percentile(queued, 50))}  "
        f"p95 {_ms(percentile(queued, 95))}  p99 {_ms(percentile(queued, 99))}; "
        f"client backlog max {max(s['backlog'] for s in samples):,}"
    )
    print(
        f"server (gunicorn tree): CPU {server_cpu / window:.2f} cores, {server_cpu * 1000 / max(ok, 1):.2f} ms "
        f"per report; resident memory max {_mb(max(s['server_rss'] for s in samples))}, "
        f"at the end {_mb(samples[-1]['server_rss'])}"
    )
    print(
        f"worker (Celery tree): CPU {worker_cpu / window:.2f} cores, {worker_cpu * 1000 / max(ok, 1):.2f} ms "
        f"per report; resident memory max {_mb(max(s['worker_rss'] for s in samples))}"
    )
    print(f"client: CPU {r['client_cpu'] / window:.2f} cores (the load generator shares the machine)")
    before, after_size = r["size"]
    stored = sum(1 for *_, status in load.records if status == 200)
    if stored:
        per_report = (after_size - before) / stored
        print(
            f"store: {_mb(after_size)} after, +{_mb(after_size - before)} for {stored:,} reports = "
            f"{per_report:,.0f} B per report, {per_report * REPORTS_PER_DAY / 1024:,.0f} KB per device-day"
        )
    for name in CHART_PATHS:
        timings = sorted(load.charts[name])
        print(
            f"{name} chart API under load: p50 {_ms(percentile(timings, 50))} ms  "
            f"p95 {_ms(percentile(timings, 95))} ms  ({len(timings)} requests; "
            f"{answer_size(load.chart_answers.get(name))})"
        )
    if load.chart_errors:
        print(f"chart API errors: {dict(load.chart_errors)}")
    passes = r["passes"]
    worst = max((waited for *_, waited in passes), default=None)
    print(
        f"alert evaluation: {sum(n for n, *_ in passes):,} reports in {len(passes)} passes; the oldest report "
        f"of a pass waited at most {'n/a' if worst is None else f'{worst:.1f}'} s "
        f"(worker log); oldest pending report seen {max(s['oldest_age'] for s in after):.1f} s "
        f"(sampled every {args.sample_every:g} s)   target <= {TARGET_LAG_S:.0f} s"
    )
    print(
        f"evaluation queue: pending reports max {max(s['pending'] for s in after):,} "
        f"(in the window {max(s['pending'] for s in samples):,}), at the end of the window "
        f"{samples[-1]['pending']:,}, final {r['pending_final']:,}; broker messages max "
        f"{max(s['broker'] for s in after):,}, final {after[-1]['broker']:,}; "
        + (
            f"drained {r['drain_after_window']:.1f} s after the window"
            if drained
            else f"NOT drained within {args.drain_cap:g} s"
        )
        + (f"; {r['failures_logged']} failed evaluations logged" if r["failures_logged"] else "")
    )
    for name, lines in r["profiles"].items():
        print(f"\nprofile of the {name}:")
        print("\n".join(lines))
    verdicts = [
        ("100,000 devices", args.devices >= 100_000),
        (f"{TARGET_RATE:.0f} reports/s sustained", achieved >= 0.99 * TARGET_RATE),
        ("offered rate sustained", achieved >= 0.99 * offered_rate),
        ("30 min", args.duration >= 1800),
        (f"p99 <= {TARGET_P99_MS:.0f} ms", (percentile(service, 99) or 0) * 1000 <= TARGET_P99_MS),
        (f"evaluation within {TARGET_LAG_S:.0f} s", worst is not None and worst <= TARGET_LAG_S and drained),
    ]
    print("\ntargets: " + "; ".join(f"{name}: {'met' if good else 'MISSED'}" for name, good in verdicts))
    return 0 if not non_200 and drained and not unfinished else 1


if __name__ == "__main__":
    sys.exit(main())
