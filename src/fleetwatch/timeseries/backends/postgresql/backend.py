"""PostgreSQL dialect: psycopg 3, autocommit connections with explicit transactions,
binary COPY for large batches (through a staging upsert when they repeat stored points),
a multi-row upsert for small ones."""

from __future__ import annotations

from contextlib import contextmanager

from fleetwatch.timeseries.backends.sql.backend import SqlBackend
from fleetwatch.timeseries.errors import BackendUnavailable, ConfigurationError, TimeseriesError

try:
    import psycopg
    from psycopg import errors as pg_errors
except ImportError:  # pragma: no cover - reported when the backend is configured
    psycopg = None

# Arbitrary constant: serialises schema creation between processes starting together.
SCHEMA_LOCK = 727_001

TABLES = [
    "CREATE TABLE IF NOT EXISTS fw_series (id SERIAL PRIMARY KEY, retention TEXT NOT NULL, "
    "measurement TEXT NOT NULL, tags TEXT NOT NULL, UNIQUE (retention, measurement, tags))",
    "CREATE TABLE IF NOT EXISTS fw_series_tags (key TEXT NOT NULL, value TEXT NOT NULL, "
    "series_id INTEGER NOT NULL, PRIMARY KEY (key, value, series_id))",
    "CREATE TABLE IF NOT EXISTS fw_fields (id SERIAL PRIMARY KEY, measurement TEXT NOT NULL, "
    "name TEXT NOT NULL, kind TEXT NOT NULL, UNIQUE (measurement, name, kind))",
    "CREATE TABLE IF NOT EXISTS fw_samples (series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, "
    "ts BIGINT NOT NULL, num DOUBLE PRECISION, txt TEXT, PRIMARY KEY (series_id, field_id, ts))",
    *(
        f"CREATE TABLE IF NOT EXISTS {table} (series_id INTEGER NOT NULL, field_id INTEGER NOT NULL, "
        "bucket BIGINT NOT NULL, cnt BIGINT NOT NULL, total DOUBLE PRECISION, lo DOUBLE PRECISION, "
        "hi DOUBLE PRECISION, PRIMARY KEY (series_id, field_id, bucket))"
        for table in ("fw_rollups_1h", "fw_rollups_1d")
    ),
    "CREATE TABLE IF NOT EXISTS fw_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]

UPSERT_TAIL = "ON CONFLICT (series_id, field_id, ts) DO UPDATE SET num = EXCLUDED.num, txt = EXCLUDED.txt"
COPY_THRESHOLD = 2000  # rows; below this one multi-row INSERT is faster than COPY + INSERT


class PostgresqlBackend(SqlBackend):
    vendor = "postgresql"
    display_name = "PostgreSQL"
    placeholder = "%s"
    collate_c = ' COLLATE "C"'

    def __init__(self, config, clock=None):
        if psycopg is None:
            raise ConfigurationError(
                "the postgresql backend needs psycopg: pip install 'fleetwatch[postgres]'"
            )
        super().__init__(config, clock)
        self._schema = str(config.options.get("schema", "public"))
        if not self._schema.isidentifier():
            raise ConfigurationError(f"invalid PostgreSQL schema name {self._schema!r}")
        self._conninfo = psycopg.conninfo.make_conninfo(
            host=config.host or "127.0.0.1",
            port=config.port or 5432,
            dbname=config.name or "fleetwatch",
            user=config.user or None,
            password=config.password or None,
            connect_timeout=int(config.options.get("connect_timeout", 5)),
            application_name="fleetwatch",
        )
        self.timescaledb = False

    def _connect(self):
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True)
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            conn.execute(f'SET search_path TO "{self._schema}"')
            # JIT compilation costs more than it saves on chart-sized queries.
            conn.execute("SET jit = off")
        except psycopg.Error as exc:
            raise BackendUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        return conn

    def _create_schema(self, conn):
        with self._transaction(conn):
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
            for statement in TABLES:
                conn.execute(statement)
            self.timescaledb = bool(
                conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
            )
            if self.timescaledb:
                # Untested here (no TimescaleDB package reachable); see docs/backends.md.
                conn.execute(
                    "SELECT create_hypertable('fw_samples', 'ts', "
                    "chunk_time_interval => 604800000000, if_not_exists => TRUE, "
                    "migrate_data => TRUE)"
                )
            self._build_rollups(conn.cursor())
        self._schema_ready = True

    def _begin(self, conn):
        conn.execute("BEGIN")

    def _commit(self, conn):
        conn.execute("COMMIT")

    def _rollback(self, conn):
        if not conn.closed:
            conn.execute("ROLLBACK")

    def _bulk_upsert(self, conn, rows):
        if len(rows) < COPY_THRESHOLD:
            self._insert_values(conn, _last_wins(rows))
            return
        # New points are the common case: COPY them straight in. A batch that repeats stored
        # points (a retry) or itself holds a point twice hits the primary key; then upsert
        # through a staging table instead, keeping the last value of each point.
        conn.execute("SAVEPOINT fw_copy")
        try:
            self._copy(conn, "fw_samples", rows)
        except pg_errors.UniqueViolation:
            conn.execute("ROLLBACK TO SAVEPOINT fw_copy")
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS fw_staging "
                "(LIKE fw_samples INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            self._copy(conn, "fw_staging", _last_wins(rows))
            conn.execute(f"INSERT INTO fw_samples SELECT * FROM fw_staging {UPSERT_TAIL}")
            conn.execute("TRUNCATE fw_staging")
        conn.execute("RELEASE SAVEPOINT fw_copy")

    @staticmethod
    def _copy(conn, table, rows):
        with conn.cursor().copy(
            f"COPY {table} (series_id, field_id, ts, num, txt) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int4", "int4", "int8", "float8", "text"])
            write_row = copy.write_row
            for row in rows:
                write_row(row)

    @staticmethod
    def _insert_values(conn, rows):
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
        params = [value for row in rows for value in row]
        conn.execute(
            f"INSERT INTO fw_samples (series_id, field_id, ts, num, txt) VALUES {values} {UPSERT_TAIL}",
            params,
        )

    @contextmanager
    def _translate_errors(self):
        try:
            yield
        except TimeseriesError:
            raise
        except psycopg.OperationalError as exc:
            self._drop_conn()  # the connection may be dead; the next call reconnects
            raise BackendUnavailable(f"PostgreSQL: {exc}") from exc
        except psycopg.Error as exc:
            raise TimeseriesError(f"PostgreSQL: {exc}") from exc

    def flush(self):
        with self._translate_errors(), self._transaction() as conn:
            conn.execute(
                "TRUNCATE fw_samples, fw_rollups_1h, fw_rollups_1d, fw_series_tags, fw_series, fw_fields"
            )
        self._forget_catalogue()

    def health(self):
        try:
            version = self._query("SHOW server_version")[0][0]
        except TimeseriesError as exc:
            return {"backend": self.vendor, "reachable": False, "version": None, "error": str(exc)}
        return {
            "backend": self.vendor,
            "reachable": True,
            "version": version,
            "error": None,
            "timescaledb": self.timescaledb,
        }


def _last_wins(rows):
    """Rows with unique (series, field, time), the later row winning."""
    unique = {}
    for row in rows:
        unique[row[:3]] = row
    return list(unique.values()) if len(unique) != len(rows) else rows
