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
from urllib.parse import urlsplit

import urllib3

from fleetwatch.monitoring.reasons import plain_number
from fleetwatch.notifications import destinations

ZERO_TIME = "0001-01-01T00:00:00Z"
MAX_ATTEMPTS = 6
TIMEOUT = urllib3.Timeout(connect=5, read=10)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def alert_payload(event, webhook_name: str, base_url: str) -> dict:
    """``event``: dispatch.AlertEvent. Labels identify the alert; annotations describe it."""
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
        "value": plain_number(event.value),
        "threshold": f"{event.operator} {plain_number(event.threshold)} for {event.tolerance} min",
    }
    return alertmanager_payload(
        firing=event.kind == "problem",
        labels=labels,
        annotations=annotations,
        group_labels={"alertname": labels["alertname"], "device_id": event.device_id},
        since=event.since,
        time=event.time,
        url=event.url,
        webhook_name=webhook_name,
        base_url=base_url,
    )


def alertmanager_payload(
    *,
    firing: bool,
    labels: dict[str, str],
    annotations: dict[str, str],
    group_labels: dict[str, str],
    since: datetime,
    time: datetime,
    url: str,
    webhook_name: str,
    base_url: str,
    identity: dict[str, str] | None = None,
) -> dict:
    """One alert in Alertmanager's webhook envelope (version 4): ``firing`` (a problem) or
    resolved (its recovery, ending at ``time``), started at ``since``; ``url`` is the path of the
    page about it (``generatorURL`` = ``base_url`` + ``url``). The ``fingerprint`` hashes
    ``identity`` (default: all the labels), so an alert whose severity may change keeps one
    fingerprint when ``identity`` leaves the severity out."""
    alert = {
        "status": "firing" if firing else "resolved",
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(since),
        "endsAt": ZERO_TIME if firing else rfc3339(time),
        "generatorURL": f"{base_url}{url}",
        "fingerprint": hashlib.sha256(
            json.dumps(labels if identity is None else identity, sort_keys=True).encode()
        ).hexdigest()[:16],
    }
    group = ", ".join(f'{key}="{value}"' for key, value in group_labels.items())
    return {
        "version": "4",
        "groupKey": f"{{}}:{{{group}}}",
        "truncatedAlerts": 0,
        "status": alert["status"],
        "receiver": webhook_name,
        "groupLabels": group_labels,
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


def post(url: str, secret: str, payload: dict, allow_private: bool = False) -> tuple[int | None, str]:
    """One attempt: ``(status code or None, error text)``. Raises destinations.Refused, having
    sent nothing, when the URL's host is (or resolves to) an address webhooks may not go to;
    otherwise connects to the very addresses that were checked, in the resolver's order."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in destinations.SCHEMES:
        raise destinations.Refused("Webhook URLs start with http:// or https://.")
    host = (parts.hostname or "").rstrip(".")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
        addresses = destinations.addresses(host, port, allow_private)
    except (OSError, ValueError) as exc:
        return None, f"cannot resolve {host}: {exc}"[:300]
    headers = {
        "Host": parts.netloc.rpartition("@")[2],
        "Content-Type": "application/json",
        "User-Agent": "Fleetwatch",
        "X-Fleetwatch-Signature": signature(secret, body),
    }
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    error = f"{host} has no address"
    for address in addresses:
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                str(address), port, timeout=TIMEOUT, retries=False, server_hostname=host, assert_hostname=host
            )
        else:
            pool = urllib3.HTTPConnectionPool(str(address), port, timeout=TIMEOUT, retries=False)
        try:
            response = pool.urlopen("POST", target, body=body, headers=headers, redirect=False)
        except urllib3.exceptions.NewConnectionError as exc:
            error = str(exc)[:300]
            continue  # refused or unreachable: the name's next address
        except urllib3.exceptions.HTTPError as exc:
            return None, str(exc)[:300]
        finally:
            pool.close()
        if 200 <= response.status < 300:
            return response.status, ""
        return response.status, f"HTTP {response.status}: {response.data[:200].decode(errors='replace')}"
    return None, error
