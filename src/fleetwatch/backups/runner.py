"""``fleetwatch backup run``: run a backup command on the database host and report it as a
backup run, over HTTP only.

The runner opens a run (``ongoing``), executes the command (no shell: ``sh -c`` when one is
wanted), streams its output to the terminal and keeps its tail, inventories the output directory,
and closes the run ``finished`` (exit status 0) or ``failed`` (any other, kept as
``exit_status``) with the tail as the run's log; it exits with the command's exit status. It
speaks the REST lifecycle of ``/api/v1/backups/runs/`` (docs/backups.md) with a runner token
(``Authorization: Bearer fwb_…``).

Nothing here imports Django: the runner runs where there is no Fleetwatch database (the
management command ``backup run`` only parses its arguments and calls :func:`run_backup`).

Retries: connection errors, timeouts and 502/503/504 answers are retried with exponential
backoff (``Retry-After`` honoured, bounded). Every request is idempotent on the server (the run
is opened with a ``run_id`` the runner chooses; files and close are keyed by it), so a retry of
a request whose answer was lost stores nothing twice.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

import urllib3

from fleetwatch import __version__

# Bytes of output kept as the run's log: the server keeps at most this much (backups.models.LOG_LIMIT).
TAIL_BYTES = 100_000
FILES_PER_REQUEST = 5_000  # the server accepts up to 100,000; smaller requests retry cheaply
RETRY_STATUSES = frozenset({502, 503, 504})
ATTEMPTS = 6  # tries of one request: about a minute of waiting with the default backoff
BACKOFF = 1.0  # seconds before the first retry, doubled after each
MAX_DELAY = 30.0  # the longest wait between two tries, Retry-After included
TIMEOUT = urllib3.Timeout(connect=10, read=60)

# Exit statuses of the runner itself (the command's own status otherwise).
EXIT_USAGE = 2  # bad arguments, or the server refused to open the run: nothing was run
EXIT_UNREPORTED = 75  # EX_TEMPFAIL: the command succeeded but its run could not be reported
EXIT_NOT_FOUND = 127  # as a shell answers a command it cannot find
EXIT_NOT_EXECUTABLE = 126


class ReportError(Exception):
    """The server could not be told: ``unreachable`` (connection errors or 5xx after every
    retry) or refused (a 4xx, ``status`` and the server's ``detail``)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status

    @property
    def unreachable(self) -> bool:
        return self.status is None or self.status >= 500


class Client:
    """The REST lifecycle of backup runs, as a runner uses it. ``url`` is the server's base
    (``https://fleetwatch.example.org``), ``token`` a runner token. ``sleep`` waits between
    retries (tests pass a recorder)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        http: urllib3.PoolManager | None = None,
    ):
        self.base = url.rstrip("/") + "/api/v1/backups/"
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"fleetwatch-backup-run/{__version__}",
        }
        self.attempts, self.backoff, self.sleep = max(1, attempts), backoff, sleep
        # Our own retry loop (below): urllib3's would retry a POST only when told every detail.
        self.http = http or urllib3.PoolManager(timeout=TIMEOUT, retries=False)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """``method`` ``path`` (relative to ``/api/v1/backups/``) with a JSON ``body``; the
        JSON answer of a 2xx. Raises :class:`ReportError`."""
        url = self.base + path
        data = json.dumps(body).encode() if body is not None else None
        problem = ""
        for attempt in range(self.attempts):
            delay = min(MAX_DELAY, self.backoff * 2**attempt)
            try:
                response = self.http.request(method, url, body=data, headers=self.headers)
            except urllib3.exceptions.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= response.status < 300:
                    return _json(response.data)
                if response.status not in RETRY_STATUSES:
                    raise ReportError(
                        f"{method} {url}: {response.status} {_detail(response.data)}", response.status
                    )
                problem = f"{response.status} {_detail(response.data)}"
                delay = min(MAX_DELAY, max(delay, _retry_after(response.headers.get("Retry-After"))))
            if attempt + 1 < self.attempts:
                self.sleep(delay)
        raise ReportError(f"{method} {url}: no answer after {self.attempts} tries (last: {problem})")

    def open_run(self, job: str, run_id: uuid.UUID, start: datetime, host: str, source: str = "") -> dict:
        """Open an ``ongoing`` run of ``job`` (its UUID); the run as the server answers it."""
        body = {"job": job, "run_id": str(run_id), "start_date": _iso(start), "host": host, "origin": "cli"}
        if source:
            body["source"] = source
        run = self.request("POST", "runs/", body)
        if run.get("run_id") not in (None, str(run_id)):
            # The same name (the job's type, section and start second) is another run: a
            # second start of the same job in the same second, most likely a duplicate.
            raise ReportError(
                f"the server answered another run of the job, {run.get('name')} (run {run.get('id')})", 409
            )
        return run

    def attach_files(self, run: dict, files: Sequence[dict]) -> None:
        """Send the inventory ``files`` (``file_path``, ``file_name``, ``size``, ``file_date``)
        in requests of :data:`FILES_PER_REQUEST`."""
        for start in range(0, len(files), FILES_PER_REQUEST):
            self.request(
                "POST", f"runs/{run['id']}/files/", {"files": list(files[start : start + FILES_PER_REQUEST])}
            )

    def close_run(self, run: dict, body: dict) -> dict:
        """Close ``run`` with ``body`` (``status``, ``end_date``, ``exit_status``, ``log``,
        ``total_size``)."""
        return self.request("POST", f"runs/{run['id']}/close/", body)


def _json(data: bytes) -> dict:
    try:
        answer = json.loads(data or b"{}")
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {"results": answer}


def _detail(data: bytes) -> str:
    """The server's ``detail`` (and field ``errors``), or the start of its body."""
    answer = _json(data)
    if "detail" in answer:
        errors = answer.get("errors") or {}
        more = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items() if isinstance(v, list))
        return str(answer["detail"]) + (f" ({more})" if more else "")
    return data[:200].decode("utf-8", "replace").strip()


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0  # an HTTP date: the backoff decides


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the command's output --------------------------------------------------------------------


