"""Alertmanager webhook payloads (version 4), HMAC signatures and one delivery attempt.

Receivers that understand Alertmanager (Alertmanager-to-chat bridges, incident tools) take
these as is. The body is signed with the webhook's secret:
``X-Fleetwatch-Signature: sha256=<hex HMAC-SHA256 of the body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta

import urllib3

ZERO_TIME = "0001-01-01T00:00:00Z"
MAX_ATTEMPTS = 6
_pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=10), retries=False)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def alert_payload(event, webhook_name: str, base_url: str) -> dict:
    """``event``: dispatch.AlertEvent. Labels identify the alert; annotations describe it."""
    firing = event.kind == "problem"
    labels = {
        "alertname": f"{event.configuration}_problem",
        "severity": "critical" if event.critical else "warning",
        "organization": event.organization_slug,
        "device": event.device_name,
        "device_id": event.device_id,
        "metric": event.metric_name,
    }
    annotations = {
        "summary": event.title,
        "description": event.message,
        "value": str(event.value),
        "threshold": f"{event.operator} {event.threshold:g} for {event.tolerance} min",
    }
    alert = {
        "status": "firing" if firing else "resolved",
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(event.since),
        "endsAt": ZERO_TIME if firing else rfc3339(event.time),
        "generatorURL": f"{base_url}{event.url}",
        "fingerprint": hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16],
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}", device_id="{event.device_id}"}}',
        "truncatedAlerts": 0,
        "status": alert["status"],
        "receiver": webhook_name,
        "groupLabels": {"alertname": labels["alertname"], "device_id": event.device_id},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": base_url,
        "alerts": [alert],
    }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min, 8 min between attempts."""
    return timedelta(seconds=30 * 2 ** max(attempts - 1, 0))


def post(url: str, secret: str, payload: dict) -> tuple[int | None, str]:
    """One attempt: ``(status code or None, error text)``."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Fleetwatch",
        "X-Fleetwatch-Signature": signature(secret, body),
    }
    try:
        response = _pool.request("POST", url, body=body, headers=headers)
    except urllib3.exceptions.HTTPError as exc:
        return None, str(exc)[:300]
    if 200 <= response.status < 300:
        return response.status, ""
    return response.status, f"HTTP {response.status}: {response.data[:200].decode(errors='replace')}"
