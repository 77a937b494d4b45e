"""Every example of docs/metrics.md, run: declared from code and from settings exactly as shown,
fed as shown, and answered by the device chart API exactly as the page's JSON says."""

import json
import re
from pathlib import Path

import pytest
from django.apps import apps

from fleetwatch.metrics.registry import restore, snapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
WINDOW = "start=2026-10-20%2010:00:00&end=2026-10-20%2010:30:00"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture(autouse=True)
def clean_registry():
    state = snapshot()
    yield
    restore(state)


def test_the_page_has_the_examples_this_test_runs():
    python = blocks("python")
    assert len(python) == 3
    assert python[1].startswith("# settings.py\n")
    assert len(blocks("json")) == 2


@pytest.mark.django_db
def test_every_example_runs_and_charts_exactly_as_documented(client, settings, device_a, bob, timeseries):
    code, settings_module, feeding = blocks("python")
    exec(compile(code, str(DOC), "exec"), {})
    # The settings example as the monitoring app reads it at start-up.
    namespace: dict = {}
    exec(compile(settings_module, str(DOC), "exec"), namespace)
    settings.FLEETWATCH_CHARTS = namespace["FLEETWATCH_CHARTS"]
    settings.FLEETWATCH_METRICS = namespace["FLEETWATCH_METRICS"]
    apps.get_app_config("monitoring").ready()
    exec(compile(feeding, str(DOC), "exec"), {})

    client.force_login(bob)
    response = client.get(f"/api/v1/monitoring/device/{device_a.pk}/?{WINDOW}")
    assert response.status_code == 200
    body = response.json()
    assert body["x"] == ["2026-10-20 10:00", "2026-10-20 10:10", "2026-10-20 10:20", "2026-10-20 10:30"]
    charts = {chart["title"]: chart for chart in body["charts"]}
    assert sorted(charts) == ["Air quality: hall", "Temperature"]
    for example in blocks("json"):
        expected = json.loads(example)
        assert charts[expected["title"]] == expected


def test_a_mistake_in_settings_stops_start_up_with_its_name(settings):
    settings.FLEETWATCH_CHARTS = {"air": {"title": "t", "description": "d", "order": 1, "colour": "red"}}
    settings.FLEETWATCH_METRICS = {}
    from fleetwatch.metrics import RegistryError

    with pytest.raises(RegistryError, match="'air' has unknown keys: colour"):
        apps.get_app_config("monitoring").ready()
