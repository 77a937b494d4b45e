"""OpenWISP deployments on any backend (docs/deploy-openwisp.md): the ansible-openwisp2 variables
and docker-openwisp overrides of deploy/openwisp/ render the Django settings that OpenWISP
Monitoring 1.3 then runs on, per backend.

Neither project's settings template can be had from a package registry at test time (both live
only in their git repositories), so the two fragments that matter are rendered here by our own
code, following what the templates do (the mapping is in docs/deploy-openwisp.md):

- ansible-openwisp2 (templates/openwisp2/settings.py, checked at commit 3f946d6e): with
  ``openwisp2_monitoring`` on, ``TIMESERIES_DATABASE`` gets BACKEND, USER, PASSWORD, NAME, HOST
  and PORT from ``openwisp2_timeseries_database``, each as a string, then
  ``OPENWISP_MONITORING_DEFAULT_RETENTION_POLICY``, then ``openwisp2_extra_django_settings`` (one
  assignment each), then ``openwisp2_extra_django_settings_instructions`` (one line each);
- docker-openwisp (images/common/openwisp/settings.py, checked at commit cff53f41):
  ``TIMESERIES_DATABASE`` from the ``INFLUXDB_*`` environment variables, the retention policy from
  ``INFLUXDB_DEFAULT_RETENTION_POLICY``, then ``customization/configuration/django/
  custom_django_settings.py`` star-imported last, the containers' environment being .env.

The rendered files go to the OpenWISP test project (tests/openwisp/project, through
``FLEETWATCH_OPENWISP_SETTINGS``, which removes the project's own ``TIMESERIES_DATABASE`` first);
per backend, OpenWISP Monitoring's own time-series client tests (the label
``openwisp_monitoring.db``) run on the Ansible rendering through scripts/openwisp/run.sh, and the
Docker rendering writes and reads a point through OpenWISP's ``timeseries_db``. The only value
replaced is the URL (the server the suite started), as ``ansible-playbook -e`` or .env would.
Backends follow ``FLEETWATCH_TEST_BACKENDS``; a requested server without its URL fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.timeseries.conftest import requested_backends

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "openwisp"
PROJECT = ROOT / "tests" / "openwisp" / "project"
VENV_PYTHON = ROOT / ".services" / "openwisp" / "venv" / "bin" / "python"
BACKENDS = ("sqlite", "postgresql", "influxdb", "influxdb2", "elasticsearch")
# The pip extra each backend needs beside "openwisp" (pyproject.toml).
EXTRAS = {"sqlite": "", "postgresql": "postgres", "influxdb": "influxdb", "influxdb2": "influxdb2"}
EXTRAS["elasticsearch"] = "elasticsearch"
# ansible-openwisp2's defaults/main.yml values the rendered fragment reads.
ANSIBLE_DEFAULTS = {
    "openwisp2_monitoring": True,
    "openwisp2_monitoring_default_retention_policy": "26280h0m0s",
    "openwisp2_extra_django_settings": {},
    "openwisp2_extra_django_settings_instructions": [],
}
# docker-openwisp's image environment (images/openwisp_base/Dockerfile ENV) for the time series.
DOCKER_ENV = {
    "INFLUXDB_USER": "admin",
    "INFLUXDB_PASS": "admin",
    "INFLUXDB_NAME": "openwisp",
    "INFLUXDB_HOST": "influxdb",
    "INFLUXDB_PORT": "8086",
    "INFLUXDB_DEFAULT_RETENTION_POLICY": "26280h0m0s",
}
# The services of docker-openwisp's docker-compose.yml that run Django, and their images.
DJANGO_SERVICES = {
    "dashboard": "openwisp-dashboard",
    "api": "openwisp-api",
    "websocket": "openwisp-websocket",
    "celery": "openwisp-dashboard",
    "celery_monitoring": "openwisp-dashboard",
    "celerybeat": "openwisp-dashboard",
}
SERVER_SERVICES = {"influxdb2": "influxdb2", "elasticsearch": "elasticsearch"}


def substitute(text: str, variables: dict) -> str:
    """``{{ name }}`` references replaced by ``variables[name]`` (repeatedly, as Ansible resolves
    variables lazily). Any other Jinja construct, or an unknown name, raises ``ValueError``: the
    vars files must stay within what this renderer understands."""
    if "{%" in text or re.search(r"\{\{[^}]*\|", text):
        raise ValueError(f"only {{{{ name }}}} references are rendered here: {text!r}")
    for _ in range(10):
        names = re.findall(r"\{\{\s*(\w+)\s*\}\}", text)
        if not names:
            return text
        for name in names:
            if name not in variables:
                raise ValueError(f"undefined variable {name!r} in {text!r}")
            text = re.sub(r"\{\{\s*" + name + r"\s*\}\}", lambda _m, v=variables[name]: str(v), text)
    raise ValueError(f"variables nested too deep in {text!r}")


def render_ansible(vars_file: Path, overrides: dict) -> str:
    """The Django settings lines ansible-openwisp2's settings.py template writes for the time
    series, from the role's defaults, ``vars_file`` and ``overrides`` (extra vars, highest)."""
    variables = {**ANSIBLE_DEFAULTS, **yaml.safe_load(vars_file.read_text()), **overrides}
    lines = []
    if variables["openwisp2_monitoring"]:
        database = variables["openwisp2_timeseries_database"]
        lines.append("TIMESERIES_DATABASE = {")
        for key in ("backend", "user", "password", "name", "host", "port"):
            lines.append(f"    {key.upper()!r}: {substitute(str(database[key]), variables)!r},")
        lines.append("}")
        retention = substitute(variables["openwisp2_monitoring_default_retention_policy"], variables)
        lines.append(f"OPENWISP_MONITORING_DEFAULT_RETENTION_POLICY = {retention!r}")
    for setting, value in variables["openwisp2_extra_django_settings"].items():
        lines.append(
            f"{setting} = {substitute(value, variables)!r}"
            if isinstance(value, str)
            else f"{setting} = {value}"
        )
    for instruction in variables["openwisp2_extra_django_settings_instructions"]:
        lines.append(substitute(instruction, variables))
    return "\n".join(lines) + "\n"


