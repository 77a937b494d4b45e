"""Real database servers for the backup tools (mariadb-dump, mydumper, pg_dump).

``FLEETWATCH_TEST_BACKUP_TOOLS`` names the servers the backup tools are tested against
(``mariadb``, ``postgresql``; unset: both). `make test` starts them and exports
``FLEETWATCH_TEST_MARIADB_URL`` and ``FLEETWATCH_TEST_POSTGRESQL_URL``.

A test needs a server when it is marked ``backup_tool("mariadb")`` / ``backup_tool("postgresql")``
or uses a fixture below that reaches one (which marks it). Like ``FLEETWATCH_TEST_BACKENDS``, the
variable narrows on purpose: tests that need a server it leaves out are deselected (set it to ""
for none at all, e.g. with ``FLEETWATCH_TEST_BACKENDS=sqlite``). A requested server whose URL
variable is unset, or that does not answer, fails its tests; they are never skipped.

Every backups test also gets its own empty time-series store: closing a run charts it (the
run_closed receiver), and no test may write to the data dir's store. The notification tests' SMTP
server and webhook receiver serve here too.
"""

from __future__ import annotations

import os

import pytest

from tests.backups import databases

# The SMTP server and webhook receiver of the notification tests, for the backups' notifications.
from tests.notifications.conftest import allow_private_webhooks, receiver, smtp  # noqa: F401

ALL_BACKUP_TOOLS = ("mariadb", "postgresql")
# The fixtures that reach a server; a test using one (even through another fixture) needs it.
FIXTURE_TOOLS = {"mariadb_url": "mariadb", "pg_dump_url": "postgresql"}
URL_VARIABLES = {"mariadb": "FLEETWATCH_TEST_MARIADB_URL", "postgresql": "FLEETWATCH_TEST_POSTGRESQL_URL"}
SCRIPTS = {"mariadb": "mariadb.sh", "postgresql": "postgresql.sh"}


def requested_backup_tools() -> list[str]:
    """The servers named in ``FLEETWATCH_TEST_BACKUP_TOOLS``: all when unset, none when empty.

    Raises ``pytest.UsageError`` for a name not in ``ALL_BACKUP_TOOLS``."""
    raw = os.environ.get("FLEETWATCH_TEST_BACKUP_TOOLS")
    if raw is None:
        return list(ALL_BACKUP_TOOLS)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = set(names) - set(ALL_BACKUP_TOOLS)
    if unknown:
        raise pytest.UsageError(f"FLEETWATCH_TEST_BACKUP_TOOLS names unknown servers: {sorted(unknown)}")
    return names


def needed_tools(item: pytest.Item) -> set[str]:
    """The servers a collected test needs, from its ``backup_tool`` markers."""
    needed = set()
    for marker in item.iter_markers("backup_tool"):
        if len(marker.args) != 1 or marker.args[0] not in ALL_BACKUP_TOOLS:
            raise pytest.UsageError(f"{item.nodeid}: backup_tool takes one of {ALL_BACKUP_TOOLS}")
        needed.add(marker.args[0])
    return needed


def pytest_collection_modifyitems(config, items):
    requested = set(requested_backup_tools())
    kept, deselected = [], []
    for item in items:
        for fixture, tool in FIXTURE_TOOLS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.backup_tool(tool))
        (kept if needed_tools(item) <= requested else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def server_url(tool: str) -> str:
    """The URL of a requested server, or a failed test saying how to get one."""
    variable = URL_VARIABLES[tool]
    url = os.environ.get(variable)
    if not url:
        pytest.fail(
            f"{tool} is requested for the backup tools but {variable} is not set: run the tests with "
            f"`make test` (scripts/services/{SCRIPTS[tool]} starts the server), or narrow "
            f"FLEETWATCH_TEST_BACKUP_TOOLS",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    """``mysql://fleetwatch:fleetwatch@127.0.0.1:13306/``: a user that may create databases."""
    url = server_url("mariadb")
    try:
        databases.mariadb_connect(databases.Server.from_url(url)).close()
    except Exception as error:
        pytest.fail(f"MariaDB at {url} is not reachable: {error}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def pg_dump_url() -> str:
    """``postgresql://fleetwatch:fleetwatch@127.0.0.1:15432/fleetwatch``: a role with CREATEDB."""
    url = server_url("postgresql")
    try:
        databases.postgresql_connect(databases.Server.from_url(url)).close()
    except Exception as error:
        pytest.fail(f"PostgreSQL at {url} is not reachable: {error}", pytrace=False)
    return url


@pytest.fixture
def mariadb_database(mariadb_url):
    """A throwaway MariaDB database (``databases.Database``) with rows, dropped after the test."""
    with databases.mariadb_database(mariadb_url) as database:
        yield database


@pytest.fixture
def postgresql_database(pg_dump_url):
    """A throwaway PostgreSQL database (``databases.Database``) with rows, dropped after the test."""
    with databases.postgresql_database(pg_dump_url) as database:
        yield database


@pytest.fixture(autouse=True)
def own_timeseries_store(settings, tmp_path):
    """A SQLite store under the test's tmp_path, created only if the test writes or reads (a test
    that wants another backend sets ``TIMESERIES_DATABASE`` itself, as the ``timeseries`` and
    ``store`` fixtures do)."""
    from fleetwatch.core.timeseries import reset_backend

    settings.TIMESERIES_DATABASE = {"BACKEND": "sqlite", "NAME": str(tmp_path / "backups-ts.db")}
    reset_backend()
    yield
    reset_backend()
