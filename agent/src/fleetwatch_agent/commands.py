"""Remote commands, run only when the machine's own configuration says ``commands = true``.

Actions (the Sensorgnome hub agent's, plus ``logs``): ``exec <command line>`` (bash, or sh),
``reboot`` (the configured reboot command), ``restart <service>`` (a service listed in
``services``; ``systemctl restart <name>`` by default), ``test`` (answers without running
anything), ``logs <path> [KiB]`` (the last KiB of a file listed in ``logs``, 64 by default).
Disabled: every command ends ERR "remote commands are disabled". Output is bounded to 1 MiB
(its end is kept: that is where errors are).

Each sequence number runs at most once, even when offered again (the server re-offers commands
whose result it has not seen): :class:`CommandBook` keeps one file per seq in
``<state dir>/commands/``, written before the command runs and again with its result, and a
re-offered seq is answered with the stored result.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleetwatch_agent import AGENT
from fleetwatch_agent.config import Config
from fleetwatch_agent.queue import write_atomically

log = logging.getLogger(__name__)

MAX_OUTPUT = 1024 * 1024  # bytes of UTF-8, as the server's bound (sensor-stations.md B.3)
DISABLED = "remote commands are disabled"
OK, ERR = "OK", "ERR"
ACTIONS = ("exec", "reboot", "restart", "test", "logs")
DEFAULT_LOG_KIB = 64
# What a command found half-run after a restart of the agent ends as (never run twice).
INTERRUPTED = "interrupted: the agent stopped while the command ran; not run again"


def bound(data: bytes, limit: int = MAX_OUTPUT, cut: int = 0) -> str:
    """``data`` as text of at most ``limit`` UTF-8 bytes: all of it, or its end after a note
    ``[N bytes cut]`` (``cut``: bytes already let go before ``data``)."""
    if len(data) <= limit and not cut:
        return data.decode("utf-8", "replace")
    # The note's own length depends on N: reserve room for the largest N possible.
    room = max(0, limit - len(f"[{cut + len(data)} bytes cut]\n".encode()))
    kept = data[len(data) - room :] if room < len(data) else data
    while kept and kept[0] & 0xC0 == 0x80:  # no half character at the start
        kept = kept[1:]
    return f"[{cut + len(data) - len(kept)} bytes cut]\n" + kept.decode("utf-8", "replace")


@dataclass
class Outcome:
    """A command's result; ``after`` runs once the result has been offered to the server
    (a reboot would otherwise keep it from being sent)."""

    status: str
    output: str
    after: Callable[[], None] | None = None


def run_bounded(argv: list[str], timeout: float) -> Outcome:
    """Run ``argv`` (no shell unless it asks for one), stdout and stderr together, keeping the
    last MAX_OUTPUT bytes while draining the rest; killed (its whole process group) after
    ``timeout`` seconds. OK for exit status 0, else ERR with the status at the end."""
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome(ERR, f"cannot run {argv[0]}: {exc.strerror}")
    kept = bytearray()
    total = [0]

    def drain() -> None:
        while chunk := process.stdout.read1(65536):
            total[0] += len(chunk)
            kept.extend(chunk)
            if len(kept) > 2 * MAX_OUTPUT:
                del kept[: len(kept) - MAX_OUTPUT]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    timed_out = False
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGKILL)
        code = process.wait()
    reader.join(timeout=5)
    process.stdout.close()
    data = bytes(kept)
    tail = ""
    if timed_out:
        tail = f"\n[killed after {timeout:g} s]"
    elif code != 0:
        tail = f"\n[exit status {code}]"
    output = bound(data, MAX_OUTPUT - len(tail), cut=total[0] - len(data)) + tail
    return Outcome(OK if code == 0 and not timed_out else ERR, output)


def tail_of(path: Path, kib: int) -> bytes:
    """The last ``kib`` KiB of a file."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - kib * 1024))
        return f.read()


class Runner:
    """Runs one command as the configuration allows."""

    def __init__(self, config: Config):
        self.config = config

    def run(self, action: str, argument: str = "") -> Outcome:
        if not self.config.commands:
            return Outcome(ERR, DISABLED)
        handler = getattr(self, f"_{action}", None) if action in ACTIONS else None
        if handler is None:
            return Outcome(ERR, f"unknown action {action!r}")
        try:
            return handler((argument or "").strip())
        except Exception as exc:  # a command's failure is its result, never the agent's end
            log.exception("command %s failed", action)
            return Outcome(ERR, f"{type(exc).__name__}: {exc}")

    def _exec(self, argument: str) -> Outcome:
        if not argument:
            return Outcome(ERR, "exec needs a command line")
        shell = shutil.which("bash") or "/bin/sh"
        return run_bounded([shell, "-c", argument], self.config.command_timeout)

    def _restart(self, argument: str) -> Outcome:
        if argument not in self.config.services:
            allowed = ", ".join(self.config.services) or "none"
            return Outcome(ERR, f"service {argument!r} may not be restarted (allowed: {allowed})")
        return run_bounded([*self.config.restart_command, argument], self.config.command_timeout)

    def _reboot(self, argument: str) -> Outcome:
        argv = list(self.config.reboot_command)

        def reboot() -> None:
            log.warning("rebooting: %s", " ".join(argv))
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)

        return Outcome(OK, f"rebooting: {' '.join(argv)}", after=reboot)

    def _test(self, argument: str) -> Outcome:
        import psutil

        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        uptime = int(time.time() - psutil.boot_time())
        return Outcome(
            OK, f"{AGENT} on {socket.gethostname()}: up {uptime} s, load {load}; remote commands enabled"
        )

    def _logs(self, argument: str) -> Outcome:
        path, _, size = argument.partition(" ")
        if path not in self.config.logs:
            allowed = ", ".join(self.config.logs) or "none"
            return Outcome(ERR, f"{path or '(no file)'} may not be read (allowed: {allowed})")
        try:
            kib = int(size) if size.strip() else DEFAULT_LOG_KIB
        except ValueError:
            return Outcome(ERR, f"logs: {size!r} is not a number of KiB")
        if not 1 <= kib <= MAX_OUTPUT // 1024:
            return Outcome(ERR, f"logs: between 1 and {MAX_OUTPUT // 1024} KiB")
        try:
            return Outcome(OK, bound(tail_of(Path(path), kib)))
        except OSError as exc:
            return Outcome(ERR, f"{path}: {exc.strerror}")


