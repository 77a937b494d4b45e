"""The official InfluxDB clients write to a live Fleetwatch, on every backend the run covers:
``influxdb-client`` (InfluxDB 2.x's, write API in synchronous mode, gzip on) to /api/v2/write,
``influxdb`` (1.x's) to /write, and curl with a gzip body; what they wrote is read back from the
store point for point, and their refusals are the clients' own errors with InfluxDB's statuses."""

import gzip
import os
import subprocess
from datetime import UTC, datetime

import pytest
from influxdb import InfluxDBClient as V1Client
from influxdb.exceptions import InfluxDBClientError
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from fleetwatch.core.timeseries import get_backend, reset_backend
from fleetwatch.monitoring.models import Metric
from fleetwatch.protocols.models import AccessToken
from fleetwatch.timeseries import ReadQuery
from tests.timeseries.conftest import requested_backends

T0 = 1_764_633_600  # 2025-12-02 00:00:00 UTC


def store_settings(name, tmp_path):
    if name == "sqlite":
        return {"BACKEND": "sqlite", "NAME": str(tmp_path / "ts.db")}
    url = os.environ.get(f"FLEETWATCH_TEST_{name.upper()}_URL")
    if not url:
        pytest.fail(f"FLEETWATCH_TEST_{name.upper()}_URL is not set: run `make test`", pytrace=False)
    return url + ("&" if "?" in url else "?") + "schema=fleetwatch_test_lineprotocol"


@pytest.fixture(params=requested_backends())
def store(request, settings, tmp_path):
    settings.TIMESERIES_DATABASE = store_settings(request.param, tmp_path)
    reset_backend()
    get_backend().flush()
    yield get_backend()
    get_backend().flush()
    reset_backend()


def rows(backend, measurement):
    query = ReadQuery(measurement, since=datetime(2025, 1, 1, tzinfo=UTC), consistent=True)
    return [(row.time, row.tags, row.fields) for row in backend.read(query)]


def at(seconds):
    return datetime.fromtimestamp(seconds, UTC)


def test_the_official_clients_and_curl_write_on_every_backend(live_server, store, orgs, device_a, tmp_path):
    _, token = AccessToken.issue(orgs[0], "telegraf")
    device = {
        "content_type": "inventory.device",
        "object_id": str(device_a.pk),
        "organization_id": str(device_a.organization_id),
    }

    # InfluxDB 2.x's client: Point objects and a raw line, gzip, seconds.
    with InfluxDBClient(url=live_server.url, token=token, org="org-a", enable_gzip=True) as client:
        api = client.write_api(write_options=SYNCHRONOUS)
        api.write(
            "telegraf",
            record=[
                {
                    "measurement": "cpu",
                    "tags": {"host": "ap-lobby", "cpu": "cpu-total"},
                    "fields": {"usage_user": 12.5, "usage_system": 3.25},
                    "time": T0,
                },
                f"mem,host=ap-lobby used_percent=41.5,total=8000000000i {T0}",
            ],
            write_precision=WritePrecision.S,
        )
    # InfluxDB 1.x's client: JSON points turned into line protocol by the client, Basic auth.
    host, port = live_server.url.removeprefix("http://").rsplit(":", 1)
    v1 = V1Client(
        host=host, port=int(port), username="telegraf", password=token, database="telegraf", gzip=True
    )
    assert v1.write_points(
        [
            {
                "measurement": "cpu",
                "tags": {"host": "ap-lobby", "cpu": "cpu-total"},
                "fields": {"usage_user": 14.5, "usage_system": 4.25},
                "time": (T0 + 60) * 1000,
            },
            {
                "measurement": "system",
                "tags": {"host": "ap-lobby"},
                "fields": {"load1": 0.5, "n_users": 2},
                "time": T0 * 1000,
            },
        ],
        time_precision="ms",
    )
    # curl, as a shell script would: a gzip file, the token in the header.
    body = tmp_path / "batch.lp.gz"
    body.write_bytes(
        gzip.compress(f'app,host=ap-lobby,route=/x ok=true,msg="hi, there" {T0}000000000\n'.encode())
    )
    status = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            f"Authorization: Token {token}",
            "-H",
            "Content-Encoding: gzip",
            "-H",
            "Content-Type: text/plain; charset=utf-8",
            "--data-binary",
            f"@{body}",
            f"{live_server.url}/api/v2/write?org=org-a&bucket=telegraf&precision=ns",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert status == "204"

    cpu = {**device, "cpu": "cpu-total"}
    assert rows(store, "cpu") == [
        (at(T0), cpu, {"usage_user": 12.5, "usage_system": 3.25}),
        (at(T0 + 60), cpu, {"usage_user": 14.5, "usage_system": 4.25}),
    ]
    assert rows(store, "mem") == [(at(T0), device, {"used_percent": 41.5, "total": 8_000_000_000})]
    assert rows(store, "system") == [(at(T0), device, {"load1": 0.5, "n_users": 2})]
    assert rows(store, "app") == [(at(T0), {**device, "route": "/x"}, {"ok": True, "msg": "hi, there"})]
    assert sorted(Metric.objects.filter(device=device_a).values_list("configuration", flat=True)) == [
        "lineprotocol_values",  # app: no number to chart
        "telegraf_cpu",
        "telegraf_mem",
        "telegraf_system",
    ]

    # The same again through the v2 client: nothing new (idempotent on series and time).
    with InfluxDBClient(url=live_server.url, token=token, org="org-a") as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            "telegraf",
            record=f"mem,host=ap-lobby used_percent=41.5,total=8000000000i {T0}",
            write_precision="s",
        )
    assert rows(store, "mem") == [(at(T0), device, {"used_percent": 41.5, "total": 8_000_000_000})]


def test_the_clients_see_influxdb_refusals(live_server, store, orgs, device_a):
    _, token = AccessToken.issue(orgs[0], "telegraf")
    _, reader = AccessToken.issue(orgs[0], "grafana", can_write=False, can_read=True)
    with InfluxDBClient(url=live_server.url, token=token, org="org-a") as client:
        api = client.write_api(write_options=SYNCHRONOUS)
        with pytest.raises(ApiException) as caught:
            api.write("telegraf", record="cpu,host=ap-lobby usage_user=1\ncpu,host=ap-lobby usage_user=x")
        assert caught.value.status == 400
        assert caught.value.body == (
            '{"code": "invalid", "message": "unable to parse line protocol: line 2: invalid number '
            "('cpu,host=ap-lobby usage_user=x')\"}"
        )
    with InfluxDBClient(url=live_server.url, token=reader, org="org-a") as client:
        with pytest.raises(ApiException) as caught:
            client.write_api(write_options=SYNCHRONOUS).write(
                "telegraf", record="cpu,host=ap-lobby usage_user=1"
            )
        assert caught.value.status == 403
        assert caught.value.body == '{"code": "forbidden", "message": "token may not write"}'
    host, port = live_server.url.removeprefix("http://").rsplit(":", 1)
    v1 = V1Client(host=host, port=int(port), username="telegraf", password="fwi_wrong", database="telegraf")
    with pytest.raises(InfluxDBClientError) as caught:
        v1.write_points([{"measurement": "cpu", "tags": {"host": "ap-lobby"}, "fields": {"usage_user": 1.0}}])
    assert caught.value.code == 401
    assert caught.value.content == '{"error": "invalid token"}'
    assert rows(store, "cpu") == []
