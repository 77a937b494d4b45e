"""Fault test: a fleet's agents keep reporting while the server side fails, then the stored
traffic is checked against what the interface counters really moved.

    PYTHONPATH=$PWD/src .venv/bin/python bench/faults.py kill-worker                  # ~1 min
    PYTHONPATH=$PWD/src .venv/bin/python bench/faults.py stop-store --timeseries postgresql
    PYTHONPATH=$PWD/src .venv/bin/python bench/faults.py stop-store --timeseries influxdb --quick

Fleetwatch runs under gunicorn (bench/server.py, port 8790) with the time-series store given by
--timeseries: the embedded SQLite file, or PostgreSQL / InfluxDB 1.x started (and at the end
stopped, if it was not running before) with scripts/services/ and emptied first. One thread per
device plays the OpenWrt agent: interface counters (rx/tx bytes of wlan0 and eth0) that only
grow, one report per simulated 5 minutes with an explicit `time` (back-dated, so a run covers
hours), produced on a wall-clock tick (--tick). The agent's retry rule: a report answered 5xx,
timed out or met a connection error is kept and sent again (same time, same body) before any
newer one, after --retry seconds; a 4xx drops it. Bounded: --max-attempts per report, --max-wall
for the run.

Scenarios, while the agents post:
  kill-worker  SIGKILL a gunicorn worker (not the master) serving a request, --kills times;
               gunicorn replaces it.
  stop-store   stop the time-series server with its service script, wait --outage seconds
               (60), start it again: Fleetwatch must reconnect by itself.
In both, agents also re-send a report already answered 200 (as after a lost response, share
--resend-rate) and send two reports out of order (share --swap-rate): the totals must not move.
Which reports those are follows from --seed; set both rates to 0 to see the faults alone.
--quick: 4 devices, a few seconds of posting, a 10 s outage (for tests).

Printed: reports generated, requests sent, answers by status, reports lost (never answered
200), points stored, traffic stored against the true total, the difference and what was
counted twice. The true total of an interface counter is (last − first) + first: the first
report of a device counts its counter whole. Exit status 0 only when no report was lost and
the stored traffic equals the true total.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ingest.payloads import example_report

from bench.server import Server

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"postgresql": "postgresql", "influxdb": "influxdb1"}  # --timeseries → service script
INTERVAL = timedelta(minutes=5)  # simulated time between two reports of a device
TIME_FORMAT = "%d-%m-%Y_%H:%M:%S.%f"  # the agent's `time` parameter
INTERFACES = ("wlan0", "eth0")  # the example report's interfaces with statistics
FIELDS = ("rx_bytes", "tx_bytes")
NAMED_ANSWERS = ("200", "400", "403", "404", "503")


@dataclass
class Report:
    seq: int
    time: datetime
    path: str
    body: bytes
    counters: dict[str, tuple[int, int]]  # interface → (rx_bytes, tx_bytes)
    attempts: int = 0
    acked: bool = False  # answered 200 at least once
    dropped: str = ""  # why the agent gave it up
    resend: bool = False  # planned: sent again after its first 200 (as after a lost response)
    swap: bool = False  # planned: sent after the next report (out of order)
    echoed: bool = False  # the planned re-send is under way


@dataclass
class Agent:
    index: int
    pk: str
    reports: list[Report]
    backlog: deque = field(default_factory=deque)
    generated: int = 0
    swapped: int = 0  # pairs sent newer first
    echoes: int = 0  # reports sent again after a 200


class Run:
    """What the agents share: settings, the clock, and every answer (time, outcome)."""

    def __init__(self, args, devices: int):
        self.port = args.port
        self.tick = args.tick
        self.retry = args.retry
        self.timeout = args.timeout
        self.keep_alive = args.keep_alive
        self.max_attempts = args.max_attempts
        self.devices = devices
        self.t0 = 0.0
        self.deadline = 0.0
        self.answers: list[tuple[float, str, float]] = []  # (time, outcome, seconds); list.append is atomic

    def record(self, moment: float, outcome: str, seconds: float) -> None:
        self.answers.append((moment, outcome, seconds))


def build_reports(pk: str, key: str, count: int, start: datetime, rng: random.Random, args) -> list[Report]:
    """A device's reports, with which are re-sent and which are swapped decided beforehand:
    a run's requests per device, and so what the server stores, depend only on the seed and
    on which requests the faults cut."""
    plan = random.Random(rng.random())
    counters = {name: [rng.randrange(10**8), rng.randrange(10**7)] for name in INTERFACES}
    uptime = rng.randrange(3600, 86400)
    reports = []
    for seq in range(count):
        if seq:
            for values in counters.values():
                values[0] += rng.randrange(2_000_000)
                values[1] += rng.randrange(500_000)
        moment = start + seq * INTERVAL
        body = example_report()
        body["general"].update(uptime=uptime + seq * 300, local_time=int(moment.timestamp()))
        for iface in body["interfaces"]:
            if iface["name"] in counters:
                iface["statistics"]["rx_bytes"], iface["statistics"]["tx_bytes"] = counters[iface["name"]]
        stamp = moment.strftime(TIME_FORMAT)
        reports.append(
            Report(
                seq,
                moment,
                f"/api/v1/monitoring/device/{pk}/?key={key}&time={stamp}",
                json.dumps(body).encode(),
                {name: tuple(values) for name, values in counters.items()},
                resend=plan.random() < args.resend_rate,
                swap=seq + 1 < count and plan.random() < args.swap_rate,
            )
        )
    return reports


def post(run: Run, report: Report, conn):
    """One attempt: (outcome, connection to reuse). Outcome: the status as text, "timeout" or
    "conn error"."""
    began = time.monotonic()
    try:
        if run.keep_alive:
            outcome, conn = _post_keep_alive(run, report, conn)
        else:
            outcome = _post_once(run, report)
    except TimeoutError:
        outcome = "timeout"
    except (OSError, http.client.HTTPException):
        outcome = "conn error"
    if conn is not None and not outcome.isdigit():
        conn.close()
        conn = None
    now = time.monotonic()
    run.record(now, outcome, now - began)
    return outcome, conn


def _post_once(run: Run, report: Report) -> str:
    """One connection per report, as the agent's curl. The request says `Connection: close`
    and the answer is read to the end of the stream, so the server closes first and the
    TIME_WAIT stays on its side: thousands of client-side TIME_WAITs hold ephemeral ports
    (32768–60999 on Linux). The services' ports lie below that range since this was found
    (scripts/services/), but a client that closes first still wastes the port range."""
    request = (
        f"POST {report.path} HTTP/1.1\r\nHost: 127.0.0.1:{run.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(report.body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + report.body
    with socket.create_connection(("127.0.0.1", run.port), timeout=run.timeout) as sock:
        sock.sendall(request)
        answer = bytearray()
        while chunk := sock.recv(65536):
            answer += chunk
    status_line = bytes(answer).split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        return "conn error"  # closed before a whole status line (a killed worker)
    return status_line[1].decode()


def _post_keep_alive(run: Run, report: Report, conn):
    if conn is None:
        conn = http.client.HTTPConnection("127.0.0.1", run.port, timeout=run.timeout)
    conn.request("POST", report.path, report.body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.will_close:
        conn.close()
        conn = None
    return str(response.status), conn


def agent_loop(agent: Agent, run: Run) -> None:
    """Generate a report per tick; send the backlog oldest first; stop at the first failure
    and retry after --retry seconds; finish when everything is sent or at the deadline."""
    n = len(agent.reports)
    offset = run.tick * agent.index / run.devices  # spread the fleet over a tick
    held = None  # a report waiting to be sent after the next one (out of order)
    conn = None
    while True:
        now = time.monotonic()
        if now >= run.deadline:
            break
        while agent.generated < n and now >= run.t0 + offset + agent.generated * run.tick:
            report = agent.reports[agent.generated]
            agent.generated += 1
            if held is not None:
                agent.backlog.extend((report, held))
                agent.swapped += 1
                held = None
            elif report.swap:
                held = report
            else:
                agent.backlog.append(report)
        failed = False
        while agent.backlog and time.monotonic() < run.deadline:
            report = agent.backlog[0]
            outcome, conn = post(run, report, conn)
            report.attempts += 1
            if outcome == "200":
                report.acked = True
                if report.resend and not report.echoed:
                    report.echoed = True  # the answer "got lost": the agent sends it again
                    agent.echoes += 1
                    continue
                agent.backlog.popleft()
            elif outcome.startswith("4"):
                report.dropped = f"answered {outcome}"
                agent.backlog.popleft()
            else:
                failed = True
                if report.attempts >= run.max_attempts:
                    report.dropped = f"{report.attempts} attempts"
                    agent.backlog.popleft()
                break
        if agent.generated == n and not agent.backlog:
            break
        now = time.monotonic()
        wake = run.t0 + offset + agent.generated * run.tick if agent.generated < n else run.deadline
        if failed:
            wake = min(wake, now + run.retry)
        time.sleep(max(0.0, min(wake, run.deadline) - now))
    if conn is not None:
        conn.close()


# --------------------------------------------------------------------------- services


def service(name: str, action: str) -> tuple[int, str]:
    """Run scripts/services/<script>.sh <action>: (exit status, last line of its output)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "services" / f"{SERVICES[name]}.sh"), action],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode and action != "status":
        sys.stderr.write(done.stderr[-2000:])
        raise RuntimeError(f"{SERVICES[name]}.sh {action} failed ({done.returncode})")
    lines = done.stdout.strip().splitlines()
    return done.returncode, lines[-1] if lines else ""


