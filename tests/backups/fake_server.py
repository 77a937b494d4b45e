"""A stand-in for the REST lifecycle of backup runs (``/api/v1/backups/runs/…``), for the runner's
tests: it answers as the spec says (201 new run, 200 a retry with the same ``run_id``; files;
close) and records every request. ``FakeHTTP`` plugs into ``runner.Client`` without a socket;
``serve()`` puts the same answers behind a real HTTP server on 127.0.0.1 (for the command run as
a process)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/api/v1/backups/"


@dataclass
class FakeResponse:
    status: int
    data: bytes
    headers: dict = field(default_factory=dict)


class Lifecycle:
    """The server's state: runs by id, and the requests it received (method, path, body)."""

    def __init__(self, token: str = "fwb_test", jobs: tuple[str, ...] = ()):
        self.token, self.jobs = token, set(jobs)
        self.runs: dict[int, dict] = {}
        self.requests: list[tuple[str, str, dict | None]] = []

    def answer(self, method: str, path: str, body: dict | None, authorization: str) -> tuple[int, dict]:
        path = path.split("://", 1)[-1]
        path = path[path.index(PREFIX) :] if PREFIX in path else path
        self.requests.append((method, path, body))
        if authorization != f"Bearer {self.token}":
            return 401, {"detail": "Invalid token."}
        if (method, path) == ("POST", PREFIX + "runs/"):
            if body["job"] not in self.jobs:
                return 400, {"detail": "Unknown job.", "errors": {"job": ["No such job."]}}
            for run in self.runs.values():
                if run["run_id"] == body["run_id"]:
                    return 200, run
            run_id = len(self.runs) + 1
            self.runs[run_id] = {
                "id": run_id,
                "name": f"dump.s1.{run_id}",
                "status": "ongoing",
                "files": [],
                **body,
            }
            return 201, self.runs[run_id]
        match = re.fullmatch(PREFIX + r"runs/(\d+)/(files|close)/", path)
        if method == "POST" and match and int(match.group(1)) in self.runs:
            run = self.runs[int(match.group(1))]
            if match.group(2) == "files":
                run["files"] += body["files"]
                return 200, run
            if run["status"] not in ("ongoing", body["status"]):
                return 409, {"detail": "Already closed."}
            run.update(body)
            return 200, run
        return 404, {"detail": "Not found."}


class FakeHTTP:
    """A ``urllib3.PoolManager`` look-alike answering from a :class:`Lifecycle`. ``trouble``
    is what the next requests meet before being answered: an exception to raise or a status
    (e.g. 503) to answer with ``Retry-After`` ``retry_after``."""

    def __init__(self, lifecycle: Lifecycle, trouble=(), retry_after: str | None = None):
        self.lifecycle, self.trouble, self.retry_after = lifecycle, list(trouble), retry_after

    def request(self, method, url, body=None, headers=None):
        data = json.loads(body) if body else None
        if self.trouble:
            problem = self.trouble.pop(0)
            self.lifecycle.requests.append((method, url.split("127.0.0.1")[-1], data))
            if isinstance(problem, Exception):
                raise problem
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return FakeResponse(problem, b'{"detail": "Busy, retry."}', headers)
        status, answer = self.lifecycle.answer(method, url, data, headers.get("Authorization", ""))
        return FakeResponse(status, json.dumps(answer).encode())


def serve(lifecycle: Lifecycle) -> ThreadingHTTPServer:
    """The lifecycle behind a real HTTP server on 127.0.0.1 (an ephemeral port), in a thread;
    ``server.shutdown()`` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = lifecycle.answer("POST", self.path, body, self.headers.get("Authorization", ""))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
