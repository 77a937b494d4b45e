"""The Grafana dashboards shipped for the InfluxDB data source (deploy/grafana/influxdb/*.json):
every template variable's query and every panel's query, with the variables substituted as
Grafana substitutes them, answers through ``/query`` without error and with data."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from fleetwatch.backups.models import BackupJob
from fleetwatch.backups.runs import close_run, open_run
from fleetwatch.backups.series import write_run
from tests.protocols.test_query import DAY, END_MS, START_MS, fleet, grafana_get, store  # noqa: F401

pytestmark = pytest.mark.django_db

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "influxdb"


def regex_value(values: list[str]) -> str:
    """A multi-value variable inside /^$var$/ as Grafana formats it: escaped, alternated."""
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}/-])", r"\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(query: str, variables: dict[str, list[str]]) -> str:
    query = query.replace("$timeFilter", f"time >= {START_MS}ms and time <= {END_MS}ms")
    query = query.replace("$__interval", "10m")
    for name, values in variables.items():
        query = query.replace(f"${name}", regex_value(values))
    return query


@pytest.mark.parametrize("name", ["fleet-overview", "device-detail", "backups"])
def test_every_panel_answers(name, client, fleet, orgs):  # noqa: F811
    token_a, _token_b = fleet
    job = BackupJob.objects.create(organization=orgs[0], section="s1", type="dump", datacenter="eqiad")
    opened, _ = open_run(job, start_date=DAY, source="db1")
    closed, _ = close_run(
        opened, "finished", end_date=DAY + timedelta(minutes=30), total_size=10_000, files=()
    )
    assert write_run(closed)  # charted now (the close leaves it to after the commit)
    dashboard = json.loads((DASHBOARDS / f"{name}.json").read_text())
    variables: dict[str, list[str]] = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        answer = grafana_get(client, token_a, substitute(variable["query"], variables)).json()
        series = answer["results"][0]["series"]
        values = sorted({value for s in series for _key, value in s["values"]})
        assert values, variable["name"]
        variables[variable["name"]] = values if variable.get("multi") else values[:1]
    assert len(dashboard["panels"]) >= 3
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            query = substitute(target["query"], variables)
            answer = grafana_get(client, token_a, query)
            assert answer.status_code == 200, query
            result = answer.json()["results"][0]
            assert "error" not in result, (query, result)
            assert result["series"], query
            assert any(v is not None for s in result["series"] for row in s["values"] for v in row[1:]), query


def test_the_docs_examples_answer(client, fleet):  # noqa: F811
    """Every ```influxql block of docs/grafana.md answers with data, without error."""
    text = (DASHBOARDS.parents[2] / "docs" / "grafana.md").read_text()
    examples = re.findall(r"```influxql\n(.*?)\n```", text, re.DOTALL)
    assert len(examples) == 2
    for statement in examples:
        result = grafana_get(client, fleet[0], statement).json()["results"][0]
        assert "error" not in result, (statement, result)
        assert result["series"], statement
