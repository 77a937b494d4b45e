"""Line protocol in through Django's test client (SQLite): what is stored, the device mapping
and metric rows, and every refusal in each protocol's own error shape."""

import gzip
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetwatch.core.timeseries import get_backend, reset_backend
from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.models import Chart, Metric
from fleetwatch.protocols.models import AccessToken
from fleetwatch.timeseries import ReadQuery

pytestmark = pytest.mark.django_db

T0 = 1_764_633_600  # 2025-12-02 00:00:00 UTC, in seconds
BATCH = (
    f"cpu,cpu=cpu-total,host=ap-lobby usage_user=12.5,usage_system=3.25,usage_iowait=0.5 {T0}000000000\n"
    f"cpu,cpu=cpu-total,host=ap-lobby usage_user=14.5,usage_system=4.25,usage_iowait=1.5 {T0 + 60}000000000\n"
    f'mem,host=ap-lobby used_percent=41.5,total=8000000000i,label="main" {T0}000000000\n'
    f"app_requests,host=ap-lobby,route=/login ok=true,count=7i {T0}000000000\n"
)


@pytest.fixture
def writer(orgs, timeseries):
    """A write token of organization A."""
    return AccessToken.issue(orgs[0], "telegraf")[1]


def v2(client, body, token=None, encoding=None, **params):
    params = {"org": "org-a", "bucket": "telegraf", "precision": "ns", **params}
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    headers = {}
    if token:
        headers["Authorization"] = f"Token {token}"
    if encoding:
        headers["Content-Encoding"] = encoding
    return client.post(
        f"/api/v2/write?{query}", body, content_type="text/plain; charset=utf-8", headers=headers
    )


def v1(client, body, **params):
    query = "&".join(f"{k}={v}" for k, v in {"db": "telegraf", **params}.items() if v is not None)
    return client.post(f"/write?{query}", body, content_type="text/plain")


def stored(measurement="cpu"):
    return [
        (row.time, row.tags, row.fields)
        for row in get_backend().read(ReadQuery(measurement, since=datetime(2000, 1, 1, tzinfo=UTC)))
    ]


def at(seconds):
    return datetime.fromtimestamp(seconds, UTC)


def test_a_batch_is_stored_under_the_device_with_its_types(client, writer, device_a):
    response = v2(client, BATCH, writer)
    assert response.status_code == 204
    assert response.content == b""
    device = {
        "content_type": "inventory.device",
        "object_id": str(device_a.pk),
        "organization_id": str(device_a.organization_id),
    }
    assert stored("cpu") == [
        (
            at(T0),
            {**device, "cpu": "cpu-total"},
            {"usage_user": 12.5, "usage_system": 3.25, "usage_iowait": 0.5},
        ),
        (
            at(T0 + 60),
            {**device, "cpu": "cpu-total"},
            {"usage_user": 14.5, "usage_system": 4.25, "usage_iowait": 1.5},
        ),
    ]
    assert stored("mem") == [
        (at(T0), device, {"used_percent": 41.5, "total": 8_000_000_000, "label": "main"})
    ]
    ((_, _, fields),) = stored("app_requests")
    assert fields == {"ok": True, "count": 7}
    assert type(fields["count"]) is int
    assert sorted(
        Metric.objects.filter(device=device_a).values_list(
            "configuration", "key", "field_name", "main_tags", "name"
        )
    ) == [
        ("lineprotocol", "app_requests", "count", {"route": "/login"}, 'app_requests {"route": "/login"}'),
        ("telegraf_cpu", "cpu", "usage_user", {"cpu": "cpu-total"}, 'cpu {"cpu": "cpu-total"}'),
        ("telegraf_mem", "mem", "used_percent", {}, "mem"),
    ]
    assert sorted(Chart.objects.filter(metric__device=device_a).values_list("configuration", flat=True)) == [
        "lineprotocol",
        "telegraf_cpu",
        "telegraf_mem",
    ]
    device_a.refresh_from_db()
    assert device_a.last_seen is not None


