"""``fleetwatch backup run`` (fleetwatch.backups.runner) against a stand-in of the REST lifecycle:
what it sends (exact bodies), its inventory, the tail it keeps, retries with backoff and the same
run_id, and its exit statuses. The command run as a process, with no database, at the end;
tests/backups/test_real_dumps.py runs it against a live Fleetwatch."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import urllib3

from fleetwatch.backups import runner
from tests.backups.fake_server import PREFIX, FakeHTTP, Lifecycle, serve

JOB = "0b0b6a52-7d4e-4a8f-9f43-3f8c2a1d5e10"
START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
END = datetime(2026, 11, 30, 1, 7, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def clock(*moments):
    moments = list(moments)
    return lambda: moments.pop(0)


def backup(tmp_path, command, *, trouble=(), retry_after=None, lifecycle=None, **options):
    """Run the runner with a fake server; ``(exit status, lifecycle, output, messages, waits)``."""
    lifecycle = lifecycle or Lifecycle(jobs=(JOB,))
    waits: list[float] = []
    client = runner.Client(
        "http://fleetwatch.test",
        "fwb_test",
        sleep=waits.append,
        http=FakeHTTP(lifecycle, trouble, retry_after),
    )
    echo, say = io.BytesIO(), io.StringIO()
    values = {"job": JOB, "url": "http://fleetwatch.test", "token": "fwb_test", "host": "db1.eqiad.wmnet"}
    values.update(options)
    code = runner.run_backup(
        runner.Options(command=command, **values), client=client, echo=echo, say=say, now=clock(START, END)
    )
    return code, lifecycle, echo.getvalue(), say.getvalue(), waits


def stamp(path: Path, moment: datetime) -> str:
    os.utime(path, (moment.timestamp(), moment.timestamp()))
    return moment.isoformat().replace("+00:00", "Z")


def test_a_successful_command_is_a_finished_run_with_its_files_and_output(tmp_path):
    out = tmp_path / "dump.s1"
    script = f"echo starting; mkdir -p {out}/sub; printf abc > {out}/a.sql; printf 12345 > {out}/sub/b.sql; echo done"
    code, server, output, messages, waits = backup(tmp_path, ["sh", "-c", script], output=out)
    assert (code, output, waits) == (0, b"starting\ndone\n", [])
    (_, _, opened), (_, files_path, files), (_, close_path, closed) = server.requests
    assert opened == {
        "job": JOB,
        "run_id": opened["run_id"],
        "start_date": "2026-11-30T01:00:00Z",
        "host": "db1.eqiad.wmnet",
        "origin": "cli",
    }
    assert uuid.UUID(opened["run_id"]).version == 4
    mtime = lambda path: datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat().replace("+00:00", "Z")  # noqa: E731
    assert (files_path, files) == (
        PREFIX + "runs/1/files/",
        {
            "files": [
                {"file_path": "", "file_name": "a.sql", "size": 3, "file_date": mtime(out / "a.sql")},
                {"file_path": "sub", "file_name": "b.sql", "size": 5, "file_date": mtime(out / "sub/b.sql")},
            ]
        },
    )
    assert (close_path, closed) == (
        PREFIX + "runs/1/close/",
        {
            "status": "finished",
            "end_date": "2026-11-30T01:07:30Z",
            "exit_status": 0,
            "log": "starting\ndone\n",
            "total_size": 8,
        },
    )
    assert messages == (
        "fleetwatch backup run: run 1 (dump.s1.1) opened\n"
        "fleetwatch backup run: run 1 closed as finished (exit status 0, 2 files, 8 bytes)\n"
    )


def test_a_failing_command_is_a_failed_run_with_its_exit_status_and_stderr_in_the_log(tmp_path):
    script = "echo 'connecting'; echo 'ERROR 1045 (28000): Access denied for user' >&2; exit 3"
    code, server, output, messages, _ = backup(tmp_path, ["sh", "-c", script])
    assert code == 3
    assert output == b"connecting\nERROR 1045 (28000): Access denied for user\n"
    assert [request[1] for request in server.requests] == [PREFIX + "runs/", PREFIX + "runs/1/close/"]
    assert server.runs[1]["status"] == "failed"
    assert server.runs[1]["exit_status"] == 3
    assert server.runs[1]["log"] == "connecting\nERROR 1045 (28000): Access denied for user\n"
    assert "total_size" not in server.runs[1]  # no --output: nothing was measured
    assert messages.endswith("run 1 closed as failed (exit status 3)\n")


def test_no_shell_unless_asked(tmp_path):
    code, server, output, _, _ = backup(tmp_path, ["echo", "$HOME", ";", "false"])
    assert (code, output, server.runs[1]["log"]) == (0, b"$HOME ; false\n", "$HOME ; false\n")


def test_stdout_to_captures_a_dump_written_to_stdout_and_inventories_it(tmp_path):
    target = tmp_path / "s1.sql"
    script = "printf 'CREATE TABLE t (id int);\\n'; echo '-- warning: a note' >&2"
    code, server, output, _, _ = backup(tmp_path, ["sh", "-c", script], stdout_to=target)
    assert target.read_bytes() == b"CREATE TABLE t (id int);\n"
    assert (code, output) == (0, b"-- warning: a note\n")  # only stderr is echoed and kept
    run = server.runs[1]
    assert run["log"] == "-- warning: a note\n"
    assert run["files"] == [
        {"file_path": "", "file_name": "s1.sql", "size": 25, "file_date": run["files"][0]["file_date"]}
    ]
    assert run["total_size"] == 25


def test_stdout_to_inside_the_output_directory_is_listed_once(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    code, server, _, _, _ = backup(tmp_path, ["printf", "12"], output=out, stdout_to=out / "dump.sql")
    assert code == 0
    entry = server.runs[1]["files"]
    assert [(f["file_path"], f["file_name"], f["size"]) for f in entry] == [("", "dump.sql", 2)]


def test_the_log_is_the_bounded_tail_of_the_output(tmp_path):
    script = "i=0; while [ $i -lt 3000 ]; do printf '%099d\\n' $i; i=$((i+1)); done"
    code, server, output, _, _ = backup(tmp_path, ["sh", "-c", script])
    lines = [f"{i:099d}\n" for i in range(3000)]
    assert (code, output) == (0, "".join(lines).encode())  # 300,000 bytes streamed
    assert server.runs[1]["log"] == "".join(lines[-1000:])  # the last 100,000 bytes kept
    assert len(server.runs[1]["log"].encode()) == runner.TAIL_BYTES


def test_503_and_connection_errors_are_retried_with_backoff_and_the_same_run_id(tmp_path):
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    code, server, _, _, waits = backup(tmp_path, ["true"], trouble=[503, refused, 502], retry_after="5")
    assert code == 0
    opens = [request for request in server.requests if request[1].endswith("/backups/runs/")]
    assert len(opens) == 4
    assert len({request[2]["run_id"] for request in opens}) == 1  # every retry is the same run
    assert waits == [5.0, 2.0, 5.0]  # Retry-After when longer than the backoff (1, 2, 4 s)
    assert (len(server.runs), server.runs[1]["status"]) == (1, "finished")


def test_a_lost_answer_retried_opens_the_run_once(tmp_path):
    lifecycle = Lifecycle(jobs=(JOB,))

    class LosesFirstAnswer(FakeHTTP):
        lost = False

        def request(self, method, url, body=None, headers=None):
            response = super().request(method, url, body, headers)
            if not self.lost:
                self.lost = True
                raise urllib3.exceptions.ReadTimeoutError(None, url, "Read timed out.")
            return response

    waits = []
    client = runner.Client("http://x.test", "fwb_test", sleep=waits.append, http=LosesFirstAnswer(lifecycle))
    options = runner.Options(job=JOB, url="http://x.test", token="fwb_test", command=["true"], host="h")
    code = runner.run_backup(
        options, client=client, echo=io.BytesIO(), say=io.StringIO(), now=clock(START, END)
    )
    assert (code, waits, list(lifecycle.runs)) == (0, [1.0], [1])
    assert lifecycle.runs[1]["status"] == "finished"


def test_an_unreachable_server_at_the_start_still_runs_the_backup_and_reports_it_at_the_end(tmp_path):
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    marker = tmp_path / "ran"
    code, server, _, messages, waits = backup(
        tmp_path, ["touch", str(marker)], trouble=[refused] * runner.ATTEMPTS
    )
    assert code == 0
    assert marker.exists()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert server.runs[1]["start_date"] == "2026-11-30T01:00:00Z"  # when the command started
    assert server.runs[1]["status"] == "finished"
    assert "cannot reach the server" in messages


def test_an_unreachable_server_at_the_end_is_said_clearly_and_the_exit_status_is_not_0(tmp_path):
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    lifecycle = Lifecycle(jobs=(JOB,))
    http = FakeHTTP(lifecycle)
    waits = []
    client = runner.Client("http://x.test", "fwb_test", sleep=waits.append, http=http)
    say = io.StringIO()

    def command_then_outage():
        http.trouble = [refused] * runner.ATTEMPTS  # the server goes away while the command runs
        return END

    moments = [START]
    options = runner.Options(job=JOB, url="http://x.test", token="fwb_test", command=["true"], host="h")
    code = runner.run_backup(
        options,
        client=client,
        echo=io.BytesIO(),
        say=say,
        now=lambda: moments.pop(0) if moments else command_then_outage(),
    )
    assert code == runner.EXIT_UNREPORTED == 75
    assert lifecycle.runs[1]["status"] == "ongoing"
    last = say.getvalue().splitlines()[-1]
    assert last.startswith(
        "fleetwatch backup run: THE RUN WAS NOT REPORTED: POST http://x.test/api/v1/backups/runs/1/close/"
    )
    assert last.endswith("The command exited with status 0.")
    assert "no answer after 6 tries (last: NewConnectionError" in last


def test_a_failed_command_unreported_keeps_its_own_exit_status(tmp_path):
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    code, server, _, messages, _ = backup(tmp_path, ["sh", "-c", "exit 5"], trouble=[refused] * 12)
    assert (code, server.runs) == (5, {})
    assert "THE RUN WAS NOT REPORTED" in messages


def test_a_refused_open_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    lifecycle = Lifecycle(jobs=())  # the server knows no such job
    code, server, _, messages, _ = backup(tmp_path, ["touch", str(marker)], lifecycle=lifecycle)
    assert (code, marker.exists(), len(server.requests)) == (2, False, 1)
    assert messages == (
        "fleetwatch backup run: the server refused to open the run, so the command was not run: "
        "POST http://fleetwatch.test/api/v1/backups/runs/: 400 Unknown job. (job: No such job.)\n"
    )


def test_a_command_that_cannot_be_found_is_a_failed_run_with_status_127(tmp_path):
    code, server, output, _, _ = backup(tmp_path, ["no-such-dumper-here", "--all"])
    assert code == 127
    assert server.runs[1]["status"] == "failed"
    assert server.runs[1]["exit_status"] == 127
    assert server.runs[1]["log"] == output.decode()
    assert output == b"fleetwatch backup run: cannot run no-such-dumper-here: No such file or directory\n"


def test_a_missing_output_directory_is_noted_in_the_log(tmp_path):
    code, server, _, _, _ = backup(tmp_path, ["true"], output=tmp_path / "nowhere")
    assert code == 0
    assert (
        server.runs[1]["log"]
        == f"fleetwatch backup run: --output {tmp_path / 'nowhere'} does not exist (no files)\n"
    )
    assert "files" not in [request[1].rsplit("/", 2)[-2] for request in server.requests]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"command": []}, "no command given (fleetwatch backup run --job JOB -- COMMAND …)"),
        ({"job": "s1"}, "--job must be a job's UUID (its ping URL's), not 's1'"),
        ({"url": ""}, "no server: give --url or set FLEETWATCH_URL"),
        ({"url": "fleetwatch:8000"}, "--url must start with http:// or https://, not 'fleetwatch:8000'"),
        ({"token": ""}, "no runner token: give --token or set FLEETWATCH_RUNNER_TOKEN"),
    ],
)
def test_bad_options_run_nothing(tmp_path, options, message):
    command = options.pop("command", ["true"])
    code, server, _, messages, _ = backup(tmp_path, command, **options)
    assert (code, server.requests, messages) == (2, [], f"fleetwatch backup run: {message}\n")


def test_the_inventory_walks_the_tree_sorted_without_symlinks(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "c").mkdir()
    for name, data in (("z.gz", b"1"), ("b/x.sql", b"22"), ("b/c/y.sql", b"333"), ("a.txt", b"")):
        (tmp_path / name).write_bytes(data)
        stamp(tmp_path / name, START)
    (tmp_path / "link").symlink_to(tmp_path / "z.gz")
    assert [tuple(entry.values()) for entry in runner.inventory(tmp_path)] == [
        ("", "a.txt", 0, "2026-11-30T01:00:00Z"),
        ("", "z.gz", 1, "2026-11-30T01:00:00Z"),
        ("b", "x.sql", 2, "2026-11-30T01:00:00Z"),
        ("b/c", "y.sql", 3, "2026-11-30T01:00:00Z"),
    ]


def test_many_files_go_in_several_requests(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "FILES_PER_REQUEST", 2)
    out = tmp_path / "out"
    out.mkdir()
    for n in range(5):
        (out / f"t{n}.sql").write_bytes(b"x" * n)
    code, server, _, _, _ = backup(tmp_path, ["true"], output=out)
    sizes = [
        [f["size"] for f in body["files"]] for _, path, body in server.requests if path.endswith("/files/")
    ]
    assert (code, sizes, server.runs[1]["total_size"]) == (0, [[0, 1], [2, 3], [4]], 10)


def fleetwatch(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """``fleetwatch *args`` as a process, with a database it could not reach."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
        "FLEETWATCH_DATA_DIR": str(tmp_path / "var"),
        # No database on a database host: any query would fail (nothing listens on port 9).
        "FLEETWATCH_DATABASE": "postgresql://nobody:nothing@127.0.0.1:9/none",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "fleetwatch", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_needs_no_database_and_exits_with_the_commands_status(tmp_path):
    lifecycle = Lifecycle(jobs=(JOB,))
    server = serve(lifecycle)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        done = fleetwatch(
            "backup", "run", "--job", JOB, "--", "sh", "-c", "echo 'dumping s1'; exit 4",
            tmp_path=tmp_path, FLEETWATCH_URL=url, FLEETWATCH_RUNNER_TOKEN="fwb_test",
        )  # fmt: skip
    finally:
        server.shutdown()
    assert (done.returncode, done.stdout) == (4, "dumping s1\n")
    assert done.stderr.endswith("fleetwatch backup run: run 1 closed as failed (exit status 4)\n")
    run = lifecycle.runs[1]
    assert (run["status"], run["exit_status"], run["log"]) == ("failed", 4, "dumping s1\n")