def say(run: Run, text: str) -> None:
    print(f"[{time.monotonic() - run.t0:6.1f} s] {text}", file=sys.stderr, flush=True)


def busy_workers(workers: list[int], port: int) -> list[int]:
    """Workers holding an accepted connection on the port (agents close theirs after each
    answer, so such a worker is serving a request)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[1].endswith(f":{port:04X}") and cols[3] == "01":  # local port, ESTABLISHED
                inodes.add(cols[9])
    busy = []
    for pid in workers:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            busy.append(pid)
    return busy


def kill_workers(server: Server, run: Run, kills: int, span: float, rng: random.Random) -> list[str]:
    """At evenly spread moments, SIGKILL a worker, preferring one that is serving a request;
    when no request was cut (it ended first), kill again, up to 5 times per moment."""
    events = []
    master = server.process.pid
    for i in range(kills):
        time.sleep(max(0.0, run.t0 + span * (i + 1) / (kills + 1) - time.monotonic()))
        for _ in range(5):
            workers = [pid for pid in server.pids() if pid != master]
            if not workers:
                events.append("no worker to kill")
                break
            give_up = time.monotonic() + 2
            while not (busy := busy_workers(workers, run.port)) and time.monotonic() < give_up:
                time.sleep(0.001)
            victim = rng.choice(busy or workers)
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            time.sleep(1.0)  # the cut requests answer at once; the new worker boots meanwhile
            cut = sum(
                1
                for end, outcome, seconds in list(run.answers)
                if outcome == "conn error" and end - seconds <= killed_at <= end
            )
            events.append(
                f"SIGKILL worker {victim} at {killed_at - run.t0:.1f} s: {cut} request{'' if cut == 1 else 's'} cut"
            )
            say(run, events[-1])
            if cut:
                break
    return events


def stop_store(name: str, run: Run, warmup: float, outage: float) -> dict:
    time.sleep(max(0.0, run.t0 + warmup - time.monotonic()))
    say(run, f"stopping {name}")
    marks = {"stop": time.monotonic()}
    service(name, "stop")
    marks["stopped"] = time.monotonic()
    say(run, f"{name} stopped; waiting {outage:.0f} s")
    time.sleep(outage)
    say(run, f"starting {name}")
    marks["start"] = time.monotonic()
    service(name, "start")
    marks["started"] = time.monotonic()
    say(run, f"{name} answering again")
    return marks


def progress(agents: list[Agent], run: Run, done: threading.Event) -> None:
    while not done.wait(15):
        queued = sum(len(a.backlog) for a in agents)
        acked = sum(r.acked for a in agents for r in a.reports)
        say(run, f"{len(run.answers)} requests, {acked} reports answered 200, {queued} queued")


# --------------------------------------------------------------------------- checking


def stored_traffic(url: str, agents: list[Agent]) -> tuple[dict, dict[str, int]]:
    """{(device, interface): {time: {field: value}}} of measurement traffic, and the points
    stored per measurement, read through Fleetwatch's own backend."""
    from fleetwatch.timeseries import ReadQuery, load_backend

    backend = load_backend(url)
    try:
        stored: dict = {}
        for agent in agents:
            rows = backend.read(ReadQuery("traffic", FIELDS, tags={"object_id": agent.pk}))
            for row in rows:
                stored.setdefault((agent.index, row.tags.get("ifname")), {})[row.time] = row.fields
        return stored, backend.count_points()
    finally:
        backend.close()


