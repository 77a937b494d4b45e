"""Enrollment: an enrollment token and the machine's serial → the device's credentials, kept
in ``<state dir>/credentials.json`` (mode 0600).

``POST /api/v1/enroll/`` with JSON ``{token, serial, name, model, os, system, mac_address,
hardware_id, agent}``: 201/200 answer the device, its HTTP key and (when the server has a
broker) its broker account; 202 = waiting for an administrator's approval (ask again after
``Retry-After``); 400 a request the server will never take (a serial it refuses), 401 unknown
token, 403 expired or revoked token or rejected enrollment: no retry helps, the agent stops. Anything else (5xx, no answer) is retried later.
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass
from pathlib import Path

from fleetwatch_agent import AGENT
from fleetwatch_agent.config import Config
from fleetwatch_agent.http import request
from fleetwatch_agent.queue import write_atomically

log = logging.getLogger(__name__)
CREDENTIALS = "credentials.json"


class EnrollmentRefused(RuntimeError):
    """400/401/403: the token or the enrollment will not be accepted; the message says why."""


class EnrollmentPending(RuntimeError):
    """202 (awaiting approval) or no usable answer: ask again after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: float):
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Credentials:
    """What the device needs to talk: its id, its HTTP key and base URL, its broker account
    (``{"username", "password", "mqtt_url", "amqp_url", "vhost"}`` or None)."""

    device_id: str
    key: str
    url: str
    broker: dict | None = None


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip("\x00\n ")
    except OSError:
        return ""


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        return ""


def facts() -> dict:
    """What the machine says about itself at enrollment: model, OS, system, MAC address."""
    import psutil

    found = {
        "model": _read("/sys/firmware/devicetree/base/model")
        or _read("/sys/class/dmi/id/product_name")
        or platform.machine(),
        "os": _os_name(),
        "system": f"{platform.system()} {platform.release()}".strip(),
    }
    for name, addresses in sorted(psutil.net_if_addrs().items()):
        mac = next((a.address for a in addresses if a.family == psutil.AF_LINK), "")
        if name != "lo" and mac and mac != "00:00:00:00:00:00":
            found["mac_address"] = mac
            break
    # The server's bounds (64 for names and models, 128 for OS and system descriptions).
    bounds = {"model": 64, "os": 128, "system": 128, "mac_address": 17}
    return {k: v[: bounds[k]] for k, v in found.items() if v}


def enroll(config: Config, extra: dict | None = None) -> dict:
    """Ask the server; the answer's JSON (201/200), or EnrollmentPending / EnrollmentRefused."""
    payload = {
        "token": config.token,
        "serial": config.serial,
        "name": config.name[:64],
        "agent": AGENT,
        **(facts() if extra is None else extra),
    }
    answer = request(
        "POST",
        f"{config.server}/api/v1/enroll/",
        json.dumps(payload).encode(),
        {"Content-Type": "application/json"},
        config.timeout,
        config.ca_file,
    )
    data = answer.json()
    detail = data.get("detail", "") if isinstance(data, dict) else ""
    if answer.status in (200, 201) and isinstance(data, dict) and data.get("status") == "approved":
        return data
    if answer.status in (400, 401, 403):
        raise EnrollmentRefused(
            f"enrollment refused ({answer.status}): {detail or answer.body[:200].decode(errors='replace')}"
        )
    try:
        retry_after = float(answer.headers.get("retry-after", ""))
    except ValueError:
        retry_after = config.poll_offline if answer.status == 0 else config.poll_min
    if answer.status == 202:
        raise EnrollmentPending(detail or "waiting for an administrator's approval", retry_after)
    raise EnrollmentPending(f"enrollment not answered ({answer.status or 'no answer'})", retry_after)


def from_answer(data: dict, server: str) -> Credentials:
    """Credentials from an enrollment answer. HTTP goes on to the configured ``server`` (the
    address that answered the enrollment), not the answer's ``http.url``, which is the server's
    idea of its public address and may not be reachable from here."""
    return Credentials(
        device_id=str(data["device"]["id"]),
        key=data["http"]["key"],
        url=server.rstrip("/"),
        broker=data.get("broker") or None,
    )


def store(state_dir: Path, data: dict) -> None:
    """Keep the enrollment answer, readable by the agent's user alone (it holds secrets)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(state_dir / CREDENTIALS, json.dumps(data, indent=2).encode(), mode=0o600)


def stored(state_dir: Path) -> dict | None:
    """The kept enrollment answer, or None."""
    try:
        return json.loads((state_dir / CREDENTIALS).read_text())
    except (OSError, ValueError):
        return None


def credentials(config: Config) -> Credentials:
    """The device's credentials: given in the configuration (``device_id`` + ``key``), kept from
    an earlier enrollment, or obtained now with the token (and kept). Raises EnrollmentPending,
    EnrollmentRefused, or ValueError when there is neither a token nor credentials."""
    kept = stored(config.state_dir)
    if config.device_id:
        broker = (
            (kept or {}).get("broker") if kept and str(kept["device"]["id"]) == config.device_id else None
        )
        return Credentials(config.device_id, config.key, config.server, broker)
    if kept:
        return from_answer(kept, config.server)
    if not config.token:
        raise ValueError(
            "no credentials: set `token` (enrollment) or `device_id` and `key` in the configuration"
        )
    data = enroll(config)
    store(config.state_dir, data)
    log.info("enrolled as device %s", data["device"]["id"])
    return from_answer(data, config.server)