def test_the_command_line_options_win_over_the_environment(tmp_path):
    lifecycle = Lifecycle(jobs=(JOB,), token="fwb_given")
    server = serve(lifecycle)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        done = fleetwatch(
            "backup", "run", "--job", JOB, "--url", url, "--token", "fwb_given", "--", "true",
            tmp_path=tmp_path, FLEETWATCH_URL="http://127.0.0.1:9", FLEETWATCH_RUNNER_TOKEN="fwb_other",
        )  # fmt: skip
    finally:
        server.shutdown()
    assert (done.returncode, lifecycle.runs[1]["status"]) == (0, "finished")


def test_the_command_without_a_server_says_how_to_give_one(tmp_path):
    done = fleetwatch("backup", "run", "--job", JOB, "--", "true", tmp_path=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "fleetwatch backup run: no server: give --url or set FLEETWATCH_URL\n"


def test_an_answer_naming_another_run_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    lifecycle = Lifecycle(jobs=(JOB,))
    # Another start of the job in the same second: the server answers that run (same name).
    lifecycle.runs[1] = {
        "id": 1,
        "name": "dump.s1.2026-11-30--01-00-00",
        "status": "ongoing",
        "run_id": str(uuid.uuid4()),
    }
    original = lifecycle.answer

    def same_name(method, path, body, authorization):
        if path.endswith("/backups/runs/"):
            lifecycle.requests.append((method, path, body))
            return 200, lifecycle.runs[1]
        return original(method, path, body, authorization)

    lifecycle.answer = same_name
    code, server, _, messages, _ = backup(tmp_path, ["touch", str(marker)], lifecycle=lifecycle)
    assert (code, marker.exists(), len(server.requests)) == (2, False, 1)
    assert messages == (
        "fleetwatch backup run: the server refused to open the run, so the command was not run: "
        "the server answered another run of the job, dump.s1.2026-11-30--01-00-00 (run 1)\n"
    )
