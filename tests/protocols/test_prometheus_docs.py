"""docs/prometheus.md's examples as written: the curl line against a live server, the scrape
configuration as Prometheus would use it (its Accept header included), and the Grafana
provisioning."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from fleetwatch.inventory.models import Device, Organization
from fleetwatch.protocols.models import AccessToken
from tests.protocols.test_prometheus_dashboards import DASHBOARDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "prometheus.md"
# What Prometheus 3 sends (scrape_protocols' default order): OpenMetrics first.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_curl_example(live_server, transactional_db):
    org = Organization.objects.create(name="Acme", slug="acme")
    Device.objects.create(organization=org, name="ap-1")
    token = AccessToken.issue(org, "prometheus", can_write=False, can_read=True)[1]
    [example] = blocks("sh")
    env = {"PATH": os.environ["PATH"], "FLEETWATCH": live_server.url, "TOKEN": token}
    done = subprocess.run(["bash", "-ec", example], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        'fleetwatch_device_health{device="ap-1",organization="acme"} 3.0\n',
        "",
    )


@pytest.mark.django_db
def test_the_scrape_configuration(client, orgs, device_a):
    [scrape, _grafana] = [yaml.safe_load(block) for block in blocks("yaml")]
    [job] = scrape["scrape_configs"]
    assert job["authorization"]["credentials"].startswith("fwi_")
    token = AccessToken.issue(orgs[0], "prometheus", can_write=False, can_read=True)[1]
    response = client.get(
        job["metrics_path"],
        HTTP_AUTHORIZATION=f"{job['authorization']['type']} {token}",
        HTTP_ACCEPT=PROMETHEUS_ACCEPT,
    )
    assert response.status_code == 200
    assert (
        response["Content-Type"]
        == "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
    )
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    [health] = families["fleetwatch_device_health"].samples
    assert (health.labels, health.value) == ({"organization": "org-a", "device": "ap-lobby"}, 3.0)


def test_the_grafana_provisioning():
    [_scrape, grafana] = [yaml.safe_load(block) for block in blocks("yaml")]
    [source] = grafana["datasources"]
    assert (source["type"], source["access"], source["jsonData"]["timeInterval"]) == (
        "prometheus",
        "proxy",
        "60s",
    )
    [provider] = grafana["providers"]
    assert provider["type"] == "file"
    # The dashboards ask for a data source of that type.
    for path in DASHBOARDS.glob("*.json"):
        variables = {v["name"]: v for v in yaml.safe_load(path.read_text())["templating"]["list"]}
        assert variables["datasource"]["query"] == source["type"]
