"""The OpenAPI 3 schema at /api/v1/schema/: public, valid, and describing what the endpoints
answer (the agent endpoint, the chart API with its CSV variant, the error shape, pages)."""

import json

import jsonschema
import pytest
import yaml
from drf_spectacular.validation import validate_schema

from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    # What `curl http://…/api/v1/schema/` gets: no credentials, YAML.
    response = client.get("/api/v1/schema/")
    assert (response.status_code, response["Content-Type"]) == (
        200,
        "application/vnd.oai.openapi; charset=utf-8",
    )
    return yaml.safe_load(response.content)


def test_the_schema_is_a_valid_openapi_3_document(client, schema):
    validate_schema(schema)  # drf-spectacular's copy of the OpenAPI 3.0 JSON schema
    assert (schema["openapi"], schema["info"]["title"]) == ("3.0.3", "Fleetwatch REST API")
    as_json = client.get("/api/v1/schema/?format=json")
    assert (as_json.status_code, json.loads(as_json.content)) == (200, schema)


def test_every_endpoint_is_described(schema):
    assert sorted(schema["paths"]) == [
        "/api/v1/backups/check/freshness/all",
        "/api/v1/backups/datacenters/all",
        "/api/v1/backups/health_check/liveness",
        "/api/v1/backups/health_check/readiness",
        "/api/v1/backups/jobs/",
        "/api/v1/backups/jobs/{id}/",
        "/api/v1/backups/metrics",
        "/api/v1/backups/recent/all",
        "/api/v1/backups/recent/{section}",
        "/api/v1/backups/runs/",
        "/api/v1/backups/runs/{id}/",
        "/api/v1/backups/runs/{id}/close/",
        "/api/v1/backups/runs/{id}/files/",
        "/api/v1/backups/sections/all",
        "/api/v1/backups/tokens/",
        "/api/v1/backups/tokens/{id}/",
        "/api/v1/backups/types/all",
        "/api/v1/command-batches/",
        "/api/v1/command-batches/{id}/",
        "/api/v1/commands/",
        "/api/v1/commands/{id}/",
        "/api/v1/commands/{id}/cancel/",
        "/api/v1/devices/{id}/agent/",
        "/api/v1/devices/{id}/cmdlog/",
        "/api/v1/devices/{id}/commands/",
        "/api/v1/enroll/",
        "/api/v1/enrollment-tokens/",
        "/api/v1/enrollment-tokens/{id}/",
        "/api/v1/enrollment-tokens/{id}/revoke/",
        "/api/v1/enrollments/",
        "/api/v1/enrollments/{id}/",
        "/api/v1/enrollments/{id}/approve/",
        "/api/v1/enrollments/{id}/reject/",
        "/api/v1/health/",
        "/api/v1/inventory/device-map/",
        "/api/v1/inventory/devices/",
        "/api/v1/inventory/devices/{id}/",
        "/api/v1/inventory/organizations/",
        "/api/v1/inventory/organizations/{id}/",
        "/api/v1/inventory/organizations/{id}/registration-secret/",
        "/api/v1/monitoring/dashboard/",
        "/api/v1/monitoring/device/{id}/",
        "/api/v1/monitoring/device/{id}/status-history/",
        "/api/v1/monitoring/iperf3-servers/",
        "/api/v1/monitoring/iperf3-servers/{id}/",
        "/api/v1/monitoring/ssh-credentials/",
        "/api/v1/monitoring/ssh-credentials/{device}/",
        "/api/v1/notifications/",
        "/api/v1/notifications/maintenance/",
        "/api/v1/notifications/maintenance/{id}/",
        "/api/v1/notifications/preferences/",
        "/api/v1/notifications/read-all/",
        "/api/v1/notifications/unread-count/",
        "/api/v1/notifications/webhooks/",
        "/api/v1/notifications/webhooks/{id}/",
        "/api/v1/notifications/webhooks/{id}/deliveries/",
        "/api/v1/notifications/{id}/",
        "/api/v1/notifications/{id}/read/",
        "/api/v1/usage/active/",
        "/api/v1/usage/adoption/",
        "/api/v1/usage/collect/",
        "/api/v1/usage/installs/",
        "/api/v1/usage/shares/",
        "/api/v1/usage/survival/",
    ]


