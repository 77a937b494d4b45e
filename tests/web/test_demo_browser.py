"""`make run` as a user meets it: ``fleetwatch serve --demo`` started as a real subprocess (its
own data directory, port 18931, one simulated router and no back-fill, to be quick), the printed
login, then this machine's device page in headless Chromium: charts from the real agent's first
report, the connection card saying commands are enabled and by which file, and the console
running ``test`` and ``exec uptime`` on this machine, each answered within seconds (the demo's
agent polls every 3 s).

docs/img/demo-host.png comes from the real `make run` (`scripts/screenshot.py host`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from contextlib import closing
from pathlib import Path

import pytest
from bench.server import free_port

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(18931, 18941)  # this test's own live-server ports
START_TIMEOUT = 180  # seconds: migrations of a fresh database on a busy machine, then the agent


@pytest.fixture
def demo(tmp_path):
    """The running demo: (its URL, password, the host's device id, its agent configuration file)."""
    bind = f"127.0.0.1:{free_port(PORTS)}"
    data = tmp_path / "var"
    env = {
        **os.environ,
        "FLEETWATCH_DATA_DIR": str(data),
        "FLEETWATCH_DEMO_DEVICES": "1",
        "FLEETWATCH_DEMO_DAYS": "0",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "agent" / "src")]),
    }
    for name in ("DJANGO_SETTINGS_MODULE", "FLEETWATCH_DATABASE_URL", "FLEETWATCH_TIMESERIES_URL"):
        env.pop(name, None)  # the demo's own embedded stack, not the test run's
    env.pop("FLEETWATCH_USAGE_METRICS", None)  # as `make run` meets it: the sender's default (on)
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "fleetwatch", "serve", "--demo", "--bind", bind, "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its server, worker, agent and simulator: one group to stop
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        printed = ""
        # The login comes last, after the fleet's first statuses (docs/cli.md): wait for both.
        while "remote commands ENABLED" not in printed or "Log in as: demo / " not in printed:
            assert server.poll() is None, f"serve --demo ended ({server.returncode}):\n{printed[-3000:]}"
            assert time.monotonic() < deadline, f"no demo within {START_TIMEOUT} s:\n{printed[-3000:]}"
            time.sleep(0.5)  # a real subprocess starting: nothing to wait on but its output
            log.seek(0)
            printed = log.read()
        password = re.search(r"Log in as: demo / (\S+)", printed).group(1)
        config_path = data / "demo-agent" / "agent.toml"
        assert f"(demo only: {config_path}; its log: {config_path.parent / 'agent.log'})" in printed
        config = tomllib.loads(config_path.read_text())
        # The demo reports no usage metrics of its own: nothing queued, nothing recorded as sent.
        with closing(sqlite3.connect(data / "fleetwatch.sqlite3")) as db:
            queued = [
                db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("usage_outbox", "usage_sentevent")
            ]
        assert queued == [0, 0]
        yield f"http://{bind}", password, config["device_id"], config_path
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def test_make_run_shows_this_host_with_charts_and_a_working_console(browser, demo):
    url, password, device_id, config_path = demo
    page = browser.new_context(viewport={"width": 1200, "height": 1500}).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    host = socket.gethostname()[:64]
    page.click(f"a[href='/devices/{device_id}/']")
    page.wait_for_url(f"{url}/devices/{device_id}/")
    assert page.inner_text("h1").startswith(host)

    # The agent's first report (sent as it starts) may still be on its way: look again, bounded.
    for _ in range(60):
        if page.locator("#connection-agent code").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    assert page.inner_text("#connection-agent").startswith("fleetwatch-agent/")
    assert page.inner_text("#connection-channel") == "HTTP"
    assert page.inner_text("#commands-note") == "Remote commands are enabled on this device."
    assert page.inner_text("#commands-demo") == (
        f"Enabled for the demo by its agent configuration, {config_path} (commands = true), "
        "written by fleetwatch serve --demo; on a real machine its owner decides."
    )

    page.wait_for_selector("#charts[data-loaded=true]")
    summaries = dict(
        page.eval_on_selector_all(
            "#charts .chart",
            "els => els.map(e => [e.querySelector('h2').textContent, e.querySelector('.summary').textContent])",
        )
    )
    for title in ("CPU Load", "Memory Usage", "Disk Usage"):
        assert re.fullmatch(rf"{title}: \d+(\.\d+)?%", summaries[title]), summaries

    # The console: each command is answered within seconds (a 3 s poll), the page refreshing
    # the history by itself.
    page.select_option("#command-form select[name=action]", "test")
    page.click("#command-form button[type=submit]")
    page.wait_for_url(f"{url}/devices/{device_id}/#console")
    page.wait_for_selector("#command-history tr[data-seq='1'].ok", timeout=12_000)
    page.select_option("#command-form select[name=action]", "exec")
    page.fill("#command-form input[name=argument]", "uptime")
    page.click("#command-form button[type=submit]")
    page.wait_for_url(f"{url}/devices/{device_id}/#console")
    page.wait_for_selector("#command-history tr[data-seq='2'].ok", timeout=12_000)
    history = page.inner_text("#command-history")
    assert re.search(rf"fleetwatch-agent/\S+ on {re.escape(socket.gethostname())}: up \d+ s", history)
    assert "remote commands enabled" in history
    assert "load average:" in history  # uptime's own output, run on this machine