def answers_line(answers: Counter) -> str:
    parts = [f"{code}: {answers.get(code, 0)}" for code in NAMED_ANSWERS]
    other_4xx = {k: v for k, v in answers.items() if k.startswith("4") and k not in NAMED_ANSWERS}
    other_5xx = {k: v for k, v in answers.items() if k.startswith("5") and k not in NAMED_ANSWERS}
    other = {k: v for k, v in answers.items() if k.isdigit() and k[0] not in "45" and k != "200"}
    for name, group in (("other 4xx", other_4xx), ("other 5xx", other_5xx), ("other", other)):
        detail = f" {dict(sorted(group.items()))}" if group else ""
        parts.append(f"{name}: {sum(group.values())}{detail}")
    parts += [f"timeouts: {answers.get('timeout', 0)}", f"conn errors: {answers.get('conn error', 0)}"]
    return "  ".join(parts)


def log_summary(path: str) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "no log"
    counts = {
        "tracebacks": text.count("Traceback (most recent call last)"),
        "Internal Server Error": text.count("Internal Server Error"),
        "WORKER TIMEOUT": text.count("WORKER TIMEOUT"),
        "SIGKILL notices": len(re.findall(r"was sent SIGKILL", text)),
        "'not stored' warnings": text.count("not stored, time-series store unavailable"),
    }
    return ", ".join(f"{k} {v}" for k, v in counts.items()) + f" ({path})"


