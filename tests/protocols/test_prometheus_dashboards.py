"""The Grafana dashboards for the Prometheus data source (deploy/grafana/prometheus/*.json) ask
only for metrics GET /metrics exposes: every PromQL expression of every panel and variable is
read, its metric names taken out, and each looked up in a real scrape of a fleet that has every
kind of value (devices, a broker channel, judged metrics, a backup job with a finished run,
served requests, an ingested report, a store error)."""

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "prometheus"
METRIC = re.compile(r"\bfleetwatch_[A-Za-z0-9_:]*")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def expressions(dashboard: dict) -> list[tuple[str, str]]:
    """``[(where, PromQL)]`` of every panel target and query variable."""
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((f"{panel['title']} {target['refId']}", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"${variable['name']}", variable["query"]["query"]))
    return found


def exposed_names(text: str) -> set[str]:
    """The sample names a scrape can carry, from each family's TYPE (present even when empty)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def test_there_are_the_three_dashboards():
    titles = {path.name: json.loads(path.read_text())["title"] for path in DASHBOARDS.glob("*.json")}
    assert titles == {
        "fleet-overview.json": "Fleetwatch / Fleet overview (Prometheus)",
        "device-detail.json": "Fleetwatch / Device detail (Prometheus)",
        "backups.json": "Fleetwatch / Backups (Prometheus)",
    }


def test_every_expression_names_only_exposed_metrics(everything):
    unknown, checked = [], 0
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for where, expr in expressions(dashboard):
            names = METRIC.findall(expr)
            assert names, f"{path.name} {where}: no fleetwatch metric in {expr!r}"
            unknown += [f"{path.name} {where}: {name}" for name in names if name not in everything]
            checked += len(names)
    assert unknown == []
    assert checked == 63


def test_panels_use_the_dashboards_prometheus_data_source():
    for path in DASHBOARDS.glob("*.json"):
        dashboard = json.loads(path.read_text())
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["query"] == "prometheus"
        for panel in dashboard["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids))


def test_the_name_extraction_sees_names_inside_functions_and_selectors():
    expr = 'histogram_quantile(0.95, sum by (le) (rate(fleetwatch_a_bucket{x="fleetwatch_not"}[5m]))) / fleetwatch_b'
    # A label value that looks like a name is taken too: stricter than needed, never looser.
    assert METRIC.findall(expr) == ["fleetwatch_a_bucket", "fleetwatch_not", "fleetwatch_b"]
