"""A throwaway Fleetwatch (gunicorn, embedded SQLite default) for benchmarks, plus /proc CPU
accounting of its processes. Used by bench/ingest.py and bench/charts.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == parent:
                    pids.append(int(entry.name))
                    frontier.append(int(entry.name))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def free_port(ports) -> int:
    """The first of ``ports`` (an iterable of numbers) free on 127.0.0.1, bound as gunicorn
    binds (SO_REUSEADDR); RuntimeError when none is."""
    for port in ports:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


class Server:
    def __init__(
        self,
        port: int = 8765,
        workers: int = 2,
        threads: int = 4,
        timeseries: str | None = None,
        log: str | None = None,
    ):
        self.dir = tempfile.mkdtemp(prefix="fw-bench-server-")
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "FLEETWATCH_DATA_DIR": self.dir,
            "DJANGO_SETTINGS_MODULE": "fleetwatch.settings",
            # A benchmark's server reports no usage metrics (loopback only).
            "FLEETWATCH_USAGE_METRICS": "false",
        }
        if timeseries:
            self.env["FLEETWATCH_TIMESERIES"] = timeseries
        self.workers, self.threads = workers, threads
        # A file for gunicorn's output, relative to the data dir (default: this process's output).
        self.log = os.path.join(self.dir, log) if log else None
        self._log_file = None
        self.process = None

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "fleetwatch", *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def start(self) -> Server:
        self.manage("migrate", "--verbosity", "0")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleetwatch",
                "serve",
                "--no-migrate",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
            ],
            env=self.env,
            **self._output(),
        )
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{self.url}/api/v1/health/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        time.sleep(0.5)  # let every worker finish booting
        return self

    def _output(self) -> dict:
        if not self.log:
            return {}
        self._log_file = open(self.log, "ab")  # closed in stop()
        return {"stdout": self._log_file, "stderr": subprocess.STDOUT}

    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if self._log_file:
            self._log_file.close()
