"""Agent reports and REST bodies follow one set of JSON rules (fleetwatch.ingest.jsonrules):
at the boundary depth both accept, one level deeper both refuse."""

import json

import pytest

from fleetwatch.ingest.jsonrules import MAX_DEPTH, deeper_than
from fleetwatch.ingest.netjson import NetJSONError, decode

pytestmark = pytest.mark.django_db


def nested(levels: int) -> str:
    """A report whose ``general`` value brings the body to ``levels`` levels (the report is 1)."""
    inner = "[" * (levels - 1) + "]" * (levels - 1)
    return '{"type": "DeviceMonitoring", "general": %s}' % inner  # noqa: UP031


def test_the_levels_are_counted_from_the_outermost_container():
    assert MAX_DEPTH == 32
    assert [deeper_than(value, 1) for value in (1, [], {}, [[]], {"a": {}}, [1, 2])] == [
        False, False, False, True, True, False,
    ]  # fmt: skip
    assert json.loads(nested(3)) == {"type": "DeviceMonitoring", "general": [[]]}
    assert (deeper_than(json.loads(nested(32))), deeper_than(json.loads(nested(33)))) == (False, True)


def test_the_agent_decoder_accepts_32_levels_and_refuses_33():
    assert decode(nested(MAX_DEPTH).encode())["general"] == json.loads(nested(MAX_DEPTH))["general"]
    with pytest.raises(NetJSONError) as caught:
        decode(nested(MAX_DEPTH + 1).encode())
    assert caught.value.reason == "nested deeper than 32 levels"
    assert caught.value.path == "#/general" + "/0" * 31  # the container on level 33


def test_the_rest_parser_accepts_32_levels_and_refuses_33(client, alice):
    client.force_login(alice)
    accepted = client.put(
        "/api/v1/notifications/preferences/", nested(MAX_DEPTH), content_type="application/json"
    )
    # Parsed, then the serializer ignores the unknown keys: the preferences as they were.
    assert (accepted.status_code, accepted.json()) == (200, {"web": True, "email": True})
    refused = client.put(
        "/api/v1/notifications/preferences/", nested(MAX_DEPTH + 1), content_type="application/json"
    )
    assert (refused.status_code, refused.json()) == (
        400,
        {"detail": "JSON parse error - nested deeper than 32 levels"},
    )


def test_the_agent_endpoint_agrees_at_the_boundary(client, device_a, timeseries):
    url = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}"
    refused = client.post(url, nested(MAX_DEPTH + 1), content_type="application/json")
    assert (refused.status_code, refused.json()) == (
        400,
        {"detail": f'Invalid data in "#/general{"/0" * 31}", validator says: nested deeper than 32 levels'},
    )
    # 32 levels pass the JSON rules; what is left is the report's own validation.
    accepted = client.post(url, nested(MAX_DEPTH), content_type="application/json")
    assert accepted.status_code == 200
