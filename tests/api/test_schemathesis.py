"""Schemathesis against a live server (gunicorn, SQLite, as deployed): every operation of the
OpenAPI schema, with generated valid and invalid requests, as an organization administrator
and as an outsider (an authenticated administrator of another organization).

Bounded and reproducible: a fixed seed, a fixed number of examples per operation, one worker.
Checks: no 5xx, and every answer as the schema describes it (status code, content type, body).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from bench.server import Server, free_port

from tests.ingest.payloads import example_report

# This suite's live-server ports; FLEETWATCH_TEST_PORTS=8201-8210 moves them (parallel runs).
_FIRST, _, _LAST = os.environ.get("FLEETWATCH_TEST_PORTS", "8101-8109").partition("-")
PORTS = range(int(_FIRST), int(_LAST or _FIRST) + 1)
SEED = 20261130
EXAMPLES = 15
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

# Run in the server's environment: two organizations, each with an administrator who has a token,
# and rows of every kind in the first, so that operations on real ids are exercised too.
SETUP = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from fleetwatch.inventory.models import Device, Enrollment, EnrollmentToken, Membership, Organization
from fleetwatch.monitoring.models import StatusChange
from fleetwatch.notifications.models import MaintenanceWindow, Notification, Webhook
from fleetwatch.backups.models import BackupJob, RunnerToken
from fleetwatch.backups.runs import FileEntry, attach_files, close_run, open_run

tokens = {}
for slug, name in (("org-a", "admin"), ("org-b", "outsider")):
    org = Organization.objects.create(name=slug.upper(), slug=slug)
    user = get_user_model().objects.create_user(name, password="unused-" + name)
    Membership.objects.create(user=user, organization=org, role="admin")
    tokens[name] = Token.objects.create(user=user).key
    if name == "admin":
        now = timezone.now()
        device = Device.objects.create(organization=org, name="ap-lobby", mac_address="44:d1:fa:4b:38:43")
        Webhook.objects.create(organization=org, name="pager", url="https://alerts.example.net/hook")
        MaintenanceWindow.objects.create(organization=org, start=now, end=now + timedelta(hours=1))
        Notification.objects.create(user=user, organization=org, device=device, kind="problem", title="down", time=now)
        StatusChange.objects.create(device=device, previous="unknown", status="ok", time=now)
        job = BackupJob.objects.create(organization=org, section="s1", type="dump", datacenter="eqiad")
        done, _ = open_run(job, start_date=now - timedelta(days=1), host="dbprov1002.eqiad.wmnet")
        close_run(done, "finished", end_date=now - timedelta(hours=23), files=[FileEntry("", "dump.sql", 4096)])
        run, _ = open_run(job, start_date=now - timedelta(hours=1))
        token, _ = RunnerToken.issue(org, "dbprov1002")
        from fleetwatch.messaging.commands import queue, queue_batch
        batch = queue_batch([device], "test", "", user)
        command = queue(device, "exec", "uptime", user)
        stations, _ = EnrollmentToken.issue(org, "stations", requires_approval=True)
        request = Enrollment.objects.create(organization=org, token=stations, serial="SG-1", name="SG-1")
        from fleetwatch.monitoring.models import Iperf3Server, SshCredentials
        iperf3 = Iperf3Server.objects.create(organization=org, host="127.0.0.1", port=5201)
        SshCredentials.objects.create(device=device, username="root", password="router-password")
        ids = {
            "job": str(job.pk),
            "run": run.pk,
            "finished": done.pk,
            "token": token.pk,
            "enrollment_token": str(stations.pk),
            "enrollment": str(request.pk),
            "device": str(device.pk),
            "key": device.key,
            "organization": str(org.pk),
            "webhook": Webhook.objects.get().pk,
            "maintenance": MaintenanceWindow.objects.get().pk,
            "notification": Notification.objects.get().pk,
            "command": str(command.pk),
            "batch": str(batch.pk),
            "iperf3_server": iperf3.pk,
        }
print(json.dumps({"tokens": tokens, "ids": ids}))
"""


