"""``/query``: InfluxQL out, on every backend the run covers (real servers, as the conformance suite).

The data are agent reports through the agent API (the ingestion path every device uses); the
requests are those Grafana's InfluxDB (InfluxQL) data source sends (docs/grafana.md records them:
GET with ``db``, ``q``, ``epoch=ms`` and Basic auth; POST with the statement in a form body), and
the official ``influxdb`` (v1) Python client's, against a live server.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.inventory.models import Device
from fleetwatch.protocols.models import AccessToken
from tests.ingest.payloads import example_report
from tests.monitoring.test_every_backend import settings_for
from tests.timeseries.conftest import requested_backends

pytestmark = pytest.mark.django_db

# Yesterday 10:00–10:55 UTC, twelve reports five minutes apart (fixed buckets whatever the hour).
DAY = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
START_MS = int(DAY.timestamp() * 1000)
END_MS = int((DAY + timedelta(hours=2)).timestamp() * 1000)
TIME_FILTER = f"time >= {START_MS}ms and time <= {END_MS}ms"
CHART_RANGE = {
    "start": DAY.strftime("%Y-%m-%d %H:%M:%S"),
    "end": (DAY + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S"),
    "precision": "exact",
}


@pytest.fixture(params=requested_backends())
def store(request, settings, tmp_path):
    """The project's backend on each backend the run covers (as tests/conftest.py's ``store``), in
    a schema of its own: other suites flush the shared one while they run."""
    from fleetwatch.core.timeseries import get_backend, reset_backend

    chosen = settings_for(request.param, tmp_path)
    if isinstance(chosen, str):
        chosen = chosen.replace("schema=fleetwatch_test_e2e", "schema=fleetwatch_test_influxql")
    settings.TIMESERIES_DATABASE = chosen
    reset_backend()
    backend = get_backend()
    backend.flush()
    yield backend
    backend.flush()
    reset_backend()


def report(client, device, step: int, free: int) -> None:
    body = example_report()
    body["resources"]["memory"]["available"] = free
    body["resources"]["memory"]["free"] = free
    body["resources"]["load"][0] = round(0.1 * (step % 4), 2)
    moment = (DAY + timedelta(minutes=5 * step)).strftime("%d-%m-%Y_%H:%M:%S.%f")
    response = client.post(
        f"/api/v1/monitoring/device/{device.pk}/?key={device.key}&time={moment}",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


@pytest.fixture
def fleet(store, client, orgs, device_a):
    """Org A: ap-lobby and ap-hall report twelve times; org B: ap-b reports with other values.
    Yields ``(read token of A, read token of B)``."""
    hall = Device.objects.create(organization=orgs[0], name="ap-hall", mac_address="44:d1:fa:4b:38:45")
    outsider = Device.objects.create(organization=orgs[1], name="ap-b", mac_address="44:d1:fa:4b:38:46")
    for step in range(12):
        report(client, device_a, step, 100_000_000 + step * 1_000_000)
        report(client, hall, step, 200_000_000)
        report(client, outsider, step, 10_000_000)
    _row, token_a = AccessToken.issue(orgs[0], "grafana", can_write=False, can_read=True)
    _row, token_b = AccessToken.issue(orgs[1], "grafana", can_write=False, can_read=True)
    return token_a, token_b


def basic(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"grafana:{token}".encode()).decode()}


def grafana_get(client, token, q, **params):
    """As Grafana's data source (HTTP method GET) sends a query."""
    return client.get("/query", {"db": "fleetwatch", "q": q, "epoch": "ms", **params}, **basic(token))


def grafana_post(client, token, q):
    """As Grafana's data source (HTTP method POST, its default) sends a query: parameters in the
    URL, the statement in the form body."""
    return client.post("/query?db=fleetwatch&epoch=ms", {"q": q}, **basic(token))


