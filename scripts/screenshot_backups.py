"""Screenshot of the backups dashboard of the running demo (`make run`) into
docs/img/backups-dashboard.png, as scripts/screenshot.py does for a device page.

.venv/bin/python scripts/screenshot_backups.py [--url http://127.0.0.1:8000] [--page /backups/]
"""

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--page", default="/backups/", help="the page to take (default: the dashboard)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "backups-dashboard.png"))
    parser.add_argument("--password", default=None, help="default: var/demo-password")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("FLEETWATCH_DATA_DIR", ROOT / "var"))
    password = args.password or (data_dir / "demo-password").read_text().strip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_context(
            viewport={"width": 1200, "height": 900}, timezone_id="Europe/Rome"
        ).new_page()
        page.goto(f"{args.url}/login/")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.goto(f"{args.url}{args.page}")
        if page.query_selector("#backup-charts"):
            page.wait_for_selector("#backup-charts[data-loaded=true]")
        page.screenshot(path=args.out, full_page=True)
        browser.close()
        print(args.out)


if __name__ == "__main__":
    main()
