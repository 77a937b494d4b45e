"""The image's entry point and health check, run on this machine: the URLs it derives from
FLEETWATCH_TIMESERIES_BACKEND (and the real servers they reach), the web role serving on SQLite,
and the health check's answer to a healthy server, a degraded one and a closed port."""

import os
import subprocess
import sys
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.deploy.conftest import (
    ENTRYPOINT,
    HEALTHCHECK,
    fleetwatch_environment,
    free_port,
    health,
    stop,
    wait_for_answer,
)
from tests.timeseries.conftest import requested_backends


def entrypoint(tmp_path, *args, **env):
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args],
        env=fleetwatch_environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def urls(tmp_path, **env) -> dict[str, str]:
    result = entrypoint(tmp_path, "urls", **env)
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


NO_BROKER = {
    "FLEETWATCH_BROKER": "",
    "FLEETWATCH_CHANNELS_BROKER_URL": "",
    "FLEETWATCH_CHANNELS_BROKER_API_URL": "",
}


@pytest.mark.parametrize(
    ("env", "timeseries", "database"),
    [
        ({}, "", ""),
        ({"FLEETWATCH_TIMESERIES_BACKEND": "sqlite"}, "", ""),
        (
            {"FLEETWATCH_TIMESERIES_BACKEND": "postgresql", "POSTGRES_PASSWORD": "p@ss:w/rd"},
            "postgresql://fleetwatch:***@postgresql:5432/fleetwatch",
            "postgresql://fleetwatch:***@postgresql:5432/fleetwatch",
        ),
        (
            {"FLEETWATCH_TIMESERIES_BACKEND": "timescaledb", "POSTGRES_PASSWORD": "s", "POSTGRES_HOST": "db"},
            "postgresql://fleetwatch:***@db:5432/fleetwatch",
            "postgresql://fleetwatch:***@db:5432/fleetwatch",
        ),
        (
            {"FLEETWATCH_TIMESERIES_BACKEND": "influxdb", "INFLUXDB_USER": "fw", "INFLUXDB_PASSWORD": "s"},
            "influxdb://fw:***@influxdb:8086/fleetwatch",
            "",
        ),
        (
            {"FLEETWATCH_TIMESERIES_BACKEND": "influxdb2", "INFLUXDB2_TOKEN": "tok/en=="},
            "influxdb2://***@influxdb2:8086/fleetwatch?org=fleetwatch",
            "",
        ),
        (
            {"FLEETWATCH_TIMESERIES_BACKEND": "elasticsearch", "ELASTIC_PASSWORD": "s"},
            "elasticsearch://elastic:***@elasticsearch:9200/fleetwatch",
            "",
        ),
    ],
)
def test_the_backend_name_becomes_the_urls_fleetwatch_reads(tmp_path, env, timeseries, database):
    assert urls(tmp_path, **env) == {
        "FLEETWATCH_TIMESERIES": timeseries,
        "FLEETWATCH_DATABASE": database,
        **NO_BROKER,
    }


def test_an_explicit_url_wins_over_the_backend_name(tmp_path):
    got = urls(
        tmp_path,
        FLEETWATCH_TIMESERIES_BACKEND="postgresql",
        POSTGRES_PASSWORD="s",
        FLEETWATCH_TIMESERIES="influxdb://127.0.0.1:8086/mine",
    )
    assert got["FLEETWATCH_TIMESERIES"] == "influxdb://127.0.0.1:8086/mine"
    assert got["FLEETWATCH_DATABASE"] == "postgresql://fleetwatch:***@postgresql:5432/fleetwatch"


def test_rabbitmq_becomes_the_broker_and_the_device_channels(tmp_path):
    got = urls(tmp_path, RABBITMQ_HOST="broker", RABBITMQ_PASSWORD="s")
    assert got == {
        "FLEETWATCH_TIMESERIES": "",
        "FLEETWATCH_DATABASE": "",
        "FLEETWATCH_BROKER": "amqp://fleetwatch:***@broker:5672/fleetwatch",
        "FLEETWATCH_CHANNELS_BROKER_URL": "amqp://fleetwatch:***@broker:5672/fleetwatch",
        "FLEETWATCH_CHANNELS_BROKER_API_URL": "http://fleetwatch:***@broker:15672/api/",
    }


