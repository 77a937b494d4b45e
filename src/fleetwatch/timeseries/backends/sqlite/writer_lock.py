"""One writer at a time on a SQLite file, waited for in the kernel instead of SQLite's busy loop,
and never for longer than a bound.

SQLite lets one transaction write at a time. A writer that finds the database locked sleeps in
its busy handler (1, 2, 5 … 100 ms steps) and retries, so under concurrent writes the file sits
idle while writers sleep: on the ingest benchmark that capped throughput with the CPU half
used. Writers here take an exclusive ``flock`` on a side file first, which the kernel hands to
the next waiter the moment it is released, across threads and processes (gunicorn workers, the
worker, a CLI copy), and which it releases by itself when a process dies.

A blocking ``flock`` cannot be given a timeout from a thread, so each process has one *keeper*
thread per file that makes the blocking call on behalf of its threads: they queue on a
``threading.Lock`` (one of them at a time is the process's candidate) and the candidate waits for
the keeper's grant with a timeout. A lock held for a minute by another process turns into
``LockTimeout`` after ``timeout`` seconds, not into a hung server thread; when the keeper gets
the lock after its candidate gave up, it hands it to the next candidate or releases it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time


class LockTimeout(Exception):
    """The writer lock was not obtained within the timeout."""


class _FileLock:
    """The one cross-process lock of a file in this process, and its keeper thread."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.candidates = threading.Lock()  # the process's threads queue here
        self.cond = threading.Condition(threading.Lock())
        self.wanted = False  # the candidate waits for the keeper
        self.held = False  # a thread of this process holds the flock
        self.keeper: threading.Thread | None = None

    def acquire(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self.candidates.acquire(timeout=-1 if timeout is None else timeout):
            raise LockTimeout(f"another writer held the database for more than {timeout:g} s")
        try:
            self._acquire_file(deadline, timeout)
        except BaseException:
            self.candidates.release()
            raise

    def _acquire_file(self, deadline: float | None, timeout: float | None) -> None:
        with self.cond:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # uncontended: no hand-off
                self.held = True
                return
            except BlockingIOError:
                pass
            self.wanted = True
            if self.keeper is None or not self.keeper.is_alive():
                self.keeper = threading.Thread(target=self._keep, name="sqlite-writer-lock", daemon=True)
                self.keeper.start()
            self.cond.notify_all()
            granted = self.cond.wait_for(
                lambda: self.held, timeout=None if deadline is None else max(0.0, deadline - time.monotonic())
            )
            self.wanted = False
            if not granted:
                raise LockTimeout(f"another process held the database for more than {timeout:g} s")

    def _keep(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.wanted and not self.held)
            fcntl.flock(self.fd, fcntl.LOCK_EX)  # queued in the kernel; no timeout possible here
            with self.cond:
                if self.wanted and not self.held:
                    self.held = True  # granted to the waiting candidate
                    self.cond.notify_all()
                elif not self.held:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)  # its candidate gave up meanwhile

    def release(self) -> None:
        with self.cond:
            self.held = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.candidates.release()


_files: dict[str, _FileLock] = {}
_files_lock = threading.Lock()


def _file_lock(path: str) -> _FileLock:
    with _files_lock:
        lock = _files.get(path)
        if lock is None:
            lock = _files[path] = _FileLock(path)
        return lock


def _forget_after_fork() -> None:
    # A forked child has none of the parent's threads: it starts its own locks afresh.
    global _files_lock
    _files.clear()
    _files_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


class WriterLock:
    """An exclusive lock on ``<database>-writer.lock``; a no-op for in-memory databases.

    ``timeout`` (seconds, None waits for ever) bounds :meth:`acquire`, which raises LockTimeout.
    One instance per connection; instances of one file share the process's lock."""

    def __init__(self, database_path: str | None, timeout: float | None = None):
        self._file = None
        self._held = False
        self.timeout = timeout
        if database_path and database_path != ":memory:" and not database_path.startswith("file:"):
            self._file = _file_lock(f"{os.path.abspath(database_path)}-writer.lock")

    def acquire(self) -> None:
        if self._file is None or self._held:
            return
        self._file.acquire(self.timeout)
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._file.release()

    def close(self) -> None:
        self.release()
