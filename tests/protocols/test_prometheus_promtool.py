"""``promtool check metrics`` (Prometheus' own linter, from scripts/services/promtool.sh) finds
nothing to say about a full scrape: every kind of family the endpoint writes is in it."""

import subprocess
from pathlib import Path

import pytest

from fleetwatch.protocols.models import AccessToken

pytestmark = pytest.mark.django_db

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services" / "promtool.sh"


@pytest.fixture(scope="session")
def promtool() -> str:
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"scripts/services/promtool.sh failed:\n{result.stderr[-2000:]}", pytrace=False)
    return result.stdout.strip().splitlines()[-1]


def check(promtool: str, text: str) -> tuple[int, str]:
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout + done.stderr


def test_promtool_finds_nothing_to_lint_in_a_full_scrape(promtool, everything, client, orgs):
    token = AccessToken.issue(orgs[0], "promtool", can_write=False, can_read=True)[1]
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "fleetwatch_http_request_duration_seconds_bucket{" in text  # a histogram is in it
    assert "fleetwatch_device_interface_receive_bytes_total{" in text  # and a counter
    assert check(promtool, text) == (0, "")


def test_promtool_does_lint(promtool):
    # The check can fail: a counter without the _total suffix is reported.
    assert check(promtool, "# HELP x_bytes Bytes.\n# TYPE x_bytes counter\nx_bytes 1\n") == (
        3,
        'x_bytes counter metrics should have "_total" suffix\n',
    )
