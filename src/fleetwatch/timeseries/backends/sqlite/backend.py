"""SQLite dialect: one file, WAL journal, one connection per thread."""

from __future__ import annotations

import itertools
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from fleetwatch.timeseries.backends.sql.backend import SqlBackend
from fleetwatch.timeseries.backends.sqlite.writer_lock import LockTimeout, WriterLock
from fleetwatch.timeseries.errors import BackendUnavailable, ConfigurationError, TimeseriesError

_memory_ids = itertools.count(1)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS fw_series (id INTEGER PRIMARY KEY, retention TEXT NOT NULL, "
    "measurement TEXT NOT NULL, tags TEXT NOT NULL, UNIQUE (retention, measurement, tags))",
    "CREATE TABLE IF NOT EXISTS fw_series_tags (key TEXT NOT NULL, value TEXT NOT NULL, "
    "series_id INTEGER NOT NULL, PRIMARY KEY (key, value, series_id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS fw_fields (id INTEGER PRIMARY KEY, measurement TEXT NOT NULL, "
    "name TEXT NOT NULL, kind TEXT NOT NULL, UNIQUE (measurement, name, kind))",
    "CREATE TABLE IF NOT EXISTS fw_samples (series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, "
    "ts INTEGER NOT NULL, num REAL, txt TEXT, PRIMARY KEY (series_id, field_id, ts)) WITHOUT ROWID",
    *(
        f"CREATE TABLE IF NOT EXISTS {table} (series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, "
        "bucket INTEGER NOT NULL, cnt INTEGER NOT NULL, total REAL, lo REAL, hi REAL, "
        "PRIMARY KEY (series_id, field_id, bucket)) WITHOUT ROWID"
        for table in ("fw_rollups_1h", "fw_rollups_1d")
    ),
    "CREATE TABLE IF NOT EXISTS fw_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]

UPSERT = (
    "INSERT INTO fw_samples (series_id, field_id, ts, num, txt) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (series_id, field_id, ts) DO UPDATE SET num = excluded.num, txt = excluded.txt"
)


class SqliteFeatures(SqlBackend.features_class):
    # Measured: two threads running a page's chart queries took the same wall time as one and
    # twice the CPU. Debian's SQLite is built without lookaside memory, so every allocation
    # goes through one process-wide mutex and parallel scans mostly wait on each other.
    concurrent_reads_help = False


class SqliteBackend(SqlBackend):
    vendor = "sqlite"
    display_name = "SQLite"
    features_class = SqliteFeatures

    def __init__(self, config, clock=None):
        super().__init__(config, clock)
        name = config.name or ":memory:"
        if name == ":memory:":
            # One shared in-memory database for every thread of this backend instance.
            self._target = f"file:fleetwatch-mem-{next(_memory_ids)}?mode=memory&cache=shared"
            self._uri = True
            self._keeper = None
        else:
            self._target, self._uri = name, False
        options = config.options
        self._synchronous = str(options.get("synchronous", "NORMAL")).upper()
        if self._synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ConfigurationError(
                f"sqlite synchronous must be OFF, NORMAL, FULL or EXTRA, not {self._synchronous}"
            )
        # Seconds a writer waits for the lock (the writer lock, then SQLite's busy handler)
        # before BackendUnavailable: short, so a held lock answers 503s instead of hanging.
        self._busy_ms = int(float(options.get("timeout", 5)) * 1000)
        if self._uri:
            self._keeper = self._connect()  # keeps the shared memory database alive

    def _connect(self):
        try:
            if not self._uri:
                Path(self._target).expanduser().parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._target,
                uri=self._uri,
                isolation_level=None,  # autocommit; writes use explicit BEGIN IMMEDIATE
                check_same_thread=False,
                timeout=self._busy_ms / 1000,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        except (sqlite3.Error, OSError) as exc:
            raise BackendUnavailable(f"cannot open SQLite database {self._target}: {exc}") from exc
        return conn

    def _schema_statements(self):
        return SCHEMA

    def _writer_lock(self) -> WriterLock:
        lock = getattr(self._local, "writer_lock", None)
        if lock is None:
            lock = self._local.writer_lock = WriterLock(
                None if self._uri else self._target, timeout=self._busy_ms / 1000
            )
        return lock

    def _begin(self, conn):
        lock = self._writer_lock()
        try:
            lock.acquire()
        except LockTimeout as exc:
            raise BackendUnavailable(f"SQLite {self._target}: {exc}") from None
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            lock.release()
            raise

    def _commit(self, conn):
        try:
            conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise
        finally:
            self._writer_lock().release()

    def _rollback(self, conn):
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            self._writer_lock().release()

    def _bulk_upsert(self, conn, rows):
        conn.executemany(UPSERT, rows)

    @contextmanager
    def _translate_errors(self):
        try:
            yield
        except TimeseriesError:
            raise
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable(f"SQLite: {exc}") from exc
        except sqlite3.Error as exc:
            raise TimeseriesError(f"SQLite: {exc}") from exc

    def health(self):
        try:
            version = self._query("SELECT sqlite_version()")[0][0]
        except TimeseriesError as exc:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": str(exc)}
        return {"backend": self.vendor, "reachable": True, "version": version, "error": None}

    def close(self):
        super().close()
        if getattr(self, "_keeper", None) is not None:
            self._keeper.close()
            self._keeper = None
