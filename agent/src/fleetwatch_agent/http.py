"""The HTTP channel: reports to ``/api/v1/monitoring/device/<id>/``, the command poll
``/api/v1/devices/<id>/agent/`` and results to ``/api/v1/devices/<id>/cmdlog/``, with urllib.

The monitoring agent's rules for a report (agents.md): 200 = stored (delete it), 400 = never
acceptable (drop it), anything else, a network error included = keep it for the next round.
A 200 answer may carry the oldest pending command: ``{"cmd": {"seq", "action", "argument"}}``
(``null`` or ``{}`` from a server that has none, or predates commands).
"""

from __future__ import annotations

import gzip
import json
import logging
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from fleetwatch_agent import AGENT

log = logging.getLogger(__name__)

SENT, DROPPED, KEPT = "sent", "dropped", "kept"


@dataclass
class Answer:
    """An HTTP answer: status (0 for no answer at all), headers (lower-case names), body."""

    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 30.0,
    ca_file: str = "",
) -> Answer:
    """One request; an HTTP error status is an answer, a network failure is ``Answer(0)``."""
    req = urllib.request.Request(
        url, data=body, method=method, headers={"User-Agent": AGENT, **(headers or {})}
    )
    context = ssl.create_default_context(cafile=ca_file or None) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as response:
            return Answer(
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
            )
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())
    except (OSError, ValueError) as exc:  # refused, unreachable, timeout, TLS, bad URL
        log.warning("%s %s: %s", method, url.split("?", 1)[0], exc)
        return Answer(0)


def command_of(answer: Answer) -> dict | None:
    """The command an answer carries (``{"cmd": {...}}``), else None."""
    data = answer.json()
    if isinstance(data, dict) and isinstance(data.get("cmd"), dict):
        return data["cmd"]
    return None


class HttpChannel:
    """Reports, polls and command results of one device over HTTP(S)."""

    name = "http"

    def __init__(
        self,
        base: str,
        device_id: str,
        key: str,
        features: str = "",
        timeout: float = 30.0,
        ca_file: str = "",
    ):
        self.base = base.rstrip("/")
        self.device_id = device_id
        self.key = key
        self.features = features
        self.timeout = timeout
        self.ca_file = ca_file
        self.received: list[dict] = []  # commands carried by answers, for the caller to take

    def _url(self, path: str, **params) -> str:
        query = urllib.parse.urlencode({"key": self.key, **params})
        return f"{self.base}/api/v1/{path}?{query}"

    def _post(self, url: str, body: bytes, headers: dict) -> Answer:
        return request("POST", url, body, headers, self.timeout, self.ca_file)

    def send_report(self, report: dict, wire_time: str) -> str:
        """SENT, DROPPED or KEPT (the retry rules); a command in a 200 answer is kept in
        ``received``."""
        url = self._url(f"monitoring/device/{self.device_id}/", time=wire_time, features=self.features)
        body = json.dumps(report, separators=(",", ":")).encode()
        answer = self._post(url, body, {"Content-Type": "application/json"})
        if answer.status == 200:
            command = command_of(answer)
            if command is not None:
                self.received.append(command)
            return SENT
        if answer.status == 400:
            log.error("report of %s refused for good (400), dropped: %s", wire_time, answer.body[:500])
            return DROPPED
        if answer.status:
            log.warning(
                "report of %s kept: the server answered %s %s", wire_time, answer.status, answer.body[:200]
            )
        return KEPT

    def poll(self, next_in: float) -> tuple[bool, dict | None]:
        """Ask for a command, announcing the next contact in ``next_in`` seconds.
        Returns (reached the server, the command or None)."""
        url = self._url(f"devices/{self.device_id}/agent/", features=self.features)
        body = json.dumps({"agent": AGENT, "next": round(next_in)}).encode()
        answer = self._post(url, body, {"Content-Type": "application/json"})
        if answer.status != 200:
            if answer.status:
                log.warning("command poll answered %s %s", answer.status, answer.body[:200])
            return False, None
        return True, command_of(answer)

    def send_result(self, seq: int, status: str, output: str) -> bool:
        """Post a command's result (gzip); True once the server has settled it: 200, or a 400/404
        that no retry would change (a bad status, a sequence number it does not know)."""
        url = self._url(f"devices/{self.device_id}/cmdlog/", seq=seq, status=status)
        body = gzip.compress(output.encode())
        answer = self._post(
            url, body, {"Content-Type": "text/plain; charset=utf-8", "Content-Encoding": "gzip"}
        )
        if answer.status in (400, 404):
            log.error("result of command %s refused (%s): %s", seq, answer.status, answer.body[:200])
        elif answer.status != 200 and answer.status:
            log.warning("result of command %s kept: the server answered %s", seq, answer.status)
        return answer.status in (200, 400, 404)

    def take_commands(self) -> list[dict]:
        """Commands the answers carried since the last call."""
        found, self.received = self.received, []
        return found

    def connect(self) -> bool:
        """Nothing to open: every request has its own connection."""
        return True

    def wait(self, seconds: float, stop) -> None:
        """Sleep until ``seconds`` pass or ``stop`` (a threading.Event) is set."""
        stop.wait(seconds)

    def close(self) -> None:
        """Nothing to close: every request has its own connection."""