def test_show_statements_grafana_sends(client, fleet):
    token_a, token_b = fleet
    # The data source's "Save & test", then its query editor's and template variables' lookups.
    answer = grafana_get(client, token_a, "SHOW MEASUREMENTS LIMIT 1")
    assert answer.status_code == 200
    assert answer.json() == {
        "results": [
            {
                "statement_id": 0,
                "series": [{"name": "measurements", "columns": ["name"], "values": [["cpu"]]}],
            }
        ]
    }
    names = grafana_get(client, token_a, "SHOW MEASUREMENTS").json()["results"][0]["series"][0]["values"]
    assert [n for (n,) in names] == sorted(n for (n,) in names)
    assert names == [["cpu"], ["disk"], ["memory"], ["signal"], ["traffic"], ["wifi_clients"]]
    matched = grafana_get(client, token_a, "SHOW MEASUREMENTS WITH MEASUREMENT =~ /mem/ LIMIT 100").json()
    assert matched["results"][0]["series"][0]["values"] == [["memory"]]

    keys = grafana_post(client, token_a, 'SHOW TAG KEYS FROM "memory"').json()
    assert keys == {
        "results": [
            {"statement_id": 0, "series": [{"name": "memory", "columns": ["tagKey"], "values": [["host"]]}]}
        ]
    }
    hosts = grafana_get(client, token_a, 'SHOW TAG VALUES FROM "memory" WITH KEY = "host"').json()
    assert hosts["results"][0]["series"] == [
        {"name": "memory", "columns": ["key", "value"], "values": [["host", "ap-hall"], ["host", "ap-lobby"]]}
    ]
    # Organization B sees its own device only, and none of A's.
    hosts_b = grafana_get(client, token_b, 'SHOW TAG VALUES WITH KEY = "host"').json()["results"][0]["series"]
    assert {tuple(v) for s in hosts_b for v in s["values"]} == {("host", "ap-b")}

    fields = grafana_get(client, token_a, 'SHOW FIELD KEYS FROM "memory"').json()["results"][0]["series"]
    assert fields[0]["name"] == "memory"
    assert fields[0]["columns"] == ["fieldKey", "fieldType"]
    assert ["percent_used", "float"] in fields[0]["values"]

    policies = grafana_get(client, token_a, 'SHOW RETENTION POLICIES on "fleetwatch"').json()
    series = policies["results"][0]["series"][0]
    assert series["columns"] == ["name", "duration", "shardGroupDuration", "replicaN", "default"]
    assert series["values"][0][0] == "autogen"
    assert series["values"][0][4] is True


def memory_chart(client, device, login):
    client.force_login(login)
    answer = client.get(f"/api/v1/monitoring/device/{device.pk}/", CHART_RANGE)
    client.logout()
    assert answer.status_code == 200
    body = answer.json()
    chart = next(c for c in body["charts"] if c["title"] == "Memory Usage")
    return body["x"], dict(chart["traces"])["memory_usage"]


