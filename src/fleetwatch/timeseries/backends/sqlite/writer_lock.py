"""One writer at a time on a SQLite file, waited for in the kernel instead of SQLite's busy loop,
and never for longer than a bound.

SQLite lets one transaction write at a time. A writer that finds the database locked sleeps in
its busy handler (1, 2, 5 … 100 ms steps) and retries, so under concurrent writes the file sits
idle while writers sleep: on the ingest benchmark that capped throughput with the CPU half
used. Here the threads of a process queue on a ``threading.Lock`` (woken the moment the previous
one is done, with a timeout), and the one at the head of the queue takes an exclusive ``flock``
on a side file against other processes (gunicorn workers, the worker, a CLI copy), polling
``LOCK_NB`` in short steps so that the wait stays bounded too: a lock held for a minute by
another process turns into ``LockTimeout`` after ``timeout`` seconds, not a hung server thread.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time

_process_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()
# flock polling: first retry after 0.2 ms, doubling up to 2 ms (the holder's transactions take
# a fraction of a millisecond; a sleeping waiter costs no CPU).
_FIRST_STEP, _LAST_STEP = 0.0002, 0.002


class LockTimeout(Exception):
    """The writer lock was not obtained within the timeout."""


def _process_lock(path: str) -> threading.Lock:
    with _registry_lock:
        lock = _process_locks.get(path)
        if lock is None:
            lock = _process_locks[path] = threading.Lock()
        return lock


class WriterLock:
    """An exclusive lock on ``<database>-writer.lock``; a no-op for in-memory databases.

    ``timeout`` (seconds, None waits for ever) bounds :meth:`acquire`, which raises LockTimeout."""

    def __init__(self, database_path: str | None, timeout: float | None = None):
        self._fd = None
        self._held = False
        self.timeout = timeout
        if database_path and database_path != ":memory:" and not database_path.startswith("file:"):
            path = f"{os.path.abspath(database_path)}-writer.lock"
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._threads = _process_lock(path)

    def acquire(self) -> None:
        if self._fd is None or self._held:
            return
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=-1 if deadline is None else self.timeout):
            raise LockTimeout(f"another writer held the database for more than {self.timeout:g} s")
        try:
            step = _FIRST_STEP
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise LockTimeout(
                            f"another process held the database for more than {self.timeout:g} s"
                        ) from None
                    time.sleep(step)
                    step = min(step * 2, _LAST_STEP)
        except BaseException:
            self._threads.release()
            raise
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                self._threads.release()

    def close(self) -> None:
        self.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
