"""Real dumps through ``fleetwatch backup run`` against a live Fleetwatch (gunicorn, SQLite, as
deployed): mariadb-dump, mydumper and pg_dump of real databases become finished runs with their
file inventory and size; the same tools with a wrong password become failed runs with the tool's
exit status and its refusal in the log. The runner runs as a process with a database it could
not reach: it talks to the server over HTTP only."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench.server import Server, free_port

from tests.backups import databases

PORTS = range(8211, 8221)  # the runner suite's live-server ports
ROOT = Path(__file__).resolve().parents[2]

# Run in the server's environment: an organization, its jobs and a runner token.
SETUP = """
import json
from fleetwatch.backups.models import BackupJob, RunnerToken
from fleetwatch.inventory.models import Organization

org = Organization.objects.create(name="DBA", slug="dba")
jobs = {
    key: str(BackupJob.objects.create(organization=org, section=section, type="dump", datacenter=dc).pk)
    for key, section, dc in (("mariadb", "s1", "eqiad"), ("mydumper", "s2", "eqiad"), ("postgresql", "app", ""))
}
_, token = RunnerToken.issue(org, "db hosts")

# A job with a good history, for the checks and notifications: one DBA is told.
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from fleetwatch.backups.runs import close_run, open_run
from fleetwatch.inventory.models import Membership

dba = get_user_model().objects.create_user("dba", password="unused-dba")
Membership.objects.create(user=dba, organization=org, role="admin")
watched = BackupJob.objects.create(
    organization=org, section="s3", type="dump", datacenter="eqiad",
    min_size=100, warn_size_percentage=1000, crit_size_percentage=1000,
)
with transaction.atomic():  # judged once both exist (OK), not after the first (only 1: WARNING)
    for days in (2, 1):
        start = timezone.now() - timedelta(days=days)
        run, _ = open_run(watched, start_date=start, source="127.0.0.1:13306", host="db1.eqiad.example")
        close_run(run, "finished", end_date=start + timedelta(minutes=1), total_size=3000)