def test_a_grafana_query_answers_the_chart_apis_values(client, fleet, device_a, bob):
    token_a, _token_b = fleet
    x, chart_values = memory_chart(client, device_a, bob)
    # Grafana's default query of its editor, with the panel's $timeFilter and $__interval (the
    # chart's interval over two hours: 10m) substituted, as the data source sends it.
    q = (
        'SELECT mean("percent_used") FROM "memory" WHERE ("host" =~ /^ap\\-lobby$/) AND '
        f"{TIME_FILTER} GROUP BY time(10m) fill(null)"
    )
    for answer in (grafana_get(client, token_a, q), grafana_post(client, token_a, q)):
        assert answer.status_code == 200
        series = answer.json()["results"][0]["series"]
        assert len(series) == 1
        assert series[0]["name"] == "memory"
        assert series[0]["columns"] == ["time", "mean"]
        times = [t for t, _v in series[0]["values"]]
        values = [v for _t, v in series[0]["values"]]
        assert [datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d %H:%M") for t in times] == x
        assert values == chart_values
        assert len(values) == 13
        assert None not in values[:6]  # the reports' hour, 10:00-10:50
        assert values[6:] == [None] * 7


def test_group_by_host_fill_and_organization_scoping(client, fleet):
    token_a, token_b = fleet
    q = f'SELECT max("percent_used") FROM "memory" WHERE {TIME_FILTER} GROUP BY time(30m), "host" fill(none)'
    series = grafana_get(client, token_a, q).json()["results"][0]["series"]
    assert [s["tags"] for s in series] == [{"host": "ap-hall"}, {"host": "ap-lobby"}]
    assert all(len(s["values"]) == 2 for s in series)  # 10:00 and 10:30; fill(none) drops the rest
    outsider = grafana_get(client, token_b, q).json()["results"][0]["series"]
    assert [s["tags"] for s in outsider] == [{"host": "ap-b"}]
    # B's memory is 96% used, A's at most 59.9%: nothing of B is in A's answer, nor the reverse.
    assert outsider[0]["values"][0][1] > 90
    assert max(v for s in series for _t, v in s["values"]) < 60
    # A's device named from B's token: no series; internal tags are not addressable.
    assert grafana_get(client, token_b, """SELECT * FROM "memory" WHERE "host" = 'ap-lobby'""").json() == {
        "results": [{"statement_id": 0}]
    }
    leak = grafana_get(
        client, token_b, f'SELECT * FROM "memory" WHERE "organization_id" = \'{fleet_org_a()}\''
    )
    assert leak.json() == {
        "results": [{"statement_id": 0, "error": 'unknown tag "organization_id": filter by "host"'}]
    }
    zero = grafana_get(
        client,
        token_a,
        f"""SELECT count("percent_used") FROM "memory" WHERE "host" = 'ap-lobby' AND {TIME_FILTER} GROUP BY time(1h) fill(0)""",
    ).json()
    assert [v for _t, v in zero["results"][0]["series"][0]["values"]] == [12, 0, 0]


def fleet_org_a() -> str:
    from fleetwatch.inventory.models import Organization

    return str(Organization.objects.get(slug="org-a").pk)


def test_raw_select_shows_host_not_internal_tags(client, fleet):
    token_a, _token_b = fleet
    q = f"""SELECT "percent_used", "host" FROM "memory" WHERE "host" = 'ap-hall' AND {TIME_FILTER} LIMIT 2"""
    series = grafana_get(client, token_a, q).json()["results"][0]["series"]
    assert series[0]["columns"] == ["time", "percent_used", "host"]
    assert [row[0] for row in series[0]["values"]] == [START_MS, START_MS + 300_000]
    assert [row[2] for row in series[0]["values"]] == ["ap-hall", "ap-hall"]
    star = grafana_get(client, token_a, f'SELECT * FROM "memory" WHERE {TIME_FILTER} LIMIT 1').json()
    columns = star["results"][0]["series"][0]["columns"]
    assert "host" in columns
    assert not {"content_type", "object_id", "organization_id", "location_id"} & set(columns)


def test_errors_in_influxdbs_shapes_and_nothing_changes(client, fleet, store):
    token_a, _token_b = fleet
    before = store.count_points()
    for statement, message in (
        (
            'DROP MEASUREMENT "memory"',
            "error parsing query: DROP statements are not supported: /query is read-only",
        ),
        (
            'DELETE FROM "memory"',
            "error parsing query: DELETE statements are not supported: /query is read-only",
        ),
        (
            "CREATE DATABASE x",
            "error parsing query: CREATE statements are not supported: /query is read-only",
        ),
        (
            "ALTER RETENTION POLICY autogen ON x DURATION 1h",
            "error parsing query: ALTER statements are not supported: /query is read-only",
        ),
        ("GRANT ALL TO bob", "error parsing query: GRANT statements are not supported: /query is read-only"),
        (
            'SELECT mean("percent_used") INTO "copy" FROM "memory"',
            "error parsing query: found INTO, SELECT … INTO is not supported (queries are read-only) at line 1, char 29",
        ),
        (
            'SELECT mean("m") FROM (SELECT "percent_used" AS m FROM "memory")',
            "error parsing query: found (, subqueries are not supported at line 1, char 23",
        ),
        (
            'SHOW MEASUREMENTS; DROP DATABASE "fleetwatch"',
            "error parsing query: DROP statements are not supported: /query is read-only",
        ),
    ):
        answer = grafana_get(client, token_a, statement)
        assert answer.status_code == 400, statement
        assert answer.json() == {"error": message}
    assert store.count_points() == before
    assert client.get("/query", {"db": "fleetwatch"}, **basic(token_a)).json() == {
        "error": 'missing required parameter "q"'
    }
    assert grafana_get(client, token_a, "SHOW MEASUREMENTS", epoch="fortnight").status_code == 400
    too_many = grafana_get(
        client,
        token_a,
        'SELECT mean("percent_used") FROM "memory" WHERE time >= 1700000000000ms AND time <= 1731536000000ms GROUP BY time(1s)',
    )
    assert too_many.json() == {
        "results": [
            {
                "statement_id": 0,
                "error": "GROUP BY time(1s) makes 31536000 buckets over the range, more than 50000: "
                "narrow the time range or widen the interval",
            }
        ]
    }
    # Statement errors: in place, the other statements still answer.
    two = grafana_get(
        client,
        token_a,
        'SELECT mean("percent_used") FROM "memory" GROUP BY time(1m) fill(linear); SHOW DATABASES',
    ).json()
    assert two == {
        "results": [
            {
                "statement_id": 0,
                "error": "fill(linear) is not supported; use fill(null), fill(none), fill(previous) or fill(<n>)",
            },
            {
                "statement_id": 1,
                "series": [{"name": "databases", "columns": ["name"], "values": [["fleetwatch"]]}],
            },
        ]
    }


def test_authentication_and_scope(client, fleet, orgs):
    _writer, write_only = AccessToken.issue(orgs[0], "telegraf")
    assert client.get("/query", {"q": "SHOW MEASUREMENTS"}).status_code == 401
    assert client.get("/query", {"q": "SHOW MEASUREMENTS"}).json() == {"error": "missing token"}
    assert client.get("/query", {"q": "SHOW MEASUREMENTS", "p": "fwi_nope"}).json() == {
        "error": "invalid token"
    }
    refused = client.get("/query", {"q": "SHOW MEASUREMENTS"}, **basic(write_only))
    assert (refused.status_code, refused.json()) == (403, {"error": "token may not read"})
    assert client.put("/query", **basic(fleet[0])).status_code == 405
    # u/p in the query string, as InfluxDB 1.x clients may send them.
    assert client.get("/query", {"q": "SHOW DATABASES", "u": "grafana", "p": fleet[0]}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_official_influxdb_client(live_server, client, fleet, device_a, bob):
    """``influxdb.InfluxDBClient`` (v1) against a live server: SHOW and SELECT, ResultSet API."""
    from urllib.parse import urlparse

    from influxdb import InfluxDBClient
    from influxdb.exceptions import InfluxDBClientError

    token_a, _token_b = fleet
    url = urlparse(live_server.url)
    influx = InfluxDBClient(url.hostname, url.port, "grafana", token_a, "fleetwatch", timeout=30)
    try:
        assert {"name": "memory"} in influx.get_list_measurements()
        result = influx.query(
            f"""SELECT mean("percent_used") FROM "memory" WHERE "host" = 'ap-lobby' AND {TIME_FILTER} GROUP BY time(10m)""",
            epoch="ms",
        )
        points = list(result.get_points(measurement="memory"))
        _x, chart_values = memory_chart(client, device_a, bob)
        assert [p["mean"] for p in points] == chart_values
        assert points[0]["time"] == START_MS
        by_host = influx.query(
            f'SELECT last("percent_used") FROM "memory" WHERE {TIME_FILTER} GROUP BY "host"'
        )
        assert sorted(tags["host"] for _name, tags in by_host.keys()) == ["ap-hall", "ap-lobby"]
        with pytest.raises(InfluxDBClientError) as refused:
            influx.query('DROP MEASUREMENT "memory"', method="POST")
        assert refused.value.code == 400
        assert "DROP statements are not supported" in refused.value.content
        wrong = InfluxDBClient(url.hostname, url.port, "grafana", "fwi_wrong", "fleetwatch", timeout=30)
        with pytest.raises(InfluxDBClientError) as unauthorized:
            wrong.query("SHOW MEASUREMENTS")
        assert unauthorized.value.code == 401
    finally:
        influx.close()
