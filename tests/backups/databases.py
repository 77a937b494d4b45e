"""Throwaway databases on the test servers, for the backup tools to dump.

``mariadb_database(server_url)`` and ``postgresql_database(server_url)`` are context managers: each
creates a database with a name of its own (``fwtest_<8 hex digits>``, so runs never collide), with
the tables of ``SITES`` and ``READINGS`` (``READING_ROWS`` rows by default), yields a ``Database`` and
drops the database on exit, also when the test failed. ``create_*`` and ``drop_*`` do each half alone.

The server URLs are the ones ``scripts/services/mariadb.sh`` and ``postgresql.sh`` print
(``mysql://user:password@host:port/``, ``postgresql://user:password@host:port/database``); the user
must be allowed to create databases. The clients (PyMySQL, psycopg) are imported when first used, so
a run that deselects these tests needs neither installed.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, unquote, urlsplit

import pytest

# (id, name): one name outside ASCII, so a dump that mangles UTF-8 shows.
SITES = ((1, "Zürich"), (2, "Lisboa"), (3, "Tromsø"))
READING_ROWS = 50
START = datetime(2026, 11, 1, 0, 0)

# Which service script installs each program the backups tests run.
PROGRAMS = {
    "mariadb-dump": "mariadb.sh",
    "mydumper": "mariadb.sh",
    "pg_dump": "postgresql.sh",
}


@dataclass(frozen=True)
class Server:
    """Where a test server listens and who logs in: the parts of its URL."""

    scheme: str
    host: str
    port: int
    user: str
    password: str
    database: str  # "" when the URL names none (MariaDB's)

    @classmethod
    def from_url(cls, url: str) -> Server:
        """Parse ``scheme://user:password@host:port/[database]`` (user and password %-decoded).

        Raises ``ValueError`` when host, port or user are missing."""
        parts = urlsplit(url)
        if not (parts.hostname and parts.port and parts.username):
            raise ValueError(f"{url!r} lacks a host, a port or a user")
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port,
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/"),
        )

    def url(self, database: str | None = None) -> str:
        """This server's URL, naming ``database`` (default: the one it was parsed with)."""
        auth = quote(self.user, safe="") + ":" + quote(self.password, safe="")
        name = self.database if database is None else database
        return f"{self.scheme}://{auth}@{self.host}:{self.port}/{name}"

    def with_password(self, password: str) -> Server:
        """The same server and user with another password (a wrong one, to test refusals)."""
        return dataclasses.replace(self, password=password)


@dataclass(frozen=True)
class Database:
    """A throwaway database: its server, its name, and how many rows each table holds."""

    server: Server
    name: str
    rows: dict[str, int]

    @property
    def url(self) -> str:
        """The URL of this database (``mysql://…/fwtest_…`` or ``postgresql://…/fwtest_…``)."""
        return self.server.url(self.name)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.rows)


def new_name() -> str:
    """A database name no other run uses: ``fwtest_`` and 8 random hex digits."""
    return f"fwtest_{secrets.token_hex(4)}"


def readings(count: int) -> list[tuple[int, int, datetime, float]]:
    """``count`` rows of (id, site_id, taken_at, value): one a minute, round-robin over the sites."""
    return [
        (i + 1, SITES[i % len(SITES)][0], START + timedelta(minutes=i), round(20 + i * 0.25, 2))
        for i in range(count)
    ]


