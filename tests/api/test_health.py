"""GET /api/v1/health/: public, names the backend, says whether it answers."""

import pytest
from django.test import override_settings

from fleetwatch.core.timeseries import reset_backend


@pytest.fixture(autouse=True)
def fresh_backend():
    reset_backend()
    yield
    reset_backend()


@override_settings(TIMESERIES_DATABASE="sqlite://")
def test_it_answers_200_with_the_backend_name(client):
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "timeseries": {"backend": "sqlite", "reachable": True}}


@override_settings(TIMESERIES_DATABASE="postgresql://nobody:secret@127.0.0.1:9/none?connect_timeout=2")
def test_it_answers_503_without_details_when_the_store_is_unreachable(client):
    response = client.get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "timeseries": {"backend": "postgresql", "reachable": False},
    }
    assert response["Retry-After"] == "30"
    assert b"secret" not in response.content


def test_it_needs_no_credentials_but_allows_only_get(client):
    assert client.post("/api/v1/health/").status_code == 405
