"""Acceptance, the real client (issue 16): openwisp-utils from PyPI, in a virtualenv of its own
(scripts/usage/openwisp-client.sh), pointed at a live Fleetwatch collector as
docs/usage-collector.md says, sends Install, Heartbeat, Upgrade and Consent Withdrawn through its
own code (tests/usage/openwisp_client.py runs each step in a small OpenWISP-like Django project);
the collector stores exactly those events and counts them.

The venv is built on the first run (pip: about 10 s with a warm pip cache, 30 s without) and
reused after (a stamp). If it cannot be built, the test fails with pip's reason: it is never skipped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from bench.server import Server, free_port

from fleetwatch.usage import payload

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "usage-collector.md"
SCRIPT = ROOT / "scripts" / "usage" / "openwisp-client.sh"
DRIVER = Path(__file__).with_name("openwisp_client.py")
PORTS = range(18720, 18740)  # this test's live-server ports
DOC_COLLECTOR = "https://fleetwatch.example.org"  # the docs' collector, replaced by the live one
# The deployment: its OpenWISP release before and after the upgrade, and how it was installed
# (what an ansible-openwisp2 or docker-openwisp project's openwisp2/__init__.py declares).
RELEASES = ("25.10.0", "25.10.1")
METHOD = "ansible-openwisp2"

SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "a throwaway test project"
DEBUG = False  # openwisp-utils sends nothing on migrate in DEBUG
INSTALLED_APPS = ["django.contrib.contenttypes", "openwisp_utils.metric_collection"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
USE_TZ = True
# No broker: the send task runs where it is called (as a worker would), its errors raised.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"

"""
CELERY = """\
from celery import Celery

app = Celery("openwisp2")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""
PACKAGE = """\
from .celery import app as celery_app

__openwisp_version__ = {release!r}
__openwisp_installation_method__ = {method!r}
"""

READ_COLLECTOR = """\
import json
from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Report

columns = ("day", "category", "instance", "site", "product", "version", "install_method", "os",
           "kernel", "platform", "backend", "events")
tally = ("day", "category", "anonymous", "product", "version", "install_method", "os", "backend",
         "count")
print(json.dumps({
    "reports": list(Report.objects.order_by("pk").values(*columns)),
    "tallies": list(DailyTally.objects.order_by("pk").values(*tally)),
    "instances": Instance.objects.count(),
    "active_periods": ActivePeriod.objects.count(),
}, default=str))
"""

# A superuser's API token on the live collector: only superusers read the answers.
ADMIN_TOKEN = """\
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

print(Token.objects.create(user=get_user_model().objects.create_superuser("usage-admin")).key)
"""


def doc_example() -> str:
    """The python block of docs/usage-collector.md's "Tested with openwisp-utils" section."""
    section = DOC.read_text(encoding="utf-8").split("## Tested with openwisp-utils\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section shows one settings example"
    return blocks[0]


@pytest.fixture(scope="session")
def openwisp_python() -> Path:
    """The python of the openwisp-utils venv (built, or found up to date, by the script)."""
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT)],
            env={**os.environ, "PYTHON": sys.executable},
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{SCRIPT.name} did not finish in {exc.timeout} s: {exc.stderr}")
    if done.returncode != 0:
        pytest.fail(
            f"the openwisp-utils venv could not be built ({SCRIPT.name} exit {done.returncode}):\n{done.stderr}"
        )
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def collector():
    """A live Fleetwatch (gunicorn, SQLite files) that is a usage collector."""
    server = Server(port=free_port(PORTS), workers=1, threads=2, log="gunicorn.log")
    for name in ("FLEETWATCH_TIMESERIES", "FLEETWATCH_DATABASE"):
        server.env.pop(name, None)
    server.env["FLEETWATCH_USAGE_COLLECTOR"] = "true"
    # The collector reports nothing about itself: what it stores is OpenWISP's alone.
    server.env["FLEETWATCH_USAGE_METRICS"] = "false"
    server.start()
    yield server
    server.stop()


class Deployment:
    """The OpenWISP-like Django project in ``directory``, run by the openwisp-utils venv, its
    settings ending with the docs' example pointed at ``collector`` (``http://host:port``)."""

    def __init__(self, directory: Path, python: Path, collector: str):
        self.directory, self.python = directory, python
        package = directory / "openwisp2"
        package.mkdir()
        example = doc_example().replace(DOC_COLLECTOR, collector)
        (package / "settings.py").write_text(SETTINGS + example)
        (package / "celery.py").write_text(CELERY)
        self.release(RELEASES[0])

    def release(self, version: str) -> None:
        """Install OpenWISP ``version`` (the project's declared release)."""
        text = PACKAGE.format(release=version, method=METHOD)
        (self.directory / "openwisp2" / "__init__.py").write_text(text)

    def run(self, step: str) -> dict:
        """One step of tests/usage/openwisp_client.py; what it printed."""
        env = {
            "PATH": os.environ["PATH"],
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(self.directory),
            "PYTHONDONTWRITEBYTECODE": "1",
            "DJANGO_SETTINGS_MODULE": "openwisp2.settings",
        }
        try:
            done = subprocess.run(
                [str(self.python), str(DRIVER), step],
                cwd=self.directory,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,  # openwisp-utils retries a 5xx for minutes: fail before
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"step {step} did not finish in {exc.timeout} s:\n{exc.stderr}")
        assert done.returncode == 0, f"step {step} failed:\n{done.stderr}"
        return json.loads(done.stdout.strip().splitlines()[-1])