def test_undeclared_measurements_of_one_device_and_tags_each_get_their_metric(client, writer, device_a):
    # Telegraf's kernel and swap both carry only the host tag and share the generic declaration
    body = f"kernel,host=ap-lobby boot_time=1764600000i {T0}\nswap,host=ap-lobby used_percent=2.5 {T0}\n"
    assert v2(client, body, writer, precision="s").status_code == 204
    assert sorted(
        Metric.objects.filter(device=device_a).values_list("configuration", "key", "field_name", "main_tags")
    ) == [("lineprotocol", "kernel", "boot_time", {}), ("lineprotocol", "swap", "used_percent", {})]
    assert Chart.objects.filter(metric__device=device_a).count() == 2


def test_the_same_batch_twice_or_reordered_stores_the_same_points(client, writer, device_a):
    assert v2(client, BATCH, writer).status_code == 204
    first = {m: stored(m) for m in ("cpu", "mem", "app_requests")}
    assert v2(client, BATCH, writer).status_code == 204
    reordered = "\n".join(reversed(BATCH.strip().split("\n")))
    assert v1(client, reordered, p=writer).status_code == 204
    assert {m: stored(m) for m in ("cpu", "mem", "app_requests")} == first
    assert Metric.objects.filter(device=device_a).count() == 3
    assert Chart.objects.filter(metric__device=device_a).count() == 3


def test_the_device_chart_api_draws_the_telegraf_cpu_chart(client, writer, device_a, bob):
    assert v2(client, BATCH, writer).status_code == 204
    client.force_login(bob)
    response = client.get(
        f"/api/v1/monitoring/device/{device_a.pk}/",
        {"start": "2025-12-02 00:00:00", "end": "2025-12-02 00:10:00", "timezone": "UTC"},
    )
    assert response.status_code == 200
    charts = {chart["title"]: chart for chart in response.json()["charts"]}
    cpu = charts["CPU: cpu-total"]
    assert cpu["unit"] == "%"
    assert cpu["summary"] == {"user": 13.5, "system": 3.75, "iowait": 1.0}
    assert charts["Memory"]["summary"] == {"used": 41.5}


def test_precisions_of_both_versions(client, writer, device_a):
    assert v1(client, f"cpu,host=ap-lobby usage_user=1 {T0}", p=writer, precision="s").status_code == 204
    assert (
        v1(client, f"cpu,host=ap-lobby usage_user=2 {T0 // 3600 + 1}", p=writer, precision="h").status_code
        == 204
    )
    assert (
        v2(client, f"cpu,host=ap-lobby usage_user=3 {T0 + 2}000", writer, precision="ms").status_code == 204
    )
    assert [(moment, fields) for moment, _, fields in stored()] == [
        (at(T0), {"usage_user": 1.0}),
        (at(T0 + 2), {"usage_user": 3.0}),
        (at(T0 + 3600), {"usage_user": 2.0}),
    ]
    response = v2(client, "cpu,host=ap-lobby usage_user=1 1", writer, precision="h")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "invalid precision 'h': use one of ns, us, ms, s",
    }
    response = v1(client, "cpu,host=ap-lobby usage_user=1 1", p=writer, precision="d")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid precision 'd': use one of n, ns, u, us, ms, s, m, h"}


def test_a_line_without_a_timestamp_takes_the_time_of_the_request(client, writer, device_a):
    before = datetime.now(UTC)
    assert v2(client, "cpu,host=ap-lobby usage_user=5", writer).status_code == 204
    ((moment, _, _),) = stored()
    assert before.replace(microsecond=0) <= moment <= datetime.now(UTC)


