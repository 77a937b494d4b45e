"""The OpenWISP adapter without OpenWISP: InfluxQL templates of the kind OpenWISP's charts use,
parsed and answered by a Fleetwatch backend (SQLite here; tests/openwisp runs OpenWISP's own
suite on every backend)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from fleetwatch.openwisp import influxql
from fleetwatch.openwisp.client import ClientError, DatabaseClient

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def client(settings, tmp_path):
    settings.TIMESERIES_DATABASE = {
        "BACKEND": "fleetwatch.openwisp", "NAME": "openwisp2", "HOST": "", "PORT": "", "USER": "", "PASSWORD": "",
        "OPTIONS": {"url": f"sqlite:///{tmp_path}/ts.db"},
    }  # fmt: skip
    c = DatabaseClient()
    c.create_database()
    yield c
    c.drop_database()


def test_the_template_subset_parses():
    select = influxql.parse(
        "SELECT SUM(tx_bytes) / 1000000000 AS upload, ROUND(MEAN(signal)) AS s, COUNT(DISTINCT(clients)) "
        "FROM autogen.traffic WHERE time >= '2026-11-20 00:00:00' AND time <= '2026-11-21 00:00:00' "
        "AND content_type = 'config.device' AND (ifname = 'wan' OR ifname = 'eth1') "
        "GROUP BY time(1h), ifname fill(null) LIMIT 1 tz('Europe/Rome')"
    )
    assert [(i.call.fn, i.call.field, i.call.ops, i.call.round, i.alias) for i in select.items] == [
        ("SUM", "tx_bytes", [("/", 1e9)], False, "upload"),
        ("MEAN", "signal", [], True, "s"),
        ("COUNT_DISTINCT", "clients", [], False, "count"),
    ]
    assert (select.retention, select.measurements, select.group_time, select.group_tag) == (
        "autogen",
        ["traffic"],
        "1h",
        "ifname",
    )
    assert (select.limit, select.timezone) == (1, "Europe/Rome")
    assert [c.value for c in select.alternatives[0]] == ["wan", "eth1"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT MEAN(x FROM m", r"found FROM, expected \) at line 1, char 15"),
        ("SELECT x FROM m WHERE a = 'b' OR c = 'd'", "OR is only supported inside parentheses"),
        ("SELECT x FROM m GROUP BY time(1h, 5m)", r"time\(\) offsets are not supported"),
        ("BAD QUERY", "found BAD, expected SELECT at line 1, char 1"),
    ],
)
def test_what_is_not_supported_is_refused_with_where(query, message):
    with pytest.raises(influxql.InfluxQLError, match=message):
        influxql.parse(query)


def test_writes_reads_and_a_chart_the_way_openwisp_calls_them(client):
    for hours, value in ((50, 3), (26, 6), (2, 9)):
        client.write(
            "test_metric",
            {"value": value},
            tags={"content_type": "x", "object_id": "1"},
            timestamp=NOW - timedelta(hours=hours),
        )
    rows = client.read("test_metric", "value", {"object_id": "1"}, order="-time")
    assert [r["value"] for r in rows] == [9, 6, 3]
    assert isinstance(rows[0]["time"], int)
    assert (
        client.read(
            "test_metric", "value", {"object_id": "1"}, count_fields=["value"], distinct_fields=["value"]
        )[0]["count"]
        == 3
    )
    start = (NOW - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")

    def chart_query(fields: str, **kwargs) -> str:
        return client.get_query(
            chart_type="line",
            params={
                "field_name": "value",
                "key": "test_metric",
                "time": start,
                "end_date": None,
                "object_id": "1",
            },
            time="3d",
            group_map={"3d": "1d"},
            query=f"SELECT {fields} FROM {{key}} WHERE time >= '{{time}}' {{end_date}} AND object_id = '{{object_id}}' GROUP BY time(1d)",
            timezone="UTC",
            **kwargs,
        )

    query = chart_query("{fields|MEAN}")
    assert query.startswith('SELECT MEAN("value") AS value FROM test_metric')
    assert query.endswith("GROUP BY time(1d) tz('UTC')")
    points = [p["value"] for p in client.query(query).get_points() if p["value"] is not None]
    assert sorted(points) == [3.0, 6.0, 9.0]
    summary = chart_query("{fields|SUM|/ 1}", summary=True)
    assert next(iter(client.query(summary).get_points()))["value"] == 18


def test_validation_and_errors(client):
    with pytest.raises(ValidationError, match="DROP"):
        client.validate_query("SELECT * FROM x; DROP MEASUREMENT x")
    assert (
        client.validate_query("SELECT MEAN(v) FROM created_at_metric") is True
    )  # "created" is a word of its own
    with pytest.raises(ClientError, match="error parsing query"):
        client.query("SELECT FROM nothing")


def test_retention_policies(client):
    client.create_or_alter_retention_policy("short", "24h0m0s")
    client.create_or_alter_retention_policy("autogen", "26280h0m0s")
    policies = {p["name"]: p for p in client.get_list_retention_policies()}
    assert policies["short"]["duration"] == "24h0m0s"
    assert policies["autogen"]["duration"] == "26280h0m0s"
    assert policies["autogen"]["default"] is True
