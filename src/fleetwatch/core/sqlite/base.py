"""Django's SQLite backend, with writers queued on a kernel lock (see ``WriterLock``).

``transaction.atomic()`` blocks begin with ``BEGIN IMMEDIATE``; taking the file lock first makes
concurrent requests wait their turn in ``flock`` instead of polling in SQLite's busy handler.
Statements outside ``atomic()`` still rely on the busy timeout, as in stock Django.
"""

from __future__ import annotations

from django.db.backends.sqlite3 import base

from fleetwatch.timeseries.backends.sqlite.writer_lock import WriterLock


class DatabaseWrapper(base.DatabaseWrapper):
    def _writer_lock(self) -> WriterLock:
        lock = getattr(self, "_fleetwatch_writer_lock", None)
        if lock is None:
            name = str(self.settings_dict["NAME"])
            lock = self._fleetwatch_writer_lock = WriterLock(None if self.is_in_memory_db() else name)
        return lock

    def _start_transaction_under_autocommit(self):
        lock = self._writer_lock()
        lock.acquire()
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
