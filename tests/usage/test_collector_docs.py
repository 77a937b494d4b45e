"""docs/usage-collector.md's example, run as written with real curl against a live collector."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from bench.server import Server, free_port

PORTS = range(18950, 18960)  # this module's live-server ports
DOC = Path(__file__).parents[2] / "docs" / "usage-collector.md"


@pytest.fixture(scope="module")
def live():
    server = Server(port=free_port(PORTS), log="gunicorn.log")
    server.env.pop("FLEETWATCH_DATABASE", None)
    server.env["FLEETWATCH_USAGE_COLLECTOR"] = "true"
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_upload_example_answers_204_twice_and_stores_one_report(live):
    section = DOC.read_text().split("## Uploads:", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    env = {"PATH": os.environ["PATH"], "FLEETWATCH": live.url}
    answers = [
        subprocess.run(["bash", "-ec", example], env=env, capture_output=True, text=True, timeout=60)
        for _ in range(2)
    ]
    assert [(a.returncode, a.stdout, a.stderr) for a in answers] == [(0, "204\n", "")] * 2
    stored = live.manage(
        "shell",
        "-c",
        "import json; from fleetwatch.usage.models import Report; "
        "print(json.dumps([[str(r.day), r.category, r.instance, r.product, r.version] for r in Report.objects.all()]))",
    )
    assert json.loads(stored.strip().splitlines()[-1]) == [
        ["2025-12-01", "Heartbeat", "8a0cf6a4-2c43-4c0c-9d43-4b43c2a3b9d1", "Fleetwatch", "1.0.0"]
    ]
