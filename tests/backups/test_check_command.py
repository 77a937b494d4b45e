"""``fleetwatch backup check``: one line and a Nagios exit status, as wmfbackups'
check-mariadb-backups prints them (the message alone; the status is the exit code), from the
job's last two finished runs; UNKNOWN for what the matrix does not know, bad arguments and a
database that cannot be read. Run through ``fleetwatch.cli.main`` as NRPE runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from fleetwatch import cli
from fleetwatch.backups.models import BackupJob, BackupRun

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def check(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``fleetwatch backup check *argv`` at NOW."""
    with freeze_time(NOW):
        try:
            status = cli.main(["backup", "check", *argv])
        except SystemExit as exc:
            status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def job(orgs):
    return BackupJob.objects.create(organization=orgs[0], section="s1", type="dump", datacenter="eqiad")


def add_run(job, days_ago, size, status="finished", hours=2):
    start = NOW - timedelta(days=days_ago)
    return BackupRun.objects.create(
        organization=job.organization,
        job=job,
        name=f"dump.s1.{start:%Y-%m-%d--%H-%M-%S}",
        status=status,
        source="db1139.eqiad.wmnet:3311",
        host="dbprov1001.eqiad.wmnet",
        type=job.type,
        section=job.section,
        datacenter=job.datacenter,
        start_date=start,
        end_date=None if status == "ongoing" else start + timedelta(hours=hours),
        total_size=size,
    )


S1 = ("--section", "s1", "--type", "dump", "--datacenter", "eqiad")


def test_ok_prints_the_one_line_of_the_original_and_exits_0(capsys, job):
    add_run(job, 3, 1, status="failed")  # an older failure, and a run still going, do not count
    add_run(job, 2, 100 * MIB)
    add_run(job, 1, 102 * MIB)
    add_run(job, 0.1, None, status="ongoing")
    assert check(capsys, *S1) == (
        0,
        "Last dump for s1 at eqiad (db1139) taken on 2026-11-29 09:00:00 (102 MiB, +2.0 %)\n",
        "",
    )


def test_a_newest_run_that_failed_is_critical_at_once_as_the_worker_judges_it(capsys, job):
    add_run(job, 2, 100 * MIB)
    add_run(job, 1, 102 * MIB)
    failed = add_run(job, 0.5, None, status="failed")
    failed.exit_status = 2
    failed.save()
    assert check(capsys, *S1) == (
        2,
        "The newest dump for s1 at eqiad (db1139) failed: started on 2026-11-29 21:00:00, exit status 2\n",
        "",
    )


def test_no_run_is_critical(capsys, job):
    add_run(job, 1, 100 * MIB, status="failed")
    assert check(capsys, *S1) == (2, "We could not find any completed dump for s1 at eqiad\n", "")


def test_a_single_run_is_a_warning(capsys, job):
    add_run(job, 1, 100 * MIB)
    assert check(capsys, *S1) == (
        1,
        "There is only 1 dump for s1 at eqiad (db1139) taken on 2026-11-29 09:00:00 (100 MiB)\n",
        "",
    )


def test_a_shrunk_backup_is_critical_and_a_smaller_change_a_warning(capsys, job):
    add_run(job, 2, 100 * MIB)
    add_run(job, 1, 80 * MIB)
    expected = (
        "Last dump for s1 at eqiad (db1139) taken on 2026-11-29 09:00:00 is 80 MiB, "
        "but the previous one was 100 MiB, a change of -20.0 %\n"
    )
    assert check(capsys, *S1) == (2, expected, "")
    # The thresholds of the command line win over the job's: -20 % is within 25 %, beyond 10 %.
    assert check(capsys, *S1, "--warn-size-percentage", "10", "--crit-size-percentage", "25") == (
        1,
        expected,
        "",
    )


def test_freshness_and_min_size_from_the_job_or_the_command_line(capsys, job):
    add_run(job, 4, 100 * MIB)
    add_run(job, 3, 100 * MIB)
    assert check(capsys, *S1)[0] == 0  # the job's 8 days
    assert check(capsys, *S1, "--freshness", str(2 * 86400)) == (
        2,
        "dump for s1 at eqiad (db1139) taken more than 2 days ago: Most recent backup 2026-11-27 09:00:00\n",
        "",
    )
    job.freshness = 2 * 86400
    job.save()
    assert check(capsys, *S1)[0] == 2
    assert check(capsys, *S1, "--freshness", "691200", "--min-size", str(200 * MIB)) == (
        2,
        "dump for s1 at eqiad (db1139, 2026-11-27 09:00:00): 100 MiB is less than 200 MiB\n",
        "",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--section", "s9", "--datacenter", "eqiad"), "Bad or unrecognized section: s9"),
        (("--section", "s1", "--datacenter", "codfw"), "Bad or unrecognized datacenter: codfw (dump of s1 is in: eqiad)"),
        (("--section", "s1"), "Bad or unrecognized datacenter: (none) (dump of s1 is in: eqiad)"),
        (("--section", "s1", "--type", "bogus"), "Bad or unrecognized type: bogus"),
        (("--section", "s1", "--datacenter", "eqiad", "--type", "snapshot"), "Bad or unrecognized type: snapshot"),
        (("--section", "s1", "--datacenter", "eqiad", "--organization", "org-z"), "Bad or unrecognized organization: org-z"),
        (("--section", "s1", "--datacenter", "eqiad", "--organization", "org-b"), "Bad or unrecognized section: s1"),
    ],
)  # fmt: skip
def test_what_the_matrix_does_not_know_is_unknown(capsys, job, argv, message):
    assert check(capsys, *argv) == (3, message + "\n", "")