class Tail:
    """The last ``limit`` bytes written to it."""

    def __init__(self, limit: int = TAIL_BYTES):
        self.limit = limit
        self.data = bytearray()

    def write(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit:  # trim now and then, not on every chunk
            del self.data[: -self.limit]

    def text(self) -> str:
        """The tail as text (undecodable bytes replaced, a character cut at the start dropped)."""
        data = bytes(self.data[-self.limit :])
        return data.decode("utf-8", errors="replace").lstrip("\ufffd")


def execute(command: Sequence[str], stdout_to: Path | None, echo: BinaryIO, tail: Tail) -> int:
    """Run ``command`` (no shell) and wait for it; its output (stdout and stderr together, or
    only stderr when ``stdout_to`` takes stdout) is copied to ``echo`` and ``tail`` as it
    comes. Returns its exit status, ``128 + N`` when signal ``N`` ended it, 127/126 when it
    cannot be started (the reason is written as output)."""
    target = open(stdout_to, "wb") if stdout_to else None
    try:
        try:
            child = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=target or subprocess.PIPE,
                stderr=subprocess.PIPE if target else subprocess.STDOUT,
            )
        except OSError as exc:
            message = f"fleetwatch backup run: cannot run {command[0]}: {exc.strerror}\n".encode()
            echo.write(message)
            echo.flush()
            tail.write(message)
            return EXIT_NOT_FOUND if isinstance(exc, FileNotFoundError) else EXIT_NOT_EXECUTABLE
        pipe = child.stderr if target else child.stdout
        while True:
            try:
                chunk = pipe.read1(65536)
            except KeyboardInterrupt:
                # Ctrl-C reached the command too (same process group): record how it ends.
                continue
            if not chunk:
                break
            echo.write(chunk)
            echo.flush()
            tail.write(chunk)
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:
                continue
        return 128 + -code if code < 0 else code
    finally:
        if target:
            target.close()


# --- the inventory ---------------------------------------------------------------------------


def inventory(root: Path) -> Iterator[dict]:
    """Every regular file under ``root`` (recursively, symbolic links not followed) as a file
    entry of the REST API: ``file_path`` its directory relative to ``root`` (``""`` at the top),
    ``file_name``, ``size`` in bytes and ``file_date`` (its modification time, UTC), sorted by
    path. A file that is ``root`` itself is listed alone with ``file_path`` ``""``."""
    if root.is_file():
        yield _entry("", root)
        return
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        relative = os.path.relpath(directory, root)
        for name in sorted(filenames):
            path = Path(directory, name)
            if path.is_symlink() or not path.is_file():
                continue
            yield _entry("" if relative == "." else relative, path)