def report_twice(server) -> None:
    """Two agent reports 10 minutes apart: the device's charts have data (traffic, clients, CPU …),
    so the chart API's answers are checked against the schema with real charts in them."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for minutes, received in ((20, 0), (10, 5_000_000)):
        report = example_report()
        for interface in report["interfaces"]:
            if "statistics" in interface:
                interface["statistics"]["rx_bytes"] += received
        moment = (now - timedelta(minutes=minutes)).strftime("%d-%m-%Y_%H:%M:%S.%f")
        request = Request(
            f"{server.url}/api/v1/monitoring/device/{server.ids['device']}/?key={server.ids['key']}&time={moment}",
            data=json.dumps(report).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urlopen(request, timeout=30) as response:
            assert (response.status, response.read()) == (200, b"null")
    with urlopen(
        Request(
            f"{server.url}/api/v1/monitoring/device/{server.ids['device']}/?time=1d",
            headers={"Authorization": f"Token {server.tokens['admin']}"},
        ),
        timeout=30,
    ) as response:
        charts = json.loads(response.read())["charts"]
    assert len(charts) >= 5, charts


@pytest.fixture(scope="module")
def server():
    live = Server(port=free_port(PORTS), log="gunicorn.log")
    live.env.pop("FLEETWATCH_TIMESERIES", None)
    live.env.pop("FLEETWATCH_DATABASE", None)
    live.start()
    try:
        created = json.loads(live.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        live.tokens, live.ids = created["tokens"], created["ids"]
        report_twice(live)
        yield live
    finally:
        live.stop()


def runs(ids: dict) -> dict[str, tuple[list[str], dict]]:
    """Schemathesis runs, by name: (operation filters, fixed parameter values).

    Operations on one row run with that row's id (and the device's key), so they reach the row,
    not only 404s; DELETE keeps generated ids (the rows stay for the other runs)."""

    def on_row(path: str) -> list[str]:  # names are "METHOD /path"
        return ["--include-name-regex", rf"^(GET|POST|PUT|PATCH) /api/v1/{path}/\{{id\}}/"]

    return {
        "device": (
            on_row("(inventory/devices|monitoring/device|devices)"),
            {"id": ids["device"], "key": ids["key"]},
        ),
        "organization": (on_row("inventory/organizations"), {"id": ids["organization"]}),
        "webhook": (on_row("notifications/webhooks"), {"id": str(ids["webhook"])}),
        "maintenance": (on_row("notifications/maintenance"), {"id": str(ids["maintenance"])}),
        "notification": (on_row("notifications"), {"id": str(ids["notification"])}),
        "backup-job": (on_row("backups/jobs"), {"id": ids["job"]}),
        # The ongoing run: files and close are exercised on it (a close ends its life: last).
        "backup-run": (on_row("backups/runs"), {"id": str(ids["run"])}),
        "backup-token": (on_row("backups/tokens"), {"id": str(ids["token"])}),
        # The queued command: cancel ends its life (a second cancel is the documented 409).
        "command": (on_row("commands"), {"id": ids["command"]}),
        "command-batch": (on_row("command-batches"), {"id": ids["batch"]}),
        "enrollment-token": (on_row("enrollment-tokens"), {"id": ids["enrollment_token"]}),
        "enrollment": (on_row("enrollments"), {"id": ids["enrollment"]}),
        "iperf3-server": (on_row("monitoring/iperf3-servers"), {"id": str(ids["iperf3_server"])}),
        # SSH credentials are a device's: their path names the device.
        "ssh-credentials": (
            ["--include-name-regex", r"^(GET|POST|PUT|PATCH) /api/v1/monitoring/ssh-credentials/\{device\}/"],
            {"device": ids["device"]},
        ),
        "backup-section": (
            ["--include-path-regex", r"\{section\}"],
            {"section": "s1"},
        ),
        "without-ids": (["--exclude-path-regex", r"\{(id|section|device)\}"], {}),
        "deletes": (["--include-name-regex", r"^DELETE .*\{(id|device)\}"], {}),
    }


def schemathesis(server, persona: str, filters: list[str], parameters: dict, out: Path) -> dict:
    """One bounded schemathesis run against ``server``; its JSON report."""
    out.mkdir()
    values = ", ".join(f"{json.dumps(name)} = {json.dumps(value)}" for name, value in parameters.items())
    (out / "schemathesis.toml").write_text(f"parameters = {{ {values} }}\n" if values else "")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(out / "schemathesis.toml"),
        "run",
        f"{server.url}/api/v1/schema/",
        *filters,
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--header",
        f"Authorization: Token {server.tokens[persona]}",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(out / "report.json"),
        "--no-color",
    ]
    # Run in the run's own directory: schemathesis keeps a cache in its working directory.
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=out)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    return json.loads((out / "report.json").read_text())


@pytest.mark.parametrize("persona", ["admin", "outsider"])
def test_every_answer_is_as_the_schema_says(server, persona, tmp_path):
    tested = 0
    for name, (filters, parameters) in runs(server.ids).items():
        report = schemathesis(server, persona, filters, parameters, tmp_path / name)
        assert (report["failures"], report["errors"], report["operations"]["errored"]) == ([], [], 0), name
        assert report["operations"]["tested"] == report["operations"]["selected"] > 0, name
        tested += report["operations"]["tested"]
    assert tested == 102  # every operation of the schema, once
    log = Path(server.dir, "gunicorn.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-5000:]