def test_gzip_bodies(client, writer, device_a):
    assert v2(client, gzip.compress(BATCH.encode()), writer, "gzip").status_code == 204
    assert len(stored()) == 2
    response = v2(client, b"not gzip", writer, "gzip")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "invalid gzip body: Error -3 while decompressing data: incorrect header check",
    }
    response = v2(client, gzip.compress(BATCH.encode())[:-10], writer, "gzip")
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": "invalid gzip body: truncated"}
    response = v2(client, BATCH, writer, "br")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "unsupported Content-Encoding 'br': send gzip or identity",
    }


def test_a_body_over_the_limit_is_413_zipped_or_not(client, writer, device_a, settings):
    settings.FLEETWATCH_LINEPROTOCOL_MAX_BODY = 2048
    body = "".join(f"cpu,host=ap-lobby usage_user={i} {T0 + i}000000000\n" for i in range(60))
    assert len(body) > 2048
    message = "request body is larger than 2048 bytes (FLEETWATCH_LINEPROTOCOL_MAX_BODY)"
    response = v2(client, body, writer)
    assert response.status_code == 413
    assert response.json() == {"code": "request too large", "message": message}
    zipped = gzip.compress(body.encode())
    assert len(zipped) < 2048
    response = v2(client, zipped, writer, "gzip")
    assert response.status_code == 413
    response = v1(client, body, p=writer)
    assert response.status_code == 413
    assert response.json() == {"error": message}
    assert stored() == []


def test_a_50_mb_body_is_refused_by_default(client, writer, device_a):
    body = b"cpu,host=ap-lobby usage_user=1\n" * (50_000_000 // 31 + 1)
    response = v2(client, body, writer)
    assert response.status_code == 413
    assert response.json() == {
        "code": "request too large",
        "message": "request body is larger than 25000000 bytes (FLEETWATCH_LINEPROTOCOL_MAX_BODY)",
    }
    assert stored() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            BATCH + "cpu,host=ap-lobby usage_user=\n",
            "unable to parse line protocol: line 5: missing field value ('cpu,host=ap-lobby usage_user=')",
        ),
        (
            "cpu,host=ap-lobby usage_user=1\ncpu usage_user=2\n",
            "unable to parse line protocol: line 2: missing tag 'host' naming the device",
        ),
        (
            "cpu,host=ap-lobby,object_id=x usage_user=1\n",
            "unable to parse line protocol: line 1: tag 'object_id' is reserved (set from the device)",
        ),
        (
            "cpu,host=ap-lobby usage_user=1\ncpu,host=ap-lobby us@r=1\n",  # a series already checked
            "unable to parse line protocol: line 2: invalid field name 'us@r': use letters, digits, '_', '.', '-' "
            "(starting with a letter or '_', at most 200 characters)",
        ),
        (
            b"cpu,host=ap-lobby v=1\ncpu,host=ap-lobby v=\xff\n",
            "unable to parse line protocol: line 2: invalid UTF-8",
        ),
        ("# only a comment\n\n", "writing requires points"),
    ],
)
def test_a_bad_line_is_400_and_nothing_of_the_request_is_written(client, writer, device_a, body, message):
    response = v2(client, body, writer)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": message}
    response = v1(client, body, p=writer)
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert response["X-Influxdb-Error"] == message
    assert stored("cpu") == []
    assert stored("mem") == []
    assert Metric.objects.count() == 0


def test_parameters(client, writer, device_a, orgs):
    response = v2(client, BATCH, writer, bucket=None)
    assert (response.status_code, response.json()) == (
        400,
        {"code": "invalid", "message": "bucket is required"},
    )
    response = v1(client, BATCH, p=writer, db=None)
    assert (response.status_code, response.json()) == (400, {"error": "database is required"})
    response = v2(client, BATCH, writer, org="org-b")
    assert (response.status_code, response.json()) == (
        404,
        {"code": "not found", "message": 'organization "org-b" not found'},
    )
    for org in ("Org A", str(orgs[0].pk), None):
        assert v2(client, BATCH, writer, org=org).status_code == 204
    response = client.get("/api/v2/write?bucket=x")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert stored("cpu") != []