def program(name: str) -> str:
    """The path of a backup program; fails the test, saying which script installs it, if absent."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: `bash scripts/services/{PROGRAMS.get(name, '…')} start` installs it",
            pytrace=False,
        )
    return path


# --------------------------------------------------------------------------------------- MariaDB


def mariadb_connect(server: Server, database: str | None = None):
    """A PyMySQL connection (autocommit, utf8mb4) to ``server``, in ``database`` if given."""
    import pymysql

    return pymysql.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database=database,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=5,
    )


def create_mariadb_database(server_url: str, rows: int = READING_ROWS) -> Database:
    """Create a database with ``sites`` (3 rows) and ``readings`` (``rows`` rows) on MariaDB.

    Raises ``pymysql.err.OperationalError`` when the server refuses (after dropping what it made)."""
    server = Server.from_url(server_url)
    name = new_name()
    with mariadb_connect(server) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        try:
            cursor.execute(f"USE `{name}`")
            cursor.execute(
                "CREATE TABLE sites (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL) ENGINE=InnoDB"
            )
            cursor.execute(
                "CREATE TABLE readings (id INT PRIMARY KEY, site_id INT NOT NULL,"
                " taken_at DATETIME NOT NULL, value DOUBLE NOT NULL,"
                " FOREIGN KEY (site_id) REFERENCES sites (id)) ENGINE=InnoDB"
            )
            cursor.executemany("INSERT INTO sites (id, name) VALUES (%s, %s)", SITES)
            cursor.executemany(
                "INSERT INTO readings (id, site_id, taken_at, value) VALUES (%s, %s, %s, %s)",
                readings(rows),
            )
        except Exception:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            raise
    return Database(server, name, {"sites": len(SITES), "readings": rows})


def drop_mariadb_database(database: Database) -> None:
    """Drop the database (nothing happens when it is already gone)."""
    with mariadb_connect(database.server) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{database.name}`")


@contextmanager
def mariadb_database(server_url: str, rows: int = READING_ROWS) -> Iterator[Database]:
    """A throwaway MariaDB database for the duration of the ``with`` block."""
    database = create_mariadb_database(server_url, rows)
    try:
        yield database
    finally:
        drop_mariadb_database(database)


# ------------------------------------------------------------------------------------ PostgreSQL


def postgresql_connect(server: Server, database: str | None = None):
    """A psycopg connection (autocommit) to ``server``, in ``database`` (default: the URL's)."""
    import psycopg

    return psycopg.connect(server.url(database), autocommit=True, connect_timeout=5)


def create_postgresql_database(server_url: str, rows: int = READING_ROWS) -> Database:
    """Create a database with ``sites`` (3 rows) and ``readings`` (``rows`` rows) on PostgreSQL,
    owned by the URL's user (who needs CREATEDB; the test server's fleetwatch role has it).

    Raises ``psycopg.OperationalError`` when the server refuses (after dropping what it made)."""
    from psycopg import sql

    server = Server.from_url(server_url)
    name = new_name()
    with postgresql_connect(server) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8'").format(sql.Identifier(name)))
    database = Database(server, name, {"sites": len(SITES), "readings": rows})
    try:
        with postgresql_connect(server, name) as connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE sites (id integer PRIMARY KEY, name text NOT NULL)")
            cursor.execute(
                "CREATE TABLE readings (id integer PRIMARY KEY,"
                " site_id integer NOT NULL REFERENCES sites (id),"
                " taken_at timestamp NOT NULL, value double precision NOT NULL)"
            )
            cursor.executemany("INSERT INTO sites (id, name) VALUES (%s, %s)", SITES)
            cursor.executemany(
                "INSERT INTO readings (id, site_id, taken_at, value) VALUES (%s, %s, %s, %s)",
                readings(rows),
            )
    except Exception:
        drop_postgresql_database(database)
        raise
    return database


def drop_postgresql_database(database: Database) -> None:
    """Drop the database, ending sessions still connected to it (nothing happens when it is gone)."""
    from psycopg import sql

    with postgresql_connect(database.server) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name))
        )


@contextmanager
def postgresql_database(server_url: str, rows: int = READING_ROWS) -> Iterator[Database]:
    """A throwaway PostgreSQL database for the duration of the ``with`` block."""
    database = create_postgresql_database(server_url, rows)
    try:
        yield database
    finally:
        drop_postgresql_database(database)