def window(answers, begin: float, end: float) -> Counter:
    return Counter(outcome for moment, outcome, _ in answers if begin <= moment < end)


def report(args, run: Run, agents: list[Agent], url: str, server: Server, fault_lines: list[str]) -> int:
    reports = [r for a in agents for r in a.reports[: a.generated]]
    answers = Counter(outcome for _, outcome, _ in run.answers)
    lost = [r for r in reports if not r.acked]
    dropped_4xx = sum(r.dropped.startswith("answered") for r in reports)
    gave_up = sum(r.dropped.endswith("attempts") for r in reports)
    still_queued = sum(1 for r in lost if not r.dropped)
    latencies = sorted(seconds for _, outcome, seconds in run.answers)
    slowest = sorted(run.answers, key=lambda answer: -answer[2])[:3]

    stored, per_measurement = stored_traffic(url, agents)
    true_total = stored_total = 0
    expected_points = missing = unexpected = off_delta = 0
    for agent in agents:
        generated = agent.reports[: agent.generated]
        if not generated:
            continue
        first, last = generated[0], generated[-1]
        for name in INTERFACES:
            points = stored.get((agent.index, name), {})
            times = {r.time: r for r in generated}
            acked_times = {r.time for r in generated if r.acked}
            expected_points += len(acked_times)
            missing += len(acked_times - points.keys())
            unexpected += len(points.keys() - times.keys())
            for k, field_name in enumerate(FIELDS):
                true_total += last.counters[name][k] - first.counters[name][k] + first.counters[name][k]
                stored_total += sum(round(fields.get(field_name) or 0) for fields in points.values())
            for moment, fields in points.items():
                r = times.get(moment)
                if r is None:
                    continue
                before = agent.reports[r.seq - 1].counters[name] if r.seq else (0, 0)
                delta = [r.counters[name][k] - before[k] for k in range(2)]
                if [round(fields.get(f) or 0) for f in FIELDS] != delta:
                    off_delta += 1
    difference = stored_total - true_total

    backend_name = args.timeseries if args.timeseries != "sqlite" else "sqlite (embedded)"
    simulated = max(a.generated for a in agents) * INTERVAL
    print()
    print(
        f"scenario {args.scenario}{' (quick)' if args.quick else ''}, time series: {backend_name}, "
        f"{len(agents)} devices × {args.reports} reports (every 5 min simulated, "
        f"{simulated.total_seconds() / 3600:.1f} h; one per {args.tick:g} s), gunicorn {args.workers} workers × "
        f"{args.threads} threads on :{args.port}, seed {args.seed}"
    )
    for line in fault_lines:
        print(f"fault: {line}")
    print(f"reports generated:  {len(reports)}")
    print(
        f"requests sent:      {len(run.answers)}  (re-sent after a 200: {sum(a.echoes for a in agents)}, "
        f"out-of-order pairs: {sum(a.swapped for a in agents)})"
    )
    print(f"answers:            {answers_line(answers)}")
    if latencies:
        print(
            f"answer time:        p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
            f"p99 {latencies[max(0, math.ceil(0.99 * len(latencies)) - 1)] * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms; slowest: "
            + ", ".join(f"{sec:.2f} s ({outcome})" for _, outcome, sec in slowest)
        )
    print(
        f"reports lost:       {len(lost)}  (never answered 200; dropped on 4xx: {dropped_4xx}, "
        f"gave up after {args.max_attempts} attempts: {gave_up}, still queued at the time limit: {still_queued})"
    )
    print(
        f"points stored:      traffic {sum(len(p) for p in stored.values())} "
        f"(expected {expected_points}: missing {missing}, unexpected {unexpected}; "
        f"{off_delta} differ from their report's counter delta); all measurements "
        f"{sum(per_measurement.values())} {dict(sorted(per_measurement.items()))}"
    )
    print(f"traffic stored:     {stored_total:,} bytes")
    print(f"traffic true total: {true_total:,} bytes")
    print(f"difference:         {difference:+,} bytes")
    print(f"counted twice:      {max(0, difference):,} bytes")
    print(f"server log:         {log_summary(server.log)}")
    ok = not lost and difference == 0
    print(f"result:             {'PASS' if ok else 'FAIL'} (target: 0 lost, 0 counted twice)")
    return 0 if ok else 1


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("scenario", choices=("kill-worker", "stop-store"))
    parser.add_argument("--timeseries", choices=("sqlite", *SERVICES), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="few devices, short outage (for tests)")
    parser.add_argument("--devices", type=int)
    parser.add_argument("--reports", type=int, help="reports per device (default: enough to span the faults)")
    parser.add_argument("--tick", type=float, help="wall seconds per simulated 5-minute interval")
    parser.add_argument(
        "--retry", type=float, help="seconds before retrying after a failure (default: a tick)"
    )
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds an agent waits for an answer")
    parser.add_argument("--max-attempts", type=int, default=1000, help="attempts before a report is given up")
    parser.add_argument(
        "--max-wall", type=float, help="seconds before the agents stop (default: generation + 120)"
    )
    parser.add_argument(
        "--kills", type=int, help="kill-worker: how many times to SIGKILL a worker serving a request"
    )
    parser.add_argument("--outage", type=float, help="stop-store: seconds the store stays down (default 60)")
    parser.add_argument("--warmup", type=float, help="stop-store: seconds of posting before the stop")
    parser.add_argument("--resend-rate", type=float, default=0.05, help="share of 200s answered by a re-send")
    parser.add_argument(
        "--swap-rate", type=float, default=0.05, help="share of reports sent after the next one"
    )
    parser.add_argument("--keep-alive", action="store_true", help="reuse connections (the agent does not)")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.scenario == "stop-store" and args.timeseries == "sqlite":
        parser.error("stop-store needs a time-series server: --timeseries postgresql or influxdb")
    quick = args.quick
    if args.devices is None:
        args.devices = 4 if quick else 20
    if args.tick is None:
        args.tick = (0.1 if quick else 0.25) if args.scenario == "kill-worker" else (0.5 if quick else 1.0)
    if args.retry is None:
        args.retry = args.tick
    if args.kills is None:
        args.kills = 2 if quick else 3
    if args.outage is None:
        args.outage = 10.0 if quick else 60.0
    if args.warmup is None:
        args.warmup = 2.0 if quick else 10.0
    if args.reports is None:
        span = (4.0 if quick else 30.0) if args.scenario == "kill-worker" else args.warmup + args.outage + 15
        args.reports = math.ceil(span / args.tick)
    if args.max_wall is None:
        args.max_wall = args.reports * args.tick + (30 if quick else 120)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started_service = False
    try:
        if args.timeseries == "sqlite":
            url = None
        else:
            from fleetwatch.timeseries import load_backend

            started_service = service(args.timeseries, "status")[0] != 0
            url = service(args.timeseries, "start")[1]
            load_backend(url).flush()  # a clean store: the check counts what this run wrote
        server = Server(
            port=args.port, workers=args.workers, threads=args.threads, timeseries=url, log="gunicorn.log"
        )
        run = Run(args, args.devices)
        try:
            agents, fault_lines = exercise(args, server, run)
        finally:
            server.stop()
        return report(
            args, run, agents, url or f"sqlite:///{server.dir}/timeseries.sqlite3", server, fault_lines
        )
    finally:
        if started_service:
            service(args.timeseries, "stop")


