"""Screenshot of a device page of the running demo (`make run`) into docs/img/device-page.png.

.venv/bin/python scripts/screenshot.py [--url http://127.0.0.1:8000] [--device sim-003]
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
    parser.add_argument("--device", default="sim-003")
    parser.add_argument("--password", default=None, help="default: var/demo-password")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("FLEETWATCH_DATA_DIR", ROOT / "var"))
    password = args.password or (data_dir / "demo-password").read_text().strip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_context(
            viewport={"width": 1200, "height": 1500}, timezone_id="Europe/Rome"
        ).new_page()
        page.goto(f"{args.url}/login/")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.click(f"text={args.device}")
        page.select_option("select[name=time]", "1d")
        page.click("#range button[type=submit]")
        page.wait_for_selector("#charts[data-loaded=true]")
        out = ROOT / "docs" / "img" / "device-page.png"
        page.screenshot(path=str(out))
        browser.close()
        print(out)


if __name__ == "__main__":
    main()
