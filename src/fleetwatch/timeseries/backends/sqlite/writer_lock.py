"""One writer at a time on a SQLite file, waited for in the kernel instead of SQLite's busy loop.

SQLite lets one transaction write at a time. A writer that finds the database locked sleeps in
its busy handler (1, 2, 5 … 100 ms steps) and retries, so under concurrent writes the file sits
idle while writers sleep: on the ingest benchmark that capped throughput with the CPU half
used. A writer that first takes an exclusive ``flock`` on a side file is woken the moment the
previous one commits. Locks on separate open files conflict between threads of one process
as well as between processes (gunicorn workers), so each connection holds its own descriptor.
"""

from __future__ import annotations

import fcntl
import os


class WriterLock:
    """An exclusive ``flock`` on ``<database>-writer.lock``; a no-op for in-memory databases."""

    def __init__(self, database_path: str | None):
        self._fd = None
        self._held = False
        if database_path and database_path != ":memory:" and not database_path.startswith("file:"):
            self._fd = os.open(f"{database_path}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def acquire(self) -> None:
        if self._fd is not None and not self._held:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
            self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