# docker-openwisp's settings.py, the time-series part: the keys from INFLUXDB_<variable>.
DOCKER_KEYS = {"USER": "USER", "PASSWORD": "PASS", "NAME": "NAME", "HOST": "HOST", "PORT": "PORT"}
DOCKER_BASE = "\n".join(
    [
        "import os",
        "TIMESERIES_DATABASE = {",
        '    "BACKEND": "openwisp_monitoring.db.backends.influxdb",',
        *(f'    "{key}": os.environ["INFLUXDB_{variable}"],' for key, variable in DOCKER_KEYS.items()),
        "}",
        'OPENWISP_MONITORING_DEFAULT_RETENTION_POLICY = os.environ["INFLUXDB_DEFAULT_RETENTION_POLICY"]',
        "",
    ]
)


def env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a compose .env file (comments and blank lines skipped)."""
    pairs = (
        line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")
    )
    return {name: value for name, value in pairs}


REQUESTED = [b for b in BACKENDS if b in requested_backends()]


def server_url(backend: str, tmp_path: Path) -> str | None:
    """The URL of the backend's test server (``FLEETWATCH_TEST_<BACKEND>_URL``); SQLite: a file."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'timeseries.sqlite3'}"
    return os.environ.get(f"FLEETWATCH_TEST_{backend.upper()}_URL")