def exercise(args, server: Server, run: Run) -> tuple[list[Agent], list[str]]:
    """Start the server and the fleet, inject the faults, wait for the agents to finish."""
    server.start()
    server.manage("org", "create", "--name", "Faults", "--slug", "faults")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - INTERVAL * (args.reports + 1)
    agents = []
    for i in range(args.devices):
        out = server.manage("device", "create", "--org", "faults", "--name", f"faults-{i:04d}")
        pk, key = re.search(r"id: (\S+)", out).group(1), re.search(r"key: (\S+)", out).group(1)
        rng = random.Random(f"{args.seed}-{i}")
        agents.append(Agent(i, pk, build_reports(pk, key, args.reports, start, rng, args)))
    run.t0 = time.monotonic()
    run.deadline = run.t0 + args.max_wall
    threads = [threading.Thread(target=agent_loop, args=(a, run), daemon=True) for a in agents]
    for t in threads:
        t.start()
    done = threading.Event()
    threading.Thread(target=progress, args=(agents, run, done), daemon=True).start()
    if args.scenario == "kill-worker":
        fault_lines = kill_workers(
            server, run, args.kills, args.reports * args.tick, random.Random(args.seed)
        )
    else:
        marks = stop_store(args.timeseries, run, args.warmup, args.outage)
    for t in threads:
        t.join()
    done.set()
    say(run, "agents finished")
    if args.scenario == "kill-worker":
        alive = [pid for pid in server.pids() if pid != server.process.pid]
        fault_lines.append(f"{len(alive)} of {args.workers} workers running at the end")
        return agents, fault_lines
    after = [(m, o) for m, o, _ in run.answers if m >= marks["started"]]
    first_ok = next((m for m, o in after if o == "200"), None)
    failures_after = [m for m, o in after if o != "200"]
    return agents, [
        f"{args.timeseries} stopped at {marks['stop'] - run.t0:.1f} s (took {marks['stopped'] - marks['stop']:.1f} s), "
        f"started at {marks['start'] - run.t0:.1f} s (answering after {marks['started'] - marks['start']:.1f} s)",
        f"answers while it was stopping: {dict(window(run.answers, marks['stop'], marks['stopped']))}",
        f"answers while it was down: {dict(window(run.answers, marks['stopped'], marks['start']))}",
        f"answers while it was starting: {dict(window(run.answers, marks['start'], marks['started']))}",
        "first 200 after it answered again: "
        + (f"{first_ok - marks['started']:.1f} s later" if first_ok is not None else "never"),
        f"failures after it answered again: {len(failures_after)} "
        f"{dict(Counter(o for m, o in after if o != '200'))}"
        + (f", the last {failures_after[-1] - marks['started']:.1f} s after" if failures_after else ""),
    ]


if __name__ == "__main__":
    sys.exit(main())
