"""Screenshots of the running demo (`make run`) for the docs: a device page into
docs/img/device-page.png, the backups dashboard into docs/img/backups-dashboard.png, a device's
connection card and command console into docs/img/device-console.png, the registrations page
into docs/img/registrations.png, or the demo's own host (the agent on this machine: its last
hour of charts, connection card and console after `test` and `exec uptime`) into
docs/img/demo-host.png.

.venv/bin/python scripts/screenshot.py [device] [--url http://127.0.0.1:8000] [--device sim-003]
.venv/bin/python scripts/screenshot.py backups [--page /backups/] [--out FILE]
.venv/bin/python scripts/screenshot.py console [--device <the agent's host name>]
.venv/bin/python scripts/screenshot.py registrations
.venv/bin/python scripts/screenshot.py host      # after a quarter of an hour of `make run`
"""

import argparse
import os
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUT = {
    "device": "device-page.png",
    "backups": "backups-dashboard.png",
    "console": "device-console.png",
    "registrations": "registrations.png",
    "host": "demo-host.png",
}


def device_page(page, args) -> None:
    page.click(f"text={args.device}")
    page.select_option("select[name=time]", "1d")
    page.click("#range button[type=submit]")
    page.wait_for_selector("#charts[data-loaded=true]")
    page.screenshot(path=args.out)


def backups_page(page, args) -> None:
    page.goto(f"{args.url}{args.page}")
    if page.query_selector("#backup-charts"):
        page.wait_for_selector("#backup-charts[data-loaded=true]")
    page.screenshot(path=args.out, full_page=True)


def console_page(page, args) -> None:
    """The device's connection card and command console (the demo user administers the demo
    organization, so the console shows)."""
    page.click(f"text={args.device}")
    page.wait_for_selector("#console")
    page.locator("#connection").screenshot(path=args.out.replace(".png", "-connection.png"))
    page.locator("#console").screenshot(path=args.out)


def host_page(page, args) -> None:
    """The demo host's page (its id from the demo's agent configuration): the last hour, and the
    console after `test` and `exec uptime` (the demo's agent answers within seconds)."""
    device = tomllib.loads((args.data_dir / "demo-agent" / "agent.toml").read_text())["device_id"]
    end = datetime.now(UTC).replace(microsecond=0)
    span = f"start={end - timedelta(hours=1):%Y-%m-%d %H:%M:%S}&end={end:%Y-%m-%d %H:%M:%S}&tz=UTC"
    for action, argument in (("test", ""), ("exec", "uptime")):
        page.goto(f"{args.url}/devices/{device}/")
        page.select_option("#command-form select[name=action]", action)
        page.fill("#command-form input[name=argument]", argument)
        page.click("#command-form button[type=submit]")
        page.wait_for_url("**#console")
        page.wait_for_selector("#command-history tbody tr:first-child:is(.ok, .err)", timeout=30_000)
    page.goto(f"{args.url}/devices/{device}/?{span}")
    page.wait_for_selector("#charts[data-loaded=true]")
    page.screenshot(path=args.out, full_page=True)


def registrations_page(page, args) -> None:
    page.goto(f"{args.url}/registrations/")
    page.screenshot(path=args.out, full_page=True)


PAGES = {
    "device": device_page,
    "backups": backups_page,
    "console": console_page,
    "registrations": registrations_page,
    "host": host_page,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", nargs="?", choices=sorted(OUT), default="device")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--device", default="sim-003", help="device: the device to take")
    parser.add_argument("--page", default="/backups/", help="backups: the page to take")
    parser.add_argument("--out", default=None, help="default: docs/img/<the page's image>")
    parser.add_argument("--password", default=None, help="default: var/demo-password")
    args = parser.parse_args()
    args.out = args.out or str(ROOT / "docs" / "img" / OUT[args.what])
    args.data_dir = data_dir = Path(os.environ.get("FLEETWATCH_DATA_DIR", ROOT / "var"))
    password = args.password or (data_dir / "demo-password").read_text().strip()
    height = 1500 if args.what in ("device", "host") else 900
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_context(
            viewport={"width": 1200, "height": height}, timezone_id="Europe/Rome"
        ).new_page()
        page.goto(f"{args.url}/login/")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        PAGES[args.what](page, args)
        browser.close()
        print(args.out)


if __name__ == "__main__":
    main()
