"""Fleet list benchmark: the fleet page (``/``) with 100,000 devices on SQLite.

A throwaway data directory (SQLite, the embedded default) gets two organizations, N devices
(bulk_create, a few seconds), their health rows (a mix of every status), locations for a
fifth of them and a member of the first organization. Then each page below is requested
``--runs`` times, in-process through Django's test client (the view, its queries and the
template; no HTTP server), as a superuser and as the member, and p50/p95/max are printed with
the page's size. Target (issue 18, point 5): p95 ≤ 100 ms for every page.

    .venv/bin/python bench/fleet.py               # 100,000 devices, 30 runs per page
    .venv/bin/python bench/fleet.py --devices 10000 --runs 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import percentile

TARGET_MS = 100.0
PAGES = (
    ("first page", "/"),
    ("deep page (2/3 in)", None),  # filled in once the number of pages is known
    ("sort by status", "/?sort=status"),
    ("sort by last seen, newest first", "/?sort=-last_seen"),
    ("sort by organization, page 40", "/?sort=organization&page=40"),
    ("search a name", "/?q=ap-04217"),
    ("search a MAC prefix", "/?q=02:00:00:01"),
    ("filter critical", "/?status=critical"),
    ("map endpoint, first 1,000", "/api/v1/inventory/device-map/?limit=1000"),
)
# Health rows per 100 devices: 1 critical, 3 problem, 3 unknown, 5 without a row (never
# evaluated: unknown too), the rest ok, by i // 10 so that both organizations (which alternate by
# i % 10) have every status; and one device in 97 is deactivated.
STATUSES = ("critical",) + ("problem",) * 3 + ("unknown",) * 3 + (None,) * 5 + ("ok",) * 88


def setup_django(data_dir: str) -> None:
    os.environ["FLEETWATCH_DATA_DIR"] = data_dir
    os.environ["FLEETWATCH_DATABASE"] = f"sqlite:///{data_dir}/fleetwatch.sqlite3"
    os.environ["FLEETWATCH_TIMESERIES"] = f"sqlite:///{data_dir}/timeseries.sqlite3"
    os.environ["FLEETWATCH_USAGE_METRICS"] = "false"
    os.environ["FLEETWATCH_MAP_TILES"] = "none"
    os.environ["FLEETWATCH_ALLOWED_HOSTS"] = "testserver"  # the test client's host
    os.environ["FLEETWATCH_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate(devices: int) -> tuple:
    """Two organizations (90% / 10% of the devices), the devices, health rows, locations."""
    from datetime import UTC, datetime, timedelta

    from django.contrib.auth import get_user_model
    from django.db import transaction

    from fleetwatch.inventory.models import Device, Location, Membership, Organization, new_device_key
    from fleetwatch.monitoring.models import DeviceHealth

    big = Organization.objects.create(name="Community Network", slug="community")
    small = Organization.objects.create(name="Small ISP", slug="small-isp")
    now = datetime.now(UTC)
    with transaction.atomic():
        locations = Location.objects.bulk_create(
            Location(
                organization=big if i % 10 else small,
                name=f"site-{i:04d}",
                address=f"{i} Main Street",
                latitude=41.0 + (i % 50) * 0.05,
                longitude=1.5 + (i // 50) * 0.05,
            )
            for i in range(1000)
        )
        batch = []
        for i in range(devices):
            org = big if i % 10 else small
            # A fifth of the devices have a location of their own organization's.
            location = locations[(i // 10 % 100) * 10 + i % 10] if i % 10 in (0, 1) else None
            batch.append(
                Device(
                    organization=org,
                    name=f"ap-{i:05d}",
                    mac_address=f"02:00:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                    key=new_device_key(),
                    is_active=i % 97 != 0,
                    last_seen=now - timedelta(seconds=(i * 37) % 86400) if i % 13 else None,
                    location=location,
                )
            )
        created = Device.objects.bulk_create(batch, batch_size=5000)
        DeviceHealth.objects.bulk_create(
            (
                DeviceHealth(
                    device=d,
                    status=STATUSES[i // 10 % len(STATUSES)],
                    changed=now - timedelta(minutes=i % 1440),
                )
                for i, d in enumerate(created)
                if STATUSES[i // 10 % len(STATUSES)]
            ),
            batch_size=5000,
        )
    superuser = get_user_model().objects.create_superuser("bench-admin")
    member = get_user_model().objects.create_user("bench-member")
    Membership.objects.create(user=member, organization=big, role="member")
    return superuser, member


def measure(client, url: str, runs: int) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU milliseconds of each request (the CPU time of this process, where
    SQLite runs too: on a shared machine it says what the page costs, the wall clock what it
    took while waiting for a core), and the page's size."""
    response = client.get(url)  # warm-up (templates, SQLite's page cache)
    assert response.status_code == 200, (url, response.status_code)
    size = len(response.content)
    timings, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(url)
        timings.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert response.status_code == 200
    return timings, cpu, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="fleetwatch-bench-fleet-") as data_dir:
        setup_django(data_dir)
        t0 = time.perf_counter()
        superuser, member = populate(args.devices)
        print(f"{args.devices:,} devices created in {time.perf_counter() - t0:.1f} s (bulk_create)")
        from django.test import Client

        from fleetwatch.web.fleet import PER_PAGE

        pages = (args.devices + PER_PAGE - 1) // PER_PAGE
        missed = []
        for who, user in (("superuser", superuser), ("member of the 90% organization", member)):
            client = Client()
            client.force_login(user)
            print(f"\nas {who}: {args.runs} runs per page, milliseconds")
            print(f"{'page':<34} {'p50':>7} {'p95':>7} {'max':>7} {'cpu p50':>8} {'cpu p95':>8} {'size':>9}")
            for label, url in PAGES:
                url = url or f"/?page={pages * 2 // 3}"
                timings, cpu, size = measure(client, url, args.runs)
                p50, p95 = statistics.median(timings), percentile(timings, 95)
                flag = "" if p95 <= TARGET_MS else "  over the target"
                if flag:
                    missed.append(f"{who}: {label}")
                print(
                    f"{label:<34} {p50:7.1f} {p95:7.1f} {max(timings):7.1f} {statistics.median(cpu):8.1f}"
                    f" {percentile(cpu, 95):8.1f} {size / 1024:7.1f} KB{flag}"
                )
        print(
            f"\ntarget: p95 ≤ {TARGET_MS:.0f} ms; "
            + (f"missed: {', '.join(missed)}" if missed else "all met")
        )
        return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