def _entry(file_path: str, path: Path) -> dict:
    stat = path.stat()
    return {
        "file_path": file_path,
        "file_name": path.name,
        "size": stat.st_size,
        "file_date": _iso(datetime.fromtimestamp(stat.st_mtime, UTC)),
    }


# --- the whole run ---------------------------------------------------------------------------


@dataclass
class Options:
    """What ``fleetwatch backup run`` was asked: the job's UUID, the server and token, the
    command, its output directory and the file its stdout goes to (both optional), the server
    backed up (``source``, optional) and this host's FQDN."""

    job: str
    url: str
    token: str
    command: list[str]
    output: Path | None = None
    stdout_to: Path | None = None
    source: str = ""
    host: str = field(default_factory=socket.getfqdn)


def run_backup(
    options: Options,
    *,
    client: Client | None = None,
    echo: BinaryIO | None = None,
    say: TextIO | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Open a run, execute the command, inventory its output, close the run; returns the exit
    status for the runner: the command's, or :data:`EXIT_USAGE` when nothing was run (bad
    arguments, the server refused the run), or :data:`EXIT_UNREPORTED` when a successful
    command's run could not be reported. ``echo`` receives the command's output (default this
    process's stdout), ``say`` the runner's own messages (default stderr)."""
    echo = echo or sys.stdout.buffer
    say = say or sys.stderr

    def tell(message: str) -> None:
        print(f"fleetwatch backup run: {message}", file=say, flush=True)

    problem = _check(options)
    if problem:
        tell(problem)
        return EXIT_USAGE
    client = client or Client(options.url, options.token)
    run_id, start = uuid.uuid4(), now()
    run = None
    try:
        run = client.open_run(options.job, run_id, start, options.host, options.source)
        tell(f"run {run.get('id')} ({run.get('name', '')}) opened")
    except ReportError as exc:
        if not exc.unreachable:
            tell(f"the server refused to open the run, so the command was not run: {exc}")
            return EXIT_USAGE
        # The backup matters more than its report: run it, and report it at the end.
        tell(f"cannot reach the server ({exc}); running the command, reporting at the end")

    tail = Tail()
    code = execute(options.command, options.stdout_to, echo, tail)
    files = _files(options, tail, code)
    body = {
        "status": "finished" if code == 0 else "failed",
        "end_date": _iso(now()),
        "exit_status": code,
        "log": tail.text(),
    }
    if files:
        body["total_size"] = sum(entry["size"] for entry in files)
    try:
        if run is None:
            run = client.open_run(options.job, run_id, start, options.host, options.source)
        client.attach_files(run, files)
        closed = client.close_run(run, body)
    except ReportError as exc:
        tell(f"THE RUN WAS NOT REPORTED: {exc}. The command exited with status {code}.")
        return code or EXIT_UNREPORTED
    count = f"{len(files)} file" + ("" if len(files) == 1 else "s")
    size = f", {count}, {body.get('total_size', 0)} bytes" if files else ""
    tell(f"run {closed.get('id', run.get('id'))} closed as {body['status']} (exit status {code}{size})")
    return code


def _check(options: Options) -> str:
    """Why the options cannot work, or ``""``."""
    if not options.command:
        return "no command given (fleetwatch backup run --job JOB -- COMMAND …)"
    try:
        uuid.UUID(options.job)
    except ValueError:
        return f"--job must be a job's UUID (its ping URL's), not {options.job!r}"
    if not options.url:
        return "no server: give --url or set FLEETWATCH_URL"
    if not options.url.startswith(("http://", "https://")):
        return f"--url must start with http:// or https://, not {options.url!r}"
    if not options.token:
        return "no runner token: give --token or set FLEETWATCH_RUNNER_TOKEN"
    return ""


def _files(options: Options, tail: Tail, code: int) -> list[dict]:
    """The inventory of ``--output`` and of ``--stdout-to`` (once, when it lies inside)."""
    files: list[dict] = []
    if options.output is not None:
        if options.output.exists():
            files = list(inventory(options.output))
        else:
            note = f"fleetwatch backup run: --output {options.output} does not exist (no files)\n"
            tail.write(note.encode())
    if options.stdout_to is not None and options.stdout_to.is_file():
        inside = options.output is not None and _within(options.stdout_to, options.output)
        if not inside:
            files.append(_entry("", options.stdout_to))
    return files


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
