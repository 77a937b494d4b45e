"""A STAND-IN for the server endpoints being written on other branches: enrollment
(``POST /api/v1/enroll/``), the command poll (``POST /api/v1/devices/<id>/agent/``), the command
result (``POST /api/v1/devices/<id>/cmdlog/``) and the ``{"cmd": …}`` answer of the report
endpoint, as the issue's shared channel contract describes them. It is not Fleetwatch: it answers
what a test scripts, and records what the agent sent. The tests against the real endpoints
replace it once those branches are merged (see docs/agent.md, "Tests").
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.agent.live import PORTS, free_port


class StandIn:
    """``enroll``: answers to enrollment, in order (``(status, headers, body dict)``);
    ``offer``: commands answered to every poll and report until their result comes
    (``keep_offering``: even after it); ``requests``: ``(path, query, body)`` received;
    ``results``: ``(seq, status, output)`` received."""

    def __init__(self):
        self.enroll: list[tuple[int, dict, dict]] = []
        self.offer: list[dict] = []
        self.keep_offering = False
        self.requests: list[tuple[str, dict, bytes]] = []
        self.results: list[tuple[int, str, str]] = []
        self.port = free_port(PORTS)
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> list[str]:
        return [re.sub(r"/[0-9a-f-]{36}/", "/<id>/", path) for path, _, _ in self.requests]

    def _answer(self, path: str, query: dict, body: bytes) -> tuple[int, dict, dict | None]:
        if path == "/api/v1/enroll/":
            return self.enroll.pop(0) if self.enroll else (500, {}, {"detail": "no answer scripted"})
        if re.fullmatch(r"/api/v1/devices/[^/]+/cmdlog/", path):
            seq, status = int(query["seq"]), query["status"]
            self.results.append((seq, status, body.decode()))
            if not self.keep_offering:
                self.offer = [c for c in self.offer if c["seq"] != seq]
            return 200, {}, {"seq": seq, "status": status.lower()}
        if re.fullmatch(r"/api/v1/(devices/[^/]+/agent|monitoring/device/[^/]+)/", path):
            return 200, {}, {"cmd": self.offer[0]} if self.offer else {}
        return 404, {}, {"detail": "Not found."}

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                standin.requests.append((parts.path, query, body))
                status, headers, answer = standin._answer(parts.path, query, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
