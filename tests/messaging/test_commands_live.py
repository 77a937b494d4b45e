"""Commands on a live server (gunicorn, 2 processes × 4 threads, SQLite files, as deployed):
the examples of docs/commands.md run as written with curl, and commands queued at the same
moment through several processes never share a sequence number."""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from bench.server import Server, free_port

PORTS = range(18710, 18750)  # helper C's live-server ports
DOCS = Path(__file__).parents[2] / "docs" / "commands.md"

SETUP = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from fleetwatch.inventory.models import Device, Membership, Organization

org = Organization.objects.create(name="Org A", slug="org-a")
admin = get_user_model().objects.create_user("admin", password="unused-admin")
Membership.objects.create(user=admin, organization=org, role="admin")
devices = [Device.objects.create(organization=org, name=name) for name in ("ap-lobby", "ap-roof", "ap-busy")]
print(json.dumps({
    "token": Token.objects.create(user=admin).key,
    "devices": [{"id": str(d.pk), "key": d.key} for d in devices],
}))
"""


@pytest.fixture(scope="module")
def live():
    server = Server(port=free_port(PORTS), log="gunicorn.log")
    server.env.pop("FLEETWATCH_TIMESERIES", None)
    server.env.pop("FLEETWATCH_DATABASE", None)
    server.start()
    try:
        created = json.loads(server.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        server.token, server.devices = created["token"], created["devices"]
        yield server
    finally:
        server.stop()


def examples() -> list[str]:
    """The ``sh`` blocks of docs/commands.md, in order."""
    return re.findall(r"```sh\n(.*?)```", DOCS.read_text(), re.DOTALL)


def run(block: str, live, **extra) -> list:
    """One example with bash, as a reader would paste it; the JSON documents it printed."""
    env = {
        "PATH": os.environ["PATH"],
        "FLEETWATCH": live.url,
        "ADMIN_TOKEN": live.token,
        "DEVICE": live.devices[0]["id"],
        "KEY": live.devices[0]["key"],
        "OTHER_DEVICE": live.devices[1]["id"],
        **extra,
    }
    done = subprocess.run(["bash", "-ec", block], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    decoder, text, found = json.JSONDecoder(), done.stdout.strip(), []
    while text:
        value, end = decoder.raw_decode(text)
        found.append(value)
        text = text[end:].lstrip()
    return found


def api(live, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = Request(
        f"{live.url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Token {live.token}", "Content-Type": "application/json"},
    )
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_docs_examples_work_as_written(live):
    queue, read, cancel, batch, poll, result = examples()
    [queued] = run(queue, live)
    assert (
        queued["seq"],
        queued["action"],
        queued["argument"],
        queued["status"],
        queued["requested_by"],
    ) == (
        1,
        "exec",
        "uptime",
        "queued",
        "admin",
    )
    assert run(poll, live) == [{"cmd": {"seq": 1, "action": "exec", "argument": "uptime"}}]
    assert run(result, live) == [{"seq": 1, "status": "ok"}]
    listed, detail = run(read, live, COMMAND=queued["id"])
    assert [(c["id"], c["status"], c["channel"]) for c in listed["results"]] == [(queued["id"], "ok", "http")]
    # uptime's own line, gunzipped: " 10:00:01 up 3 days, …, load average: 0.10, 0.20, 0.30\n"
    assert re.fullmatch(r" [0-9:]{8} up .*load average: .*\n", detail["output"]), detail["output"]
    assert run(poll, live) == [{}]
    status, pending = api(
        live, "POST", f"/api/v1/devices/{live.devices[0]['id']}/commands/", {"action": "reboot"}
    )
    assert status == 201
    [cancelled] = run(cancel, live, COMMAND=pending["id"])
    assert (cancelled["seq"], cancelled["status"], cancelled["cancelled_by"]) == (2, "cancelled", "admin")
    [sent] = run(batch, live)
    assert (sent["devices"], sent["progress"]["queued"]) == (2, 2)
    assert sorted((c["device_name"], c["seq"]) for c in sent["commands"]) == [("ap-lobby", 3), ("ap-roof", 1)]


def test_commands_queued_at_the_same_time_get_distinct_numbers(live):
    device = live.devices[2]["id"]

    def send(_):
        return api(live, "POST", f"/api/v1/devices/{device}/commands/", {"action": "test"})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(40)))
    assert [status for status, _ in answers] == [201] * 40
    assert sorted(body["seq"] for _, body in answers) == list(range(1, 41))
    log = Path(live.dir, "gunicorn.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-5000:]
