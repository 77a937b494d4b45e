"""``fleetwatch simulate --devices N --days D``: a demo fleet reporting through the real endpoint.

Creates (or reuses) an organization and N devices, posts D days of back-dated 5-minute reports
over HTTP exactly as the OpenWrt agent does (``?key=…&time=DD-MM-YYYY_HH:MM:SS.ffffff``), then
keeps posting live reports every interval. Every fourth router has an LTE modem. Management
IPs are loopback addresses (127.0.0.x, which answer the ping check), except for the last router:
it went silent ``--silent-minutes`` before the end of the back-fill, its address (198.51.100.x,
a documentation range) answers no ping, and with ``--back-after M`` it comes back (reports and
answers again) after M minutes of live reports, so that its recovery shows too.

``--waiting N`` adds N routers that never report (``new-000`` …): added but not yet flashed,
they wait for their first report (docs/alerts.md), with a management IP in a documentation range
(192.0.2.x) that no ping is sent to meanwhile. Each run counts them as added just now, so they
keep waiting for ``FLEETWATCH_FIRST_REPORT_GRACE`` after every start of the demo.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from fleetwatch.inventory.models import Device, Organization
from fleetwatch.monitoring.simulator import FIRMWARE, MODEL, REPORT_INTERVAL, SYSTEM, report


class Command(BaseCommand):
    help = __doc__
    group = "data"
    summary = "a simulated fleet reporting to a server over HTTP (the demo's)"
    example = "fleetwatch simulate --devices 20 --days 2 --org demo --url http://127.0.0.1:8000 --live"

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=10)
        parser.add_argument("--days", type=float, default=1)
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--org", default="demo", help="organization slug (created if absent)")
        parser.add_argument("--live", action="store_true", help="keep sending live reports")
        parser.add_argument(
            "--interval", type=int, default=REPORT_INTERVAL, help="seconds between live reports"
        )
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--silent-minutes", type=int, default=90, help="how long the last router is down")
        parser.add_argument(
            "--back-after", type=int, default=0, help="minutes of live mode until it is back (0: never)"
        )
        parser.add_argument(
            "--waiting", type=int, default=0, help="routers that are added but never report (new-000 …)"
        )

    def handle(self, *args, **o):
        org, _ = Organization.objects.get_or_create(slug=o["org"], defaults={"name": o["org"].title()})
        devices = []
        for i in range(o["devices"]):
            device, _ = Device.objects.get_or_create(
                organization=org,
                name=f"sim-{i:03d}",
                defaults={"mac_address": f"02:00:00:00:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}"},
            )
            if not device.os:  # what a registering OpenWrt agent says of itself (the page's Firmware row)
                device.os, device.model, device.system = FIRMWARE, MODEL, SYSTEM
                device.save(update_fields=["os", "model", "system"])
            devices.append((i, device, i % 4 == 3))
        silent = devices[-1][1] if len(devices) > 1 else None
        self._add_waiting(org, o["waiting"])
        for i, device, _lte in devices:
            address = f"198.51.100.{1 + i % 250}" if device == silent else f"127.0.{i // 250}.{10 + i % 240}"
            if device.management_ip != address:
                device.management_ip = address
                device.save(update_fields=["management_ip"])
        now = datetime.now(UTC).replace(microsecond=0)
        silent_since = now - timedelta(minutes=o["silent_minutes"])
        start = now - timedelta(days=o["days"])
        steps = int(o["days"] * 86400 // REPORT_INTERVAL)
        jobs = [
            (i, d, lte, start + timedelta(seconds=REPORT_INTERVAL * s))
            for s in range(steps)
            for i, d, lte in devices
            if d != silent or start + timedelta(seconds=REPORT_INTERVAL * s) < silent_since
        ]
        self.stdout.write(f"back-filling {len(jobs)} reports of {len(devices)} devices to {o['url']}")
        began = time.monotonic()
        with ThreadPoolExecutor(o["concurrency"]) as pool:
            failures = sum(pool.map(lambda job: not self._post(o["url"], *job, start), jobs))
        if failures and not o["live"]:
            raise CommandError(f"{failures} reports were not accepted")
        if failures:  # live (the demo): a gap in the history, and the fleet goes on reporting
            self.stderr.write(f"{failures} back-filled reports were not accepted; going on live")
        self.stdout.write(f"done in {time.monotonic() - began:.1f} s")
        live_since = time.monotonic()
        while o["live"]:
            moment = datetime.now(UTC)
            if (
                silent is not None
                and o["back_after"]
                and time.monotonic() - live_since >= o["back_after"] * 60
            ):
                i = devices[-1][0]
                silent.management_ip = f"127.0.{i // 250}.{10 + i % 240}"
                silent.save(update_fields=["management_ip"])
                self.stdout.write(f"{silent.name} is back")
                self.stdout.flush()
                silent = None
            for i, device, lte in devices:
                if device != silent:
                    self._post(o["url"], i, device, lte, moment, start)
            time.sleep(o["interval"])

    def _add_waiting(self, org, count: int) -> None:
        for i in range(count):
            device, _ = Device.objects.get_or_create(
                organization=org,
                name=f"new-{i:03d}",
                defaults={
                    "mac_address": f"02:00:00:01:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}",
                    "management_ip": f"192.0.2.{1 + i % 250}",
                },
            )
            if device.last_seen is None:
                # "Added just now" at every start, so the demo shows it waiting.
                Device.objects.filter(pk=device.pk).update(created=datetime.now(UTC))

    def _post(self, base, index, device, lte, moment, start) -> bool:
        body = json.dumps(report(index, moment, start, lte)).encode()
        stamp = moment.strftime("%d-%m-%Y_%H:%M:%S.%f")
        request = urllib.request.Request(
            f"{base}/api/v1/monitoring/device/{device.pk}/?key={device.key}&time={stamp}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        for attempt in range(5):  # as the agent: retry anything but 200 and 400
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status == 200
            except urllib.error.HTTPError as exc:
                if exc.code == 400:
                    self.stderr.write(f"{device.name}: rejected: {exc.read()[:200]!r}")
                    return False
            except OSError:
                pass
            time.sleep(1 + attempt)
        return False