def test_the_agent_endpoint_is_described_with_its_contract(schema):
    report = schema["paths"]["/api/v1/monitoring/device/{id}/"]["post"]
    assert report["operationId"] == "device_report"
    # The API's contract (docs/api.md), and the HTTP server's own 414 for an over-long URL.
    assert sorted(report["responses"]) == ["200", "400", "403", "404", "414", "503"]
    assert report["responses"]["414"]["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert {p["name"]: p.get("required", False) for p in report["parameters"]} == {
        "id": True,
        "key": True,
        "time": False,
        "features": False,
    }
    body = report["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["type"]
    assert report["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_the_chart_api_and_its_csv_variant_are_described(schema):
    charts = schema["paths"]["/api/v1/monitoring/device/{id}/"]["get"]
    assert sorted(charts["responses"]) == ["200", "400", "401", "403", "404", "414", "503"]
    assert sorted(charts["responses"]["200"]["content"]) == ["application/json", "text/csv"]
    assert charts["responses"]["200"]["content"]["text/csv"]["schema"] == {"type": "string"}
    names = {p["name"] for p in charts["parameters"]}
    assert names == {"id", "key", "time", "start", "end", "timezone", "precision", "status", "csv"}
    precision = next(p for p in charts["parameters"] if p["name"] == "precision")
    assert sorted(precision["schema"]["enum"]) == ["exact", "rounded"]
    time = next(p for p in charts["parameters"] if p["name"] == "time")
    assert sorted(time["schema"]["enum"]) == ["1d", "30d", "365d", "3d", "7d"]
    dashboard = schema["paths"]["/api/v1/monitoring/dashboard/"]["get"]
    assert sorted(dashboard["responses"]) == ["200", "400", "401", "403", "404", "414", "503"]


def test_lists_are_paginated_and_errors_have_one_shape(schema):
    devices = schema["paths"]["/api/v1/inventory/devices/"]
    assert {p["name"] for p in devices["get"]["parameters"]} == {
        "limit",
        "offset",
        "organization",
        "organization_slug",
        "name",
        "is_active",
        "channel",
        "connected",
    }
    assert devices["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedDeviceList"
    }
    assert sorted(devices["post"]["responses"]) == ["201", "400", "401", "403", "409", "503"]
    assert sorted(devices["get"]["responses"]) == ["200", "400", "401", "403", "414", "503"]
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    unavailable = devices["get"]["responses"]["503"]
    assert unavailable["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_the_chart_answer_is_described_key_for_key(schema):
    """The device fields are the peer's (``device_summary``), all of them always there; a chart
    has the keys ``ChartType.as_json`` writes, the optional ones not required; nothing else."""
    charts = schema["paths"]["/api/v1/monitoring/device/{id}/"]["get"]
    answer = charts["responses"]["200"]["content"]["application/json"]["schema"]
    device = [
        "id", "name", "organization", "group", "mac_address", "key", "last_ip", "management_ip",
        "model", "os", "system", "notes", "monitoring", "created", "modified",
    ]  # fmt: skip
    assert (answer["required"], answer["additionalProperties"]) == ([*device, "x", "charts"], False)
    assert list(answer["properties"]) == [*device, "x", "charts", "data"]
    chart = answer["properties"]["charts"]["items"]
    assert chart["required"] == [
        "title", "description", "type", "unit", "summary_labels", "colors", "colorscale", "traces", "summary",
    ]  # fmt: skip
    assert sorted(set(chart["properties"]) - set(chart["required"])) == [
        "calculate_total", "connect_points", "fill", "trace_labels", "trace_order", "trace_type", "x", "xaxis",
        "yaxis",
    ]  # fmt: skip
    assert chart["additionalProperties"] is False


def json_schema(node, components: dict):
    """An OpenAPI 3.0 schema as plain JSON Schema: ``$ref`` inlined, ``nullable`` as null."""
    if isinstance(node, list):
        return [json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    converted = {key: json_schema(value, components) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


@pytest.fixture
def reported(client, device_a, timeseries):
    """device_a after two agent reports on 2026-10-20: every built-in chart of a report has data."""
    for time in ("20-10-2026_10:00:00.000000", "20-10-2026_10:05:00.000000"):
        url = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}&time={time}"
        assert (
            client.post(url, json.dumps(example_report()), content_type="application/json").status_code == 200
        )
    return device_a


@pytest.mark.parametrize("precision", ["rounded", "exact"])
def test_a_real_chart_answer_validates_against_the_schema(client, schema, reported, bob, precision):
    """In process, what the live schemathesis run checks too: a device with data, every built-in
    chart it has, ``status=true`` (``data``) and both precisions; nothing more, nothing less."""
    operation = schema["paths"]["/api/v1/monitoring/device/{id}/"]["get"]
    described = operation["responses"]["200"]["content"]["application/json"]["schema"]
    client.force_login(bob)
    window = "start=2026-10-20%2000:00:00&end=2026-10-20%2023:59:59"
    url = f"/api/v1/monitoring/device/{reported.pk}/?{window}&status=true&precision={precision}"
    body = client.get(url).json()
    assert len(body["charts"]) >= 5, body
    jsonschema.validate(body, json_schema(described, schema["components"]["schemas"]))
    # Not a schema that accepts anything: a key too many, or one missing, is refused.
    for wrong in ({**body, "health_status": "ok"}, {k: v for k, v in body.items() if k != "group"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, json_schema(described, schema["components"]["schemas"]))
