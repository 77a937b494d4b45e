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
from pathlib import Path

import pytest
from bench.server import Server

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
print(json.dumps({"jobs": jobs, "token": token}))
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


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


@pytest.fixture(scope="module")
def fleetwatch():
    live = Server(port=free_port(), workers=1, threads=4, log="gunicorn.log")
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
        "origin": "api",
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
