"""A `fleetwatch worker` (with its schedule) for a bench Server, and what its queues hold: the
broker's messages and the reports waiting for an alert evaluation pass. Used by bench/ingest.py."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.server import Server, process_tree


class Worker:
    def __init__(self, server: Server, concurrency: int = 2):
        self.server = server
        self.concurrency = concurrency
        self.log = Path(server.dir) / "worker.log"
        self.process = None

    def start(self, timeout: float = 60) -> Worker:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fleetwatch", "worker", "--concurrency", str(self.concurrency)],
                # DEBUG: its readiness line below (and the evaluation passes' lines bench/scale reads)
                env={**self.server.env, "FLEETWATCH_LOG_LEVEL": "DEBUG"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"fleetwatch.worker: worker ready" in self.log.read_bytes():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"worker did not start, see {self.log}")

    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # warm shutdown: running tasks finish
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Queues:
    """Reads the server's database and broker in this process (Django set up on its data dir)."""

    def __init__(self, server: Server):
        for name in (
            "FLEETWATCH_DATA_DIR",
            "FLEETWATCH_TIMESERIES",
            "FLEETWATCH_BROKER",
            "FLEETWATCH_DATABASE",
        ):
            if name in server.env:
                os.environ[name] = server.env[name]
        os.environ["DJANGO_SETTINGS_MODULE"] = "fleetwatch.settings"
        import django

        django.setup()
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)  # "No hostname was supplied"
        self._connection = None

    def broker_messages(self) -> int:
        """Messages waiting in the default queue (any broker kombu speaks)."""
        from fleetwatch.celery import app

        if self._connection is None:
            self._connection = app.connection_for_read()
        channel = self._connection.default_channel
        return channel.queue_declare(queue=app.conf.task_default_queue, passive=True).message_count

    def pending_reports(self) -> int | None:
        """Reports recorded for the next evaluation pass (None before batched evaluation)."""
        try:
            from fleetwatch.monitoring.models import PendingEvaluation
        except ImportError:
            return None
        return PendingEvaluation.objects.count()

    def unhealthy(self, configuration: str, organization: str) -> int:
        from fleetwatch.monitoring.models import Metric

        return Metric.objects.filter(
            configuration=configuration, is_healthy=False, device__organization__slug=organization
        ).count()

    def close(self) -> None:
        from django.db import connection

        if self._connection is not None:
            self._connection.release()
        connection.close()
