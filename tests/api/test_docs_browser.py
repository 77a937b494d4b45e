"""/api/v1/docs/ (Swagger UI) and /api/v1/redoc/ render in headless Chromium from our own
static files: no request leaves the machine."""

from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
import yaml

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(browser):
    return browser.new_page()


def record_requests(page) -> list[str]:
    """Every URL the page asks for; any outside loopback is aborted (and stays in the list)."""
    seen = []

    def handle(route):
        seen.append(route.request.url)
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", handle)
    return seen


def test_swagger_ui_renders_every_operation_offline(page, live_server):
    seen = record_requests(page)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    assert response.status == 200
    page.wait_for_selector("#operations-monitoring-device_report", timeout=20_000)
    schema = yaml.safe_load(urlopen(f"{live_server.url}/api/v1/schema/").read())
    operations = sum(len(methods) for methods in schema["paths"].values())
    assert operations > 30  # every app's endpoints, not an empty schema
    assert page.locator(".opblock").count() == operations
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Fleetwatch REST API")
    foreign = [url for url in seen if urlsplit(url).hostname not in ("127.0.0.1", "localhost")]
    assert (foreign, errors) == ([], [])
    assert f"{live_server.url}/api/v1/schema/" in seen
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in seen)


def test_redoc_renders_offline(page, live_server):
    seen = record_requests(page)
    response = page.goto(f"{live_server.url}/api/v1/redoc/")
    assert response.status == 200
    page.wait_for_selector('[id="operation/device_report"]', state="attached", timeout=20_000)
    assert "An agent's report (NetJSON DeviceMonitoring)" in page.content()
    foreign = [url for url in seen if urlsplit(url).hostname not in ("127.0.0.1", "localhost")]
    assert foreign == []
    assert any("/static/drf_spectacular_sidecar/redoc/" in url for url in seen)