def check_backend(backend: str, url: str, tmp_path: Path, python: Path, redis_url: str) -> dict:
    """Renders both deployments' settings for ``backend`` at ``url`` and runs them (see the module
    docstring); returns the rendered Ansible fragment and both processes' results."""
    # ansible-openwisp2: the vars file, with the URL given as an extra var.
    ansible = tmp_path / "ansible_settings.py"
    vars_file = DEPLOY / "ansible" / f"fleetwatch-{backend}.yml"
    ansible.write_text(render_ansible(vars_file, {"fleetwatch_timeseries_url": url}))
    # docker-openwisp: its settings' time-series part, then our custom_django_settings.py, in the
    # environment of the image and .env with the backend's lines; INFLUXDB_NAME (the namespace) is
    # the test's own.
    docker_base = tmp_path / "docker_settings.py"
    docker_base.write_text(DOCKER_BASE)
    docker_env = {**DOCKER_ENV, **env_file(DEPLOY / "docker" / f"fleetwatch-{backend}.env")}
    docker_env.update(FLEETWATCH_TIMESERIES_URL=url, INFLUXDB_NAME=f"fleetwatch_deploy_{backend}")
    docker_files = [docker_base, DEPLOY / "docker" / "custom_django_settings.py"]
    env = {
        **os.environ,
        "OPENWISP_TSDB": f"fleetwatch-{backend}",
        "PYTHONPATH": str(PROJECT),
        # pytest-django's (Fleetwatch's settings) must not leak into OpenWISP's project
        "DJANGO_SETTINGS_MODULE": "openwisp2.settings",
        "FLEETWATCH_TEST_REDIS_URL": redis_url,
    }
    docker = subprocess.run(
        [str(python), "manage.py", "shell", "-c", SMOKE],
        cwd=PROJECT,
        env={**env, **docker_env, "FLEETWATCH_OPENWISP_SETTINGS": os.pathsep.join(map(str, docker_files))},
        capture_output=True,
        text=True,
        timeout=300,
    )
    # OpenWISP Monitoring's own time-series client tests on the Ansible rendering.
    suite = subprocess.run(
        ["bash", str(ROOT / "scripts" / "openwisp" / "run.sh"), f"fleetwatch-{backend}"],
        cwd=ROOT,
        env={
            **env,
            "OPENWISP_LABELS": "openwisp_monitoring.db",
            "FLEETWATCH_OPENWISP_SETTINGS": str(ansible),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    return {"ansible": ansible.read_text(), "docker": docker, "suite": suite}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every requested backend checked at once (one thread each: the processes mostly wait on
    servers and on each other's CPU), after scripts/openwisp/setup.sh (its venv: OpenWISP
    Monitoring 1.3 from PyPI, Fleetwatch editable; installed on the first run, then cached under
    .services/ with a stamp) and with Redis started here, so that no run.sh stops it under another.
    Maps backend to check_backend's answer, or to the reason it could not run."""
    setup = subprocess.run(
        ["bash", str(ROOT / "scripts" / "openwisp" / "setup.sh")], capture_output=True, text=True
    )
    assert setup.returncode == 0, f"scripts/openwisp/setup.sh failed:\n{setup.stderr[-3000:]}"
    redis = ["bash", str(ROOT / "scripts" / "services" / "redis.sh")]
    ours = subprocess.run([*redis, "status"], capture_output=True).returncode != 0
    started = subprocess.run([*redis, "start"], capture_output=True, text=True)
    assert started.returncode == 0, f"scripts/services/redis.sh start failed:\n{started.stderr[-3000:]}"
    redis_url = started.stdout.splitlines()[-1]
    answers, futures = {}, {}
    try:
        with ThreadPoolExecutor(max_workers=len(REQUESTED) or 1) as pool:
            for backend in REQUESTED:
                url = server_url(backend, tmp_path_factory.mktemp(backend))
                if url is None:
                    variable = f"FLEETWATCH_TEST_{backend.upper()}_URL"
                    answers[backend] = (
                        f"backend {backend!r} is requested but {variable} is not set: run `make test`"
                    )
                    continue
                tmp = tmp_path_factory.mktemp(f"{backend}-settings")
                futures[backend] = (
                    url,
                    pool.submit(check_backend, backend, url, tmp, VENV_PYTHON, redis_url),
                )
            for backend, (url, future) in futures.items():
                answers[backend] = {"url": url, **future.result()}
    finally:
        if ours:
            subprocess.run([*redis, "stop"], capture_output=True)
    return answers


def test_every_backend_has_its_ansible_vars_and_docker_override():
    for backend in BACKENDS:
        ansible = yaml.safe_load((DEPLOY / "ansible" / f"fleetwatch-{backend}.yml").read_text())
        assert ansible["openwisp2_timeseries_database"]["backend"] == "fleetwatch.openwisp"
        assert ansible["openwisp2_influxdb_install"] is (backend == "influxdb")
        assert ansible["openwisp2_extra_python_packages"] == ["bpython", "{{ fleetwatch_package }}"]
        extras = ",".join(filter(None, ["openwisp", EXTRAS[backend]]))
        assert ansible["fleetwatch_package"] == f"fleetwatch[{extras}]"
        assert ansible["fleetwatch_timeseries_url"].startswith(f"{backend}://")
        env = env_file(DEPLOY / "docker" / f"fleetwatch-{backend}.env")
        assert env["FLEETWATCH_PACKAGE"] == f"fleetwatch[{extras}]"
        assert env["FLEETWATCH_TIMESERIES_URL"].startswith(f"{backend}://")
        compose = yaml.safe_load((DEPLOY / "docker" / f"docker-compose.fleetwatch-{backend}.yml").read_text())
        expected = set(DJANGO_SERVICES) | (
            {SERVER_SERVICES[backend]} if backend in SERVER_SERVICES else set()
        )
        assert set(compose["services"]) == expected
        for service, image in DJANGO_SERVICES.items():
            spec = compose["services"][service]
            assert spec["image"] == f"fleetwatch/{image}:${{OPENWISP_VERSION:-edge}}"
            if service in ("dashboard", "api", "websocket"):
                assert spec["build"]["args"] == {
                    "BASE_IMAGE": f"openwisp/{image}:${{OPENWISP_VERSION:-edge}}",
                    "FLEETWATCH_PACKAGE": "${FLEETWATCH_PACKAGE}",
                }
            else:
                assert spec["pull_policy"] == "never"
            if backend == "sqlite":
                assert spec["volumes"] == ["fleetwatch_timeseries:/opt/openwisp/fleetwatch"]
        if backend == "sqlite":
            assert env["FLEETWATCH_TIMESERIES_URL"].startswith("sqlite:////opt/openwisp/fleetwatch/")
    # The Dockerfile's build argument names match the overrides'.
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=" in dockerfile
    assert 'ARG FLEETWATCH_PACKAGE="fleetwatch[openwisp]"' in dockerfile


def test_the_renderer_refuses_what_it_cannot_render():
    with pytest.raises(ValueError, match="undefined variable 'nope'"):
        substitute("{{ nope }}", {})
    with pytest.raises(ValueError, match="only"):
        substitute("{{ x | default('y') }}", {"x": 1})
    assert substitute("a{{ b }}c", {"b": "{{ d }}", "d": 7}) == "a7c"


SMOKE = """
import json
from datetime import datetime, timezone
from django.conf import settings
from openwisp_monitoring.db import timeseries_db
timeseries_db.create_database()
moment = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
timeseries_db.write("deploy_check", {"value": 1.5}, tags={"object_id": "router-1"}, timestamp=moment)
rows = timeseries_db.read("deploy_check", fields="value", tags={"object_id": "router-1"})
timeseries_db.drop_database()
print(json.dumps({"settings": settings.TIMESERIES_DATABASE, "client": type(timeseries_db).__module__,
                  "rows": [row["value"] for row in rows],
                  "retention": settings.OPENWISP_MONITORING_DEFAULT_RETENTION_POLICY}))
"""


@pytest.mark.parametrize("backend", REQUESTED)
def test_the_rendered_settings_pass_openwisps_suite_subset(backend, runs):
    answer = runs[backend]
    if isinstance(answer, str):
        pytest.fail(answer, pytrace=False)
    url, docker, suite = answer["url"], answer["docker"], answer["suite"]
    assert answer["ansible"] == (
        "TIMESERIES_DATABASE = {\n"
        "    'BACKEND': 'fleetwatch.openwisp',\n"
        "    'USER': '',\n"
        "    'PASSWORD': '',\n"
        "    'NAME': 'openwisp2',\n"
        "    'HOST': '',\n"
        "    'PORT': '',\n"
        "}\n"
        "OPENWISP_MONITORING_DEFAULT_RETENTION_POLICY = '26280h0m0s'\n"
        f'TIMESERIES_DATABASE["OPTIONS"] = {{"url": "{url}"}}\n'
    )
    assert docker.returncode == 0, docker.stderr[-3000:]
    assert json.loads(docker.stdout.splitlines()[-1]) == {
        "settings": {
            "BACKEND": "fleetwatch.openwisp",
            "NAME": f"fleetwatch_deploy_{backend}",
            "USER": "",
            "PASSWORD": "",
            "HOST": "",
            "PORT": "",
            "OPTIONS": {"url": url},
        },
        "client": "fleetwatch.openwisp.client",
        "rows": [1.5],
        "retention": "26280h0m0s",
    }
    assert suite.returncode == 0, suite.stdout + suite.stderr[-3000:]
    summary = suite.stdout.splitlines()
    assert summary[1].startswith(
        f"fleetwatch-{backend}: 23 run, 23 passed, 0 failed, 0 errors, 3 excluded, 0 skipped"
    ), summary
    assert summary[2] == "openwisp: 23 passed, 0 failed, 0 skipped"


DOC = ROOT / "docs" / "deploy-openwisp.md"


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def test_the_documented_rendering_is_what_the_vars_file_renders():
    (playbook,) = doc_blocks("yaml")
    assert yaml.safe_load(playbook)[0]["vars_files"] == ["fleetwatch-postgresql.yml"]
    (documented,) = doc_blocks("python")
    rendered = render_ansible(DEPLOY / "ansible" / "fleetwatch-postgresql.yml", {})
    ours, theirs = {}, {}
    exec(documented, ours)
    exec(rendered, theirs)
    assert (
        ours["TIMESERIES_DATABASE"]
        == theirs["TIMESERIES_DATABASE"]
        == {
            "BACKEND": "fleetwatch.openwisp",
            "USER": "",
            "PASSWORD": "",
            "NAME": "openwisp2",
            "HOST": "",
            "PORT": "",
            "OPTIONS": {"url": "postgresql://openwisp2:CHANGE-ME@127.0.0.1:5432/openwisp2"},
        }
    )
    assert ours["OPENWISP_MONITORING_DEFAULT_RETENTION_POLICY"] == "26280h0m0s"


def test_the_documented_docker_steps_put_the_files_in_place(tmp_path):
    """The shell block of the docker-openwisp section, run in a copy of docker-openwisp's
    directory (an empty docker-compose.yml and .env stand in), except its `docker compose` lines:
    no container engine here."""
    (steps,) = doc_blocks("sh")
    (tmp_path / "deploy").symlink_to(ROOT / "deploy")
    (tmp_path / ".env").write_text("INFLUXDB_NAME=openwisp\n")
    lines = [line for line in steps.splitlines() if not line.startswith("docker compose ")]
    assert len(lines) == 6
    done = subprocess.run(["bash", "-euc", "\n".join(lines)], cwd=tmp_path, capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert (tmp_path / "fleetwatch" / "Dockerfile").read_text() == (
        DEPLOY / "docker" / "Dockerfile"
    ).read_text()
    settings = tmp_path / "customization" / "configuration" / "django"
    assert sorted(p.name for p in settings.iterdir()) == ["__init__.py", "custom_django_settings.py"]
    compose = yaml.safe_load((tmp_path / "docker-compose.fleetwatch-postgresql.yml").read_text())
    assert compose["services"]["dashboard"]["build"]["context"] == "./fleetwatch"
    env = env_file(tmp_path / ".env")
    assert env["INFLUXDB_NAME"] == "openwisp"
    assert env["FLEETWATCH_TIMESERIES_URL"] == "postgresql://admin:admin@postgres:5432/openwisp"