def test_who_may_write(client, orgs, device_a, timeseries):
    _, reader = AccessToken.issue(orgs[0], "grafana", can_write=False, can_read=True)
    revoked, revoked_text = AccessToken.issue(orgs[0], "old")
    revoked.is_active = False
    revoked.save()
    assert v2(client, BATCH).status_code == 401
    assert v2(client, BATCH).json() == {"code": "unauthorized", "message": "missing token"}
    assert v1(client, BATCH).json() == {"error": "missing token"}
    response = v2(client, BATCH, revoked_text)
    assert (response.status_code, response.json()) == (
        401,
        {"code": "unauthorized", "message": "invalid token"},
    )
    response = v2(client, BATCH, reader)
    assert (response.status_code, response.json()) == (
        403,
        {"code": "forbidden", "message": "token may not write"},
    )
    response = v1(client, BATCH, u="grafana", p=reader)
    assert (response.status_code, response.json()) == (403, {"error": "token may not write"})
    assert stored() == []


def test_an_organization_writes_to_its_own_devices_only(client, orgs, device_a, timeseries):
    """Org B's token names A's device: B gets a device of its own of that name, A's is untouched."""
    _, token_b = AccessToken.issue(orgs[1], "telegraf-b")
    assert v2(client, BATCH, token_b, org="org-b").status_code == 204
    device_b = Device.objects.get(organization=orgs[1], name="ap-lobby")
    assert device_b.pk != device_a.pk
    assert {tags["object_id"] for _, tags, _ in stored()} == {str(device_b.pk)}
    assert {tags["organization_id"] for _, tags, _ in stored()} == {str(orgs[1].pk)}
    assert Metric.objects.filter(device=device_a).count() == 0


def test_unknown_hosts_are_created_or_refused(client, writer, orgs, settings):
    body = (
        "cpu,host=web-1 usage_user=1 1764633600000000000\nsystem,host=web-2 load1=0.5 1764633600000000000\n"
    )
    settings.FLEETWATCH_LINEPROTOCOL_UNKNOWN_HOSTS = "refuse"
    response = v2(client, body, writer)
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "unable to parse line protocol: line 1: unknown host 'web-1': the organization has no device "
        "of that name (FLEETWATCH_LINEPROTOCOL_UNKNOWN_HOSTS is refuse)",
    }
    assert Device.objects.count() == 0
    assert stored() == []
    settings.FLEETWATCH_LINEPROTOCOL_UNKNOWN_HOSTS = "create"
    assert v2(client, body, writer).status_code == 204
    assert sorted(Device.objects.filter(organization=orgs[0]).values_list("name", flat=True)) == [
        "web-1",
        "web-2",
    ]
    web1 = Device.objects.get(name="web-1")
    assert [tags["object_id"] for _, tags, _ in stored()] == [str(web1.pk)]
    assert v2(client, body, writer).status_code == 204  # found again, not created twice
    assert Device.objects.count() == 2


def test_a_store_that_is_down_is_503_and_retry_after(client, writer, device_a, settings):
    settings.TIMESERIES_DATABASE = (
        "postgresql://fleetwatch:fleetwatch@127.0.0.1:21187/nothing?connect_timeout=2"
    )
    reset_backend()
    try:
        response = v2(client, BATCH, writer)
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert response.json() == {"code": "unavailable", "message": "the store is unavailable; retry later"}
        response = v1(client, BATCH, p=writer)
        assert (response.status_code, response.json()) == (
            503,
            {"error": "the store is unavailable; retry later"},
        )
    finally:
        reset_backend()
    assert Metric.objects.count() == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(st.sampled_from([*'cpuhost=ap-lobby ,"\\\n#it0.5e-', "\t"]), max_size=80),
    )
)
def test_any_body_is_204_or_400_never_500(client, writer, device_a, body):
    response = v2(client, body, writer)
    assert response.status_code in (204, 400), response.content
    if response.status_code == 400:
        assert set(response.json()) == {"code", "message"}