def sent(step: dict) -> list[dict]:
    """The events openwisp-utils sends at ``step``, as the collector keeps them: one per
    collected key, then the installation method."""
    items = [*step["collected"].items(), (payload.INSTALLATION_METHOD, step["installation_method"])]
    return [{"action": action, "name": name, "value": 1, "times": 1} for action, name in items]


def sending(step: dict) -> list[str]:
    """What openwisp-utils logged at ``step`` when it began a send, and its errors (a failed post
    is only logged: "Collection of usage metrics failed, ...")."""
    began = ("Sending metrics, ", "Consent withdrawn, ")
    return [f"{level} {text}" for level, text in step["log"] if level == "ERROR" or text.startswith(began)]


def test_openwisp_utils_sends_its_four_events_and_the_collector_stores_and_counts_them(
    tmp_path, openwisp_python, collector
):
    first_day = datetime.now(UTC).date()
    deployment = Deployment(tmp_path, openwisp_python, collector.url)

    install = deployment.run("migrate")
    assert install["collector_url"] == f"{collector.url}/api/v1/usage/collect/"
    assert install["collected"]["OpenWISP Version"] == RELEASES[0]
    assert install["installation_method"] == METHOD
    assert sending(install) == ["INFO Sending metrics, category=Install"]
    heartbeat = deployment.run("heartbeat")
    assert sending(heartbeat) == ["INFO Sending metrics, category=Heartbeat"]
    deployment.release(RELEASES[1])
    upgrade = deployment.run("migrate")
    assert upgrade["collected"]["OpenWISP Version"] == RELEASES[1]
    assert sending(upgrade) == ["INFO Sending metrics, category=Upgrade"]
    assert [len(step["stored"]) for step in (install, heartbeat, upgrade)] == [1, 1, 2]
    withdraw = deployment.run("withdraw")
    assert withdraw["consented"] is False
    assert sending(withdraw) == ["INFO Consent withdrawn, sending final metric event"]
    # After the opt-out, the daily task sends nothing.
    after = deployment.run("heartbeat")
    assert (after["consented"], sending(after)) == (False, [])
    last_day = datetime.now(UTC).date()

    stored = json.loads(collector.manage("shell", "-c", READ_COLLECTOR).strip().splitlines()[-1])
    reports = stored["reports"]
    assert [r["category"] for r in reports] == ["Install", "Heartbeat", "Upgrade", "Consent Withdrawn"]
    opt_out = [{"action": payload.OPT_OUT_ACTION, "name": payload.OPT_OUT_NAME, "value": 1, "times": 1}]
    assert [r["events"] for r in reports] == [sent(install), sent(heartbeat), sent(upgrade), opt_out]
    for report in reports:
        assert first_day.isoformat() <= report["day"] <= last_day.isoformat()
        assert (report["instance"], report["site"], report["backend"]) == ("", 5, "")  # idsite 5: OpenWISP's
    os_details = install["collected"]
    snapshots = [
        {k: r[k] for k in ("product", "version", "install_method", "os", "kernel", "platform")}
        for r in reports
    ]
    expected = [
        {
            "product": "OpenWISP",
            "version": step["collected"]["OpenWISP Version"],
            "install_method": METHOD,
            "os": os_details["os_version"],
            "kernel": os_details["kernel_version"],
            "platform": os_details["hardware_platform"],
        }
        for step in (install, heartbeat, upgrade)
    ]
    expected.append(dict.fromkeys(expected[0], ""))  # {"Action": "Opt-out"} names no product
    assert snapshots == expected

    # One anonymous report per day and category: the tallies the charts read.
    assert sorted(stored["tallies"], key=lambda t: t["category"]) == sorted(
        (
            {
                "day": r["day"],
                "category": r["category"],
                "anonymous": True,
                "product": r["product"],
                "version": r["version"],
                "install_method": r["install_method"],
                "os": r["os"],
                "backend": "",
                "count": 1,
            }
            for r in reports
        ),
        key=lambda t: t["category"],
    )
    assert (stored["instances"], stored["active_periods"]) == (0, 0)  # OpenWISP sends no instance id

    # The charts: the answers API over the days of the run, per week.
    token = collector.manage("shell", "-c", ADMIN_TOKEN).strip().splitlines()[-1]

    def answer(name: str) -> list[dict]:
        query = f"period=week&since={first_day.isoformat()}&until={last_day.isoformat()}"
        request = Request(
            f"{collector.url}/api/v1/usage/{name}/?{query}", headers={"Authorization": f"Token {token}"}
        )
        with urlopen(request, timeout=30) as response:
            assert response.status == 200
            return json.load(response)["periods"]

    weeks = answer("installs")
    assert (sum(w["installs"] for w in weeks), sum(w["upgrades"] for w in weeks)) == (1, 1)
    weeks = answer("active")
    # Without an instance id, no deployment is counted exactly: one anonymous Heartbeat is.
    assert (sum(w["instances"] for w in weeks), sum(w["anonymous_heartbeats"] for w in weeks)) == (0, 1)
    [week] = [w for w in answer("adoption") if w["total"]]
    assert (week["basis"], week["estimate"], week["counts"]) == (
        "heartbeats",
        True,
        {heartbeat["collected"]["OpenWISP Version"]: 1},
    )
