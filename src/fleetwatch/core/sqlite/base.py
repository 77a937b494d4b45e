"""Django's SQLite backend, with writers queued on a kernel lock (see ``WriterLock``).

``transaction.atomic()`` blocks begin with ``BEGIN IMMEDIATE``; taking the file lock first makes
concurrent requests wait their turn in ``flock`` instead of polling in SQLite's busy handler.
Statements outside ``atomic()`` still rely on the busy timeout, as in stock Django. Both waits
are bounded by the ``timeout`` option (``FLEETWATCH_SQLITE_LOCK_TIMEOUT``) and end in
``OperationalError``, which the API answers with 503 + Retry-After.
"""

from __future__ import annotations

from django.db import OperationalError
from django.db.backends.sqlite3 import base

from fleetwatch.timeseries.backends.sqlite.writer_lock import LockTimeout, WriterLock


class DatabaseWrapper(base.DatabaseWrapper):
    def _writer_lock(self) -> WriterLock:
        lock = getattr(self, "_fleetwatch_writer_lock", None)
        if lock is None:
            name = str(self.settings_dict["NAME"])
            timeout = self.settings_dict.get("OPTIONS", {}).get("timeout")
            lock = self._fleetwatch_writer_lock = WriterLock(
                None if self.is_in_memory_db() else name, timeout=timeout
            )
        return lock

    def _start_transaction_under_autocommit(self):
        lock = self._writer_lock()
        try:
            lock.acquire()
        except LockTimeout as exc:  # what SQLite's own busy timeout raises, so callers see one error
            raise OperationalError(f"database is locked: {exc}") from None
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            lock.release()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._writer_lock().release()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._writer_lock().release()

    def _close(self):
        try:
            super()._close()
        finally:
            self._writer_lock().release()
