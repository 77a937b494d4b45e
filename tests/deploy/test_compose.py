"""deploy/compose/compose.yaml, validated by Debian's docker-compose 1.29 (`docker-compose config`)
for every backend's profile, the way docs/deploy-containers.md has operators do it: copy
.env.example to .env, set FLEETWATCH_TIMESERIES_BACKEND, render. The rendered environment of
the web service then goes through the image's entry point, which must give the URLs of the
server the profile starts."""

import shutil
import subprocess

import pytest
import yaml

from tests.deploy.conftest import COMPOSE_DIR, ENTRYPOINT, ROOT, fleetwatch_environment

ALWAYS = {"web", "worker", "consumer", "broker"}
SERVERS = {
    "sqlite": set(),
    "postgresql": {"postgresql"},
    "timescaledb": {"timescaledb"},
    "influxdb": {"influxdb"},
    "influxdb2": {"influxdb2"},
    "elasticsearch": {"elasticsearch"},
}
EXPECTED_TIMESERIES = {
    "sqlite": "",
    "postgresql": "postgresql://fleetwatch:***@postgresql:5432/fleetwatch",
    "timescaledb": "postgresql://fleetwatch:***@timescaledb:5432/fleetwatch",
    "influxdb": "influxdb://fleetwatch:***@influxdb:8086/fleetwatch",
    "influxdb2": "influxdb2://***@influxdb2:8086/fleetwatch?org=fleetwatch",
    "elasticsearch": "elasticsearch://elastic:***@elasticsearch:9200/fleetwatch",
}


def project(tmp_path, backend: str | None):
    """A copy of deploy/compose (and what its build context needs) with .env made from the
    example, FLEETWATCH_TIMESERIES_BACKEND set to ``backend`` (None: the example as it is)."""
    compose = tmp_path / "deploy" / "compose"
    shutil.copytree(COMPOSE_DIR, compose)
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    subprocess.run(["cp", ".env.example", ".env"], cwd=compose, check=True)
    if backend is not None:
        env = compose / ".env"
        lines = env.read_text().splitlines()
        (chosen,) = [i for i, line in enumerate(lines) if line.startswith("FLEETWATCH_TIMESERIES_BACKEND=")]
        lines[chosen] = f"FLEETWATCH_TIMESERIES_BACKEND={backend}"
        env.write_text("\n".join(lines) + "\n")
    return compose


def config(docker_compose, compose, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [docker_compose, *args, "config"], cwd=compose, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def render(docker_compose, tmp_path_factory):
    """``render(backend)``: `docker-compose config` of the example .env set to ``backend``
    (None: as it is), parsed; each backend rendered once per module."""
    cache = {}

    def render(backend):
        if backend not in cache:
            compose = project(tmp_path_factory.mktemp("compose"), backend)
            result = config(docker_compose, compose)
            assert result.returncode == 0, result.stderr
            cache[backend] = yaml.safe_load(result.stdout)
        return cache[backend]

    return render


def enabled(rendered: dict, profiles: set[str]) -> set[str]:
    """Compose's rule: a service runs when it has no profile or one of the active ones."""
    return {
        name
        for name, service in rendered["services"].items()
        if not service.get("profiles") or profiles & set(service["profiles"])
    }


@pytest.mark.parametrize("backend", list(SERVERS), ids=lambda name: f"profile-{name}")
def test_every_profile_renders_and_starts_its_server(tmp_path, docker_compose, backend):
    compose = project(tmp_path, backend)
    result = config(docker_compose, compose)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    # .env's COMPOSE_PROFILES follows the backend: that profile, and only it, is active.
    web = rendered["services"]["web"]["environment"]
    assert web["COMPOSE_PROFILES"] == backend
    assert web["FLEETWATCH_TIMESERIES_BACKEND"] == backend
    assert enabled(rendered, {web["COMPOSE_PROFILES"]}) == ALWAYS | SERVERS[backend]
    # The same with the profile named on the command line.
    assert config(docker_compose, compose, "--profile", backend).returncode == 0


def test_the_example_env_is_the_embedded_default(render):
    rendered = render(None)
    assert rendered["services"]["web"]["environment"]["FLEETWATCH_TIMESERIES_BACKEND"] == "sqlite"
    assert enabled(rendered, {"sqlite"}) == ALWAYS


def test_each_backend_has_its_profile_and_no_other_service_has_one(render):
    rendered = render(None)
    profiles = {name: service.get("profiles") for name, service in rendered["services"].items()}
    assert profiles == {
        **dict.fromkeys(ALWAYS),
        **{server: [backend] for backend, servers in SERVERS.items() for server in servers},
    }


@pytest.mark.parametrize("backend", list(SERVERS), ids=lambda name: f"profile-{name}")
def test_the_web_environment_gives_the_urls_of_the_profiles_server(tmp_path, render, backend):
    """The rendered environment of the web service through the entry point's ``urls`` role."""
    rendered = render(backend)
    web = rendered["services"]["web"]
    assert web["image"] == "fleetwatch:latest"
    assert web["command"] == ["web"]
    assert web["volumes"] == ["data:/var/lib/fleetwatch:rw"]
    result = subprocess.run(
        ["bash", str(ENTRYPOINT), "urls"],
        env=fleetwatch_environment(tmp_path, **{k: str(v) for k, v in web["environment"].items()}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    got = dict(line.split("=", 1) for line in result.stdout.splitlines())
    postgres = backend in ("postgresql", "timescaledb")
    assert got == {
        "FLEETWATCH_TIMESERIES": EXPECTED_TIMESERIES[backend],
        "FLEETWATCH_DATABASE": EXPECTED_TIMESERIES[backend] if postgres else "",
        "FLEETWATCH_BROKER": "amqp://fleetwatch:***@broker:5672/fleetwatch",
        "FLEETWATCH_CHANNELS_BROKER_URL": "amqp://fleetwatch:***@broker:5672/fleetwatch",
        "FLEETWATCH_CHANNELS_BROKER_API_URL": "http://fleetwatch:***@broker:15672/api/",
    }


def test_worker_and_consumer_run_their_roles_without_the_web_health_check(render):
    rendered = render(None)
    services = rendered["services"]
    assert services["worker"]["command"] == ["worker"]
    assert services["consumer"]["command"] == ["consumer"]
    for name in ("worker", "consumer"):
        assert services[name]["healthcheck"] == {"test": ["NONE"]}
    assert "healthcheck" not in services["web"]  # the image's own: fleetwatch-healthcheck
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000/tcp"]  # FLEETWATCH_PUBLISH of the example


def test_a_missing_env_file_is_refused(tmp_path, docker_compose):
    compose = project(tmp_path, None)
    (compose / ".env").unlink()
    result = config(docker_compose, compose)
    assert result.returncode == 1
    assert result.stderr == f"Couldn't find env file: {compose / '.env'}\n"