jobs["watched"] = str(watched.pk)
print(json.dumps({"jobs": jobs, "token": token}))
"""

# The freshness check of a job and the notifications about it, as JSON, after the worker's pass
# that follows closes (judge-closed-backups, every few seconds; this live server runs no worker).
TOLD = """
import json
from fleetwatch.backups.tasks import judge_closed_backups
judge_closed_backups()
from fleetwatch.backups.models import JobCheck
from fleetwatch.notifications.models import Notification
check = JobCheck.objects.get(job_id="{job}", kind="freshness")
print(json.dumps({{
    "status": check.status, "message": check.message,
    "told": [[n.user.username, n.kind, n.title] for n in Notification.objects.filter(url="/backups/jobs/{job}/").order_by("id")],
}}))
"""

# The stored run of a job, its files and objects, as JSON.
SHOW = """
import json
from fleetwatch.backups.models import BackupRun
run = BackupRun.objects.filter(job_id="{job}").order_by("-id").first()
print(json.dumps({{
    "count": BackupRun.objects.filter(job_id="{job}").count(),
    "status": run.status, "exit_status": run.exit_status, "total_size": run.total_size,
    "log": run.log, "origin": run.origin, "host": run.host, "ended": run.end_date is not None,
    "files": [[f.file_path, f.file_name, f.size] for f in run.files.order_by("file_path", "file_name")],
}}))
"""


@pytest.fixture(scope="module")
def fleetwatch():
    live = Server(port=free_port(PORTS), workers=1, threads=4, log="gunicorn.log")
    live.env.pop("FLEETWATCH_TIMESERIES", None)
    live.env.pop("FLEETWATCH_DATABASE", None)
    live.start()
    try:
        created = json.loads(live.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        live.jobs, live.token = created["jobs"], created["token"]
        yield live
    finally:
        live.stop()


def stored(server, job: str) -> dict:
    return json.loads(server.manage("shell", "-c", SHOW.format(job=job)).strip().splitlines()[-1])


def backup_run(server, tmp_path, job: str, *args: str) -> subprocess.CompletedProcess:
    """``fleetwatch backup run --job JOB *args`` as a database host runs it: no database."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "FLEETWATCH_DATA_DIR": str(tmp_path / "runner"),
        "FLEETWATCH_DATABASE": "postgresql://nobody:nothing@127.0.0.1:9/none",
        "FLEETWATCH_URL": server.url,
        "FLEETWATCH_RUNNER_TOKEN": server.token,
    }
    return subprocess.run(
        [sys.executable, "-m", "fleetwatch", "backup", "run", "--job", job, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def said(done: subprocess.CompletedProcess, status: str, code: int, files: str = "") -> None:
    """The runner's two lines, as docs/backups.md shows them."""
    lines = done.stderr.splitlines()
    assert re.fullmatch(
        r"fleetwatch backup run: run \d+ \(dump\.\w+\.\d{4}-\d\d-\d\d--\d\d-\d\d-\d\d\) opened", lines[0]
    )
    assert re.fullmatch(
        rf"fleetwatch backup run: run \d+ closed as {status} \(exit status {code}{files}\)", lines[1]
    )
    assert len(lines) == 2, done.stderr


def mariadb_args(database: databases.Database, password: str | None = None) -> list[str]:
    server = database.server
    return [
        "--no-defaults",
        "--host", server.host, "--port", str(server.port), "--user", server.user,
        f"--password={server.password if password is None else password}",
    ]  # fmt: skip


def test_mariadb_dump_is_a_finished_run_with_its_file_and_size(fleetwatch, mariadb_database, tmp_path):
    target = tmp_path / "s1.sql"
    dump = databases.program("mariadb-dump")
    done = backup_run(
        fleetwatch, tmp_path, fleetwatch.jobs["mariadb"], "--stdout-to", str(target),
        "--", dump, *mariadb_args(mariadb_database), "--single-transaction", mariadb_database.name,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "")
    size = target.stat().st_size
    said(done, "finished", 0, f", 1 file, {size} bytes")
    text = target.read_text(encoding="utf-8")
    assert "CREATE TABLE `readings`" in text
    assert "Zürich" in text
    run = stored(fleetwatch, fleetwatch.jobs["mariadb"])
    assert run == {
        "count": 1,
        "status": "finished",
        "exit_status": 0,
        "total_size": size,
        "log": "",
        "origin": "cli",
        "host": socket.getfqdn(),
        "ended": True,
        "files": [["", "s1.sql", size]],
    }


def test_mydumper_output_directory_is_inventoried(fleetwatch, mariadb_database, tmp_path):
    out = tmp_path / "dump.s2"
    done = backup_run(
        fleetwatch, tmp_path, fleetwatch.jobs["mydumper"], "--output", str(out),
        "--", databases.program("mydumper"),
        "--host", "127.0.0.1", "--port", str(mariadb_database.server.port),
        "--user", mariadb_database.server.user, "--password", mariadb_database.server.password,
        "--database", mariadb_database.name, "--outputdir", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    on_disk = sorted(
        ["" if path.parent == out else str(path.parent.relative_to(out)), path.name, path.stat().st_size]
        for path in out.rglob("*")
        if path.is_file()
    )
    assert len(on_disk) >= 4  # metadata, the schema and the data of two tables
    assert any(name.endswith(".sql") and "readings" in name for _, name, _ in on_disk)
    run = stored(fleetwatch, fleetwatch.jobs["mydumper"])
    assert (run["status"], run["exit_status"]) == ("finished", 0)
    assert run["files"] == on_disk
    assert run["total_size"] == sum(size for _, _, size in on_disk)


def test_pg_dump_is_a_finished_run_with_its_file_and_size(fleetwatch, postgresql_database, tmp_path):
    target = tmp_path / "app.sql"
    done = backup_run(
        fleetwatch, tmp_path, fleetwatch.jobs["postgresql"], "--stdout-to", str(target),
        "--", databases.program("pg_dump"), "--dbname", postgresql_database.url,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "")
    size = target.stat().st_size
    text = target.read_text(encoding="utf-8")
    assert "CREATE TABLE public.readings" in text
    assert "Tromsø" in text
    run = stored(fleetwatch, fleetwatch.jobs["postgresql"])
    assert (run["status"], run["exit_status"], run["total_size"], run["log"]) == ("finished", 0, size, "")
    assert run["files"] == [["", "app.sql", size]]


def test_mariadb_dump_with_a_wrong_password_is_a_failed_run(fleetwatch, mariadb_database, tmp_path):
    done = backup_run(
        fleetwatch, tmp_path, fleetwatch.jobs["mariadb"], "--stdout-to", str(tmp_path / "s1.sql"),
        "--", databases.program("mariadb-dump"), *mariadb_args(mariadb_database, "wrong"), mariadb_database.name,
    )  # fmt: skip
    assert done.returncode == 2  # mariadb-dump's status for a refused connection
    said(done, "failed", 2, ", 1 file, 0 bytes")
    run = stored(fleetwatch, fleetwatch.jobs["mariadb"])
    assert (run["status"], run["exit_status"], run["ended"]) == ("failed", 2, True)
    assert "Access denied for user 'fleetwatch'@'127.0.0.1' (using password: YES)" in run["log"]
    assert run["log"] == done.stdout  # the tool's stderr, echoed and kept


def test_pg_dump_with_a_wrong_password_is_a_failed_run(fleetwatch, postgresql_database, tmp_path):
    wrong = postgresql_database.server.with_password("wrong").url(postgresql_database.name)
    done = backup_run(
        fleetwatch,
        tmp_path,
        fleetwatch.jobs["postgresql"],
        "--",
        databases.program("pg_dump"),
        "--dbname",
        wrong,
    )
    assert done.returncode == 1
    run = stored(fleetwatch, fleetwatch.jobs["postgresql"])
    assert (run["status"], run["exit_status"]) == ("failed", 1)
    assert 'password authentication failed for user "fleetwatch"' in run["log"]
    assert run["files"] == []


def next_second() -> None:
    """Return once the wall clock is in a new second. A run is named by its start to the
    second (``dump.s3.<date>--<hh-mm-ss>``, as wmfbackups names them): a retry started in the
    same second as the run before it is that run again, and the runner refuses to run it (the
    server answers the other run). The runner is a real subprocess reading the real clock, so
    the test lets the second pass (under a second) instead of moving a clock."""
    second = int(time.time())
    while int(time.time()) == second:
        time.sleep(0.01)


def told(server, job: str) -> dict:
    return json.loads(server.manage("shell", "-c", TOLD.format(job=job)).strip().splitlines()[-1])


def test_a_failed_dump_is_critical_told_once_and_its_recovery_once(fleetwatch, mariadb_database, tmp_path):
    job = fleetwatch.jobs["watched"]
    assert told(fleetwatch, job)["told"] == []  # judged OK from the start: nothing to tell
    dump = [databases.program("mariadb-dump")]
    done = backup_run(
        fleetwatch, tmp_path, job, "--source", "127.0.0.1:13306", "--stdout-to", str(tmp_path / "s3.sql"),
        "--", *dump, *mariadb_args(mariadb_database, "wrong"), mariadb_database.name,
    )  # fmt: skip
    assert done.returncode == 2
    state = told(fleetwatch, job)
    assert state["status"] == 2  # CRITICAL, at the worker's next pass
    assert re.fullmatch(
        r"The newest dump for s3 at eqiad \(127\.0\.0\.1\) failed: started on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, exit status 2",
        state["message"],
    )
    assert state["told"] == [["dba", "problem", "dump of s3 in eqiad: CRITICAL"]]

    next_second()  # else, on a fast machine, the retry is named as the failed run
    done = backup_run(
        fleetwatch, tmp_path, job, "--source", "127.0.0.1:13306", "--stdout-to", str(tmp_path / "s3.sql"),
        "--", *dump, *mariadb_args(mariadb_database), "--single-transaction", mariadb_database.name,
    )  # fmt: skip
    assert done.returncode == 0
    state = told(fleetwatch, job)
    assert state["status"] == 0
    assert state["message"].startswith("Last dump for s3 at eqiad (127.0.0.1) taken on ")
    assert state["told"] == [
        ["dba", "problem", "dump of s3 in eqiad: CRITICAL"],
        ["dba", "recovery", "dump of s3 in eqiad: OK"],
    ]
