"""The backup tools against the real test servers: what a backup run will see.

mariadb-dump and mydumper (Debian's 0.10) against MariaDB 10.11, pg_dump against PostgreSQL 15:
a dump of a throwaway database holds its tables and every row, and a wrong password fails with a
non-zero exit status and the server's refusal on standard error.
"""

import os
import subprocess

import pytest

from tests.backups.databases import READING_ROWS, program


def run(argv: list[str]) -> subprocess.CompletedProcess:
    # No PG* variables or ~/.pgpass of the person running the tests: only what the test passes.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = os.devnull
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


def mariadb_dump(database, result, password=None):
    server = database.server
    return run(
        [
            program("mariadb-dump"),
            "--no-defaults",  # first: no /etc/mysql or ~/.my.cnf settings
            f"--host={server.host}",
            f"--port={server.port}",
            f"--user={server.user}",
            f"--password={server.password if password is None else password}",
            "--single-transaction",
            "--skip-extended-insert",  # one INSERT per row: rows can be counted
            f"--result-file={result}",
            database.name,
        ]
    )


def mydumper(database, outputdir, password=None):
    server = database.server
    return run(
        [
            program("mydumper"),
            f"--host={server.host}",
            f"--port={server.port}",
            f"--user={server.user}",
            f"--password={server.password if password is None else password}",
            f"--database={database.name}",
            f"--outputdir={outputdir}",
            "--threads=2",
        ]
    )


def pg_dump(database, result, password=None):
    server = database.server if password is None else database.server.with_password(password)
    return run(
        [program("pg_dump"), "--no-password", f"--file={result}", f"--dbname={server.url(database.name)}"]
    )


def test_the_mariadb_server_takes_the_fleetwatch_user(mariadb_database):
    from tests.backups.databases import mariadb_connect

    with mariadb_connect(mariadb_database.server, mariadb_database.name) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_USER(), VERSION(), @@bind_address")
            user, version, bind = cursor.fetchone()
            cursor.execute("SELECT COUNT(*) FROM readings")
            (count,) = cursor.fetchone()
    assert user == "fleetwatch@127.0.0.1"
    assert "MariaDB" in version
    assert bind == "127.0.0.1"
    assert count == READING_ROWS


def test_mariadb_dump_holds_the_tables_and_every_row(mariadb_database, tmp_path):
    result = tmp_path / "dump.sql"

    done = mariadb_dump(mariadb_database, result)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    text = result.read_text(encoding="utf-8")
    assert "CREATE TABLE `sites`" in text
    assert "CREATE TABLE `readings`" in text
    lines = text.splitlines()
    assert sum(line.startswith("INSERT INTO `readings` VALUES") for line in lines) == READING_ROWS
    assert "INSERT INTO `sites` VALUES (1,'Zürich');" in lines
    assert lines[-1].startswith("-- Dump completed on ")


def test_mariadb_dump_with_a_wrong_password_is_refused(mariadb_database, tmp_path):
    result = tmp_path / "dump.sql"

    done = mariadb_dump(mariadb_database, result, password="wrong")

    assert done.returncode == 2  # mariadb-dump's status for a server error
    assert "Access denied for user 'fleetwatch'@'127.0.0.1' (using password: YES)" in done.stderr
    assert result.read_text() == ""


def test_mydumper_writes_schema_and_data_files_per_table(mariadb_database, tmp_path):
    outputdir = tmp_path / "dump"
    name = mariadb_database.name

    done = mydumper(mariadb_database, outputdir)

    assert done.returncode == 0, done.stderr
    assert {p.name for p in outputdir.iterdir()} == {
        "metadata",
        f"{name}-schema-create.sql",
        f"{name}.readings-schema.sql",
        f"{name}.readings.sql",
        f"{name}.sites-schema.sql",
        f"{name}.sites.sql",
    }
    assert "CREATE TABLE `readings`" in (outputdir / f"{name}.readings-schema.sql").read_text()
    assert "Zürich" in (outputdir / f"{name}.sites.sql").read_text(encoding="utf-8")
    assert "Finished dump at: " in (outputdir / "metadata").read_text()


def test_mydumper_with_a_wrong_password_is_refused(mariadb_database, tmp_path):
    outputdir = tmp_path / "dump"

    done = mydumper(mariadb_database, outputdir, password="wrong")

    assert done.returncode == 1
    assert "Access denied for user 'fleetwatch'@'127.0.0.1' (using password: YES)" in done.stderr
    assert not outputdir.exists() or list(outputdir.iterdir()) == []


def test_pg_dump_holds_the_tables_and_every_row(postgresql_database, tmp_path):
    result = tmp_path / "dump.sql"

    done = pg_dump(postgresql_database, result)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = result.read_text(encoding="utf-8").splitlines()
    assert "CREATE TABLE public.readings (" in lines
    assert "CREATE TABLE public.sites (" in lines
    start = lines.index("COPY public.readings (id, site_id, taken_at, value) FROM stdin;")
    assert lines.index("\\.", start) - start - 1 == READING_ROWS
    assert "1\tZürich" in lines
    assert "-- PostgreSQL database dump complete" in lines


def test_pg_dump_with_a_wrong_password_is_refused(postgresql_database, tmp_path):
    result = tmp_path / "dump.sql"

    done = pg_dump(postgresql_database, result, password="wrong")

    assert done.returncode == 1
    assert 'password authentication failed for user "fleetwatch"' in done.stderr
    assert not result.exists()


# Explicit markers: these reach the fixtures only through request.getfixturevalue.
@pytest.mark.parametrize(
    "tool",
    [
        pytest.param("mariadb", marks=pytest.mark.backup_tool("mariadb")),
        pytest.param("postgresql", marks=pytest.mark.backup_tool("postgresql")),
    ],
)
def test_a_throwaway_database_is_dropped_after_the_block(tool, request):
    from tests.backups import databases

    if tool == "mariadb":
        with databases.mariadb_database(request.getfixturevalue("mariadb_url")) as database:
            assert database.name.startswith("fwtest_")
        with databases.mariadb_connect(database.server) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (database.name,)
            )
            assert cursor.fetchone() == (0,)
    else:
        with databases.postgresql_database(request.getfixturevalue("pg_dump_url")) as database:
            assert database.name.startswith("fwtest_")
        with databases.postgresql_connect(database.server) as connection:
            found = connection.execute(
                "SELECT COUNT(*) FROM pg_database WHERE datname = %s", (database.name,)
            )
            assert found.fetchone() == (0,)
