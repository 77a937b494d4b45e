"""The time-series store down: chart APIs answer 503 + Retry-After ("retry later"), the pages
that draw them still load (their charts say why they are empty), never a 500."""

import json

import pytest

from fleetwatch.core.timeseries import get_backend, reset_backend
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db

STORE_DOWN = {"detail": "The time-series store is unavailable; retry later."}


def sqlite_below_a_file(tmp_path):
    (tmp_path / "a-file").write_text("")
    return {"BACKEND": "sqlite", "NAME": str(tmp_path / "a-file" / "ts.db")}  # cannot be created


def postgresql_on_a_closed_port(tmp_path):
    return "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"


@pytest.fixture(params=[sqlite_below_a_file, postgresql_on_a_closed_port])
def store_down(request, client, device_a, timeseries, settings, tmp_path):
    """device_a has reported (so it has charts); then the store becomes unreachable."""
    report = example_report()
    url = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}"
    assert client.post(url, json.dumps(report), content_type="application/json").status_code == 200
    settings.TIMESERIES_DATABASE = request.param(tmp_path)
    reset_backend()
    assert get_backend().health()["reachable"] is False
    yield device_a
    reset_backend()


def assert_store_down(response):
    assert (response.status_code, response.json()) == (503, STORE_DOWN)
    assert response["Retry-After"] == "30"


def test_the_dashboard_api_answers_503(client, alice, store_down):
    client.force_login(alice)
    assert_store_down(client.get("/api/v1/monitoring/dashboard/?time=1d"))


def test_the_device_chart_api_answers_503(client, alice, store_down):
    client.force_login(alice)
    assert_store_down(client.get(f"/api/v1/monitoring/device/{store_down.pk}/?time=1d"))
    assert_store_down(client.get(f"/api/v1/monitoring/device/{store_down.pk}/?time=1d&csv=1"))
    assert_store_down(client.get(f"/api/v1/monitoring/device/{store_down.pk}/?key={store_down.key}"))


def test_the_pages_still_load_and_their_chart_api_says_why(client, alice, store_down):
    """The device page and the dashboard read no time series themselves: they answer 200, and
    the chart script shows the 503's detail in place of the charts."""
    client.force_login(alice)
    device_page = client.get(f"/devices/{store_down.pk}/")
    assert device_page.status_code == 200
    assert f'data-api="/api/v1/monitoring/device/{store_down.pk}/"'.encode() in device_page.content
    dashboard_page = client.get("/dashboard/")
    assert dashboard_page.status_code == 200
    assert b'data-api="/api/v1/monitoring/dashboard/"' in dashboard_page.content