def test_an_unknown_backend_stops_with_status_2_naming_the_variable(tmp_path):
    result = entrypoint(tmp_path, "urls", FLEETWATCH_TIMESERIES_BACKEND="mongodb")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "fleetwatch-entrypoint: configuration error: FLEETWATCH_TIMESERIES_BACKEND must be sqlite, "
        "postgresql, timescaledb, influxdb, influxdb2 or elasticsearch, not 'mongodb'\n"
    )


def test_influxdb2_without_a_token_stops_with_status_2(tmp_path):
    result = entrypoint(tmp_path, "urls", FLEETWATCH_TIMESERIES_BACKEND="influxdb2")
    assert result.returncode == 2
    assert "needs INFLUXDB2_TOKEN" in result.stderr


def server_variables(backend: str) -> dict[str, str]:
    """The entry point's variables that point at the test server of ``backend`` (make test's)."""
    url = os.environ.get(f"FLEETWATCH_TEST_{backend.upper()}_URL")
    if not url:
        pytest.fail(f"FLEETWATCH_TEST_{backend.upper()}_URL is not set: run `make test`", pytrace=False)
    parts = urlsplit(url)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    name = parts.path.strip("/")
    prefix = {"postgresql": "POSTGRES", "influxdb": "INFLUXDB", "influxdb2": "INFLUXDB2"}.get(
        backend, "ELASTICSEARCH"
    )
    env = {
        "FLEETWATCH_TIMESERIES_BACKEND": backend,
        f"{prefix}_HOST": parts.hostname,
        f"{prefix}_PORT": str(parts.port),
    }
    if backend == "postgresql":
        env.update(POSTGRES_USER=user, POSTGRES_PASSWORD=password, POSTGRES_DB=name)
    elif backend == "influxdb":
        env.update(INFLUXDB_USER=user, INFLUXDB_PASSWORD=password, INFLUXDB_DB=name)
    elif backend == "influxdb2":
        org = parse_qs(parts.query).get("org", [""])[0]
        env.update(INFLUXDB2_TOKEN=user, INFLUXDB2_BUCKET=name, INFLUXDB2_ORG=org)
    else:
        env.update(ELASTICSEARCH_USER=user, ELASTIC_PASSWORD=password, ELASTICSEARCH_NAMESPACE=name)
    return env


@pytest.mark.parametrize("backend", requested_backends())
def test_the_derived_url_reaches_the_real_server(tmp_path, backend):
    """`fleetwatch check --connect` through the entry point: the URL it built answers (SQLite:
    the files under the data directory)."""
    env = {"FLEETWATCH_TIMESERIES_BACKEND": "sqlite"} if backend == "sqlite" else server_variables(backend)
    result = entrypoint(tmp_path, "check", "--connect", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("System check identified no issues (0 silenced).\n"), result.stdout


def healthcheck(tmp_path, port: int) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FLEETWATCH_BIND": f"0.0.0.0:{port}"}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_web_role_serves_on_sqlite_and_the_health_check_passes(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        ["bash", str(ENTRYPOINT), "web", "--workers", "1"],
        env=fleetwatch_environment(tmp_path, FLEETWATCH_BIND=f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert wait_for_answer(port, server) == 200
        assert health(port) == (200, b'{"status":"ok","timeseries":{"backend":"sqlite","reachable":true}}')
        result = healthcheck(tmp_path, port)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        # The entry point exec'd `fleetwatch serve`: migrations ran into the data directory.
        assert (tmp_path / "var" / "fleetwatch.sqlite3").is_file()
    finally:
        stop(server)


def test_the_health_check_fails_on_a_degraded_server(tmp_path):
    """The store does not answer (PostgreSQL on a closed port): 503, and the check says so."""
    port, closed = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "fleetwatch.cli", "serve", "--workers", "1"],
        env=fleetwatch_environment(
            tmp_path,
            FLEETWATCH_BIND=f"127.0.0.1:{port}",
            FLEETWATCH_TIMESERIES=f"postgresql://fw:fw@127.0.0.1:{closed}/fw?connect_timeout=1",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_for_answer(port, server) == 503
        result = healthcheck(tmp_path, port)
        assert result.returncode == 1
        assert result.stderr.startswith(
            f"fleetwatch-healthcheck: http://127.0.0.1:{port}/api/v1/health/: 503 "
        )
        assert '"status":"degraded"' in result.stderr
    finally:
        stop(server)


def test_the_health_check_fails_when_nothing_answers(tmp_path):
    port = free_port()
    result = healthcheck(tmp_path, port)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"fleetwatch-healthcheck: http://127.0.0.1:{port}/api/v1/health/: no answer: "
    )