class CommandBook:
    """The commands this device was given, one JSON file per sequence number:
    ``{"seq", "action", "argument", "state": "queued"|"running"|"done", "status", "output",
    "sent"}``. The last ``keep`` settled ones are kept; a seq at or below the highest one let go
    (``floor``) is taken as run already."""

    def __init__(self, folder: Path, keep: int = 1000):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.keep = keep
        self._lock = threading.Lock()  # broker callbacks add commands from their own thread
        self._recover()

    def _path(self, seq: int) -> Path:
        return self.folder / f"{seq:010d}.json"

    def _write(self, record: dict) -> None:
        write_atomically(self._path(record["seq"]), json.dumps(record).encode())

    def get(self, seq: int) -> dict | None:
        """The record of ``seq``, or None."""
        try:
            return json.loads(self._path(seq).read_text())
        except (OSError, ValueError):
            return None

    def records(self) -> list[dict]:
        """Every kept record, by seq."""
        found = []
        for name in sorted(os.listdir(self.folder)):
            if name.endswith(".json") and name[:-5].isdigit():
                record = self.get(int(name[:-5]))
                if record is not None:
                    found.append(record)
        return found

    @property
    def floor(self) -> int:
        try:
            return int((self.folder / "floor").read_text())
        except (OSError, ValueError):
            return 0

    def _recover(self) -> None:
        """A command left running by a stopped agent ends ERR: it is never run a second time."""
        for record in self.records():
            if record["state"] == "running":
                record.update(state="done", status=ERR, output=INTERRUPTED, sent=False)
                self._write(record)

    def accept(self, command: dict) -> bool:
        """Take a command offered by the server (``{"seq", "action", "argument"}``). True if it is
        new; a seq seen before is not run again, and its stored result is offered again."""
        try:
            seq = int(command["seq"])
        except (KeyError, TypeError, ValueError):
            log.error("a command without a usable seq, ignored: %r", command)
            return False
        if seq < 1:
            return False
        with self._lock:
            record = self.get(seq)
            if record is not None:
                if record["state"] == "done" and record["sent"]:
                    record["sent"] = False  # the server did not get it: answer it again
                    self._write(record)
                return False
            if seq <= self.floor:
                log.warning("command %s was run long ago (its result is no longer kept)", seq)
                return False
            self._write(
                {
                    "seq": seq,
                    "action": str(command.get("action", "")),
                    "argument": str(command.get("argument") or ""),
                    "state": "queued",
                    "status": None,
                    "output": None,
                    "sent": False,
                }
            )
            return True

    def run_queued(self, runner: Runner) -> tuple[int, list[Callable[[], None]]]:
        """Run every queued command, in seq order; returns how many ran and the ``after``
        actions to call once their results were offered (a reboot)."""
        ran, afters = 0, []
        for record in self.records():
            if record["state"] != "queued":
                continue
            record["state"] = "running"
            self._write(record)  # written before it runs: a crash now never runs it twice
            log.info("command %s: %s %s", record["seq"], record["action"], record["argument"])
            outcome = runner.run(record["action"], record["argument"])
            record.update(state="done", status=outcome.status, output=outcome.output, sent=False)
            self._write(record)
            ran += 1
            if outcome.after is not None:
                afters.append(outcome.after)
        return ran, afters

    def unsent(self) -> list[dict]:
        """Results the server has not acknowledged yet, by seq."""
        return [r for r in self.records() if r["state"] == "done" and not r["sent"]]

    def mark_sent(self, seq: int) -> None:
        with self._lock:
            record = self.get(seq)
            if record is not None:
                record["sent"] = True
                self._write(record)
        self._prune()

    def _prune(self) -> None:
        settled = [r for r in self.records() if r["state"] == "done" and r["sent"]]
        for record in settled[: max(0, len(settled) - self.keep)]:
            write_atomically(self.folder / "floor", str(max(self.floor, record["seq"])).encode())
            self._path(record["seq"]).unlink(missing_ok=True)