def test_the_type_defaults_to_dump_as_in_the_original(capsys, job):
    add_run(job, 1, 100 * MIB)
    assert check(capsys, "--section", "s1", "--datacenter", "eqiad")[0] == 1


def test_bad_arguments_are_unknown_not_critical(capsys, job):
    assert check(capsys, "--section", "s1", "--freshness", "8d") == (
        3,
        "Bad arguments: argument --freshness: invalid int value: '8d'\n",
        "",
    )
    assert check(capsys, "--type", "dump") == (
        3,
        "Bad arguments: the following arguments are required: --section\n",
        "",
    )


def test_a_job_of_several_organizations_needs_organization(capsys, job, orgs):
    other = BackupJob.objects.create(organization=orgs[1], section="s1", type="dump", datacenter="eqiad")
    add_run(other, 1, 5 * MIB)
    assert check(capsys, *S1) == (
        3,
        "dump of s1 in eqiad is a job of several organizations (org-a, org-b): give --organization\n",
        "",
    )
    assert check(capsys, *S1, "--organization", "org-b")[:2] == (
        1,
        "There is only 1 dump for s1 at eqiad (db1139) taken on 2026-11-29 09:00:00 (5 MiB)\n",
    )
    assert check(capsys, *S1, "--organization", "org-a") == (
        2,
        "We could not find any completed dump for s1 at eqiad\n",
        "",
    )


def test_an_inactive_job_is_unknown(capsys, job):
    job.is_active = False
    job.save()
    assert check(capsys, *S1) == (3, "dump of s1 in eqiad is not active: it is not checked\n", "")


def test_a_database_that_cannot_be_read_is_unknown(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "fleetwatch", "backup", "check", *S1],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "FLEETWATCH_DATA_DIR": str(tmp_path),
            "FLEETWATCH_DATABASE": "postgresql://nobody:nothing@127.0.0.1:9/none",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (3, "")
    assert done.stdout.startswith("Error while querying the backup metadata database: connection ")
    assert done.stdout.count("\n") == 1


def console_examples(heading: str) -> list[tuple[list[str], list[str], int]]:
    """``(argv, output lines, exit status)`` of each command in the first console block under
    ``heading`` of docs/backups.md (a command, its output, then ``$ echo $?`` and the status)."""
    text = (ROOT / "docs" / "backups.md").read_text(encoding="utf-8")
    block = text.split(f"\n{heading}\n", 1)[1].split("```console\n", 1)[1].split("\n```", 1)[0]
    examples, current = [], None
    lines = block.splitlines()
    for index, line in enumerate(lines):
        if line == "$ echo $?":
            examples.append((current[0], current[1], int(lines[index + 1])))
        elif line.startswith("$ fleetwatch "):
            current = (line[len("$ fleetwatch ") :].split(), [])
        elif current is not None and not line.isdigit():
            current[1].append(line)
    return examples


def test_the_docs_examples(capsys, job):
    # As the docs say: two finished dumps, of 100 MiB and 102 MiB, a day apart.
    add_run(job, 2, 100 * MIB)
    add_run(job, 1, 102 * MIB)
    examples = console_examples("## Nagios/Icinga: fleetwatch backup check")
    assert [status for _, _, status in examples] == [0, 1, 2, 3]
    for argv, output, status in examples:
        assert argv[:2] == ["backup", "check"]
        assert check(capsys, *argv[2:]) == (status, "\n".join(output) + "\n", ""), argv


def test_a_directory_without_fleetwatch_s_database_says_where_to_point_it(tmp_path):
    """NRPE runs plugins from its own directory: the default data dir (./var) there holds no
    Fleetwatch database, and the line says which setting points the check to the server's."""
    done = subprocess.run(
        [sys.executable, "-m", "fleetwatch", "backup", "check", *S1],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "FLEETWATCH_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (3, "")
    assert done.stdout == (
        f"No Fleetwatch database at {tmp_path}/fleetwatch.sqlite3: run the check with the server's "
        "FLEETWATCH_DATA_DIR (or FLEETWATCH_DATABASE)\n"
    )
