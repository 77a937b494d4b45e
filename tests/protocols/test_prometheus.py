"""GET /metrics: a fixture fleet reported through the agent API (on every backend the run covers),
scraped as Prometheus does and parsed with prometheus-client's own parsers, value for value."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from fleetwatch.backups.models import BackupJob
from fleetwatch.inventory.models import Device
from fleetwatch.messaging.models import DeviceChannel
from fleetwatch.monitoring.models import DeviceHealth, Metric
from fleetwatch.protocols.models import AccessToken
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def scrape(client, token=None, accept=None, **extra):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if accept:
        headers["Accept"] = accept
    return client.get("/metrics", headers=headers, **extra)


def samples(response) -> dict:
    """``{sample name: {((label, value), …): value}}`` of a text-format answer."""
    assert response.status_code == 200, response.content
    found: dict = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def labels(**pairs) -> tuple:
    return tuple(sorted(pairs.items()))


def report(client, device, rx=324, tx=145, **changes):
    body = example_report()
    body["interfaces"][0]["statistics"].update(rx_bytes=rx, tx_bytes=tx)
    body["general"].update(changes)
    response = client.post(
        f"/api/v1/monitoring/device/{device.pk}/?key={device.key}",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


@pytest.fixture
def reader(orgs):
    return AccessToken.issue(orgs[0], "prometheus", can_write=False, can_read=True)[1]


@pytest.fixture
def fleet(store, orgs, device_a, device_b, client):
    """Org A: ap-lobby (two reports, an MQTT channel, a judged metric, health problem) and
    ap-spare (never reported); org B: ap-b (one report)."""
    report(client, device_a, rx=1000, tx=500, uptime=100)
    report(client, device_a, rx=4000, tx=1500, uptime=400)
    report(client, device_b)
    spare = Device.objects.create(organization=orgs[0], name="ap-spare")
    DeviceChannel.objects.create(device=device_a, channel="mqtt", connected=True)
    DeviceHealth.objects.update_or_create(device=device_a, defaults={"status": "problem"})
    Metric.objects.filter(device=device_a, configuration="cpu").update(is_healthy=False)
    Metric.objects.filter(device=device_a, configuration="traffic", main_tags={"ifname": "eth0"}).update(
        is_healthy=True
    )
    return device_a, spare, device_b


def test_it_shows_the_latest_values_of_the_tokens_fleet(fleet, client, reader):
    lobby = {"organization": "org-a", "device": "ap-lobby"}
    found = samples(scrape(client, reader))
    # Only org A's devices, in every family.
    assert {dict(key).get("organization") for name, rows in found.items() for key in rows if key} <= {
        "org-a",
        None,
    }
    assert found["fleetwatch_device_health"] == {
        labels(**lobby): 1.0,
        labels(organization="org-a", device="ap-spare"): 3.0,
    }
    assert found["fleetwatch_device_uptime_seconds"] == {labels(**lobby): 400.0}
    assert found["fleetwatch_device_cpus"] == {labels(**lobby): 1.0}
    assert found["fleetwatch_device_load1"] == {labels(**lobby): 0.12}
    assert found["fleetwatch_device_load5"] == {labels(**lobby): 0.08}
    assert found["fleetwatch_device_load15"] == {labels(**lobby): 0.01}
    assert found["fleetwatch_device_cpu_usage_percent"] == {labels(**lobby): 12.0}
    assert found["fleetwatch_device_memory_total_bytes"] == {labels(**lobby): 249774080.0}
    assert found["fleetwatch_device_memory_free_bytes"] == {labels(**lobby): 224497664.0}
    assert found["fleetwatch_device_memory_buffered_bytes"] == {labels(**lobby): 974848.0}
    assert found["fleetwatch_device_memory_shared_bytes"] == {labels(**lobby): 86016.0}
    assert found["fleetwatch_device_memory_cached_bytes"] == {labels(**lobby): 6774784.0}
    assert found["fleetwatch_device_memory_available_bytes"] == {labels(**lobby): 223397664.0}
    assert found["fleetwatch_device_disk_size_bytes"] == {
        labels(**lobby, mount="/"): 258016.0,
        labels(**lobby, mount="/boot"): 16112.0,
    }
    assert found["fleetwatch_device_disk_used_bytes"] == {
        labels(**lobby, mount="/"): 18792.0,
        labels(**lobby, mount="/boot"): 3872.0,
    }
    # The counters as the device reports them (Prometheus computes rates itself).
    assert found["fleetwatch_device_interface_receive_bytes_total"] == {
        labels(**lobby, interface="wlan0"): 4000.0,
        labels(**lobby, interface="eth0"): 2275.0,
    }
    assert found["fleetwatch_device_interface_transmit_bytes_total"] == {
        labels(**lobby, interface="wlan0"): 1500.0,
        labels(**lobby, interface="eth0"): 826.0,
    }
    assert found["fleetwatch_device_interface_up"] == {
        labels(**lobby, interface=name): 1.0 for name in ("wlan0", "mobile0", "eth0")
    }
    assert found["fleetwatch_device_wifi_clients"] == {labels(**lobby, interface="wlan0"): 1.0}
    assert found["fleetwatch_device_connected"] == {labels(**lobby, channel="mqtt"): 1.0}
    assert found["fleetwatch_device_metric_healthy"] == {
        labels(**lobby, metric="cpu", interface=""): 0.0,
        labels(**lobby, metric="traffic", interface="eth0"): 1.0,
    }
    last_seen = Device.objects.get(pk=fleet[0].pk).last_seen.timestamp()
    assert found["fleetwatch_device_last_seen_timestamp_seconds"] == {labels(**lobby): last_seen}
    assert found["fleetwatch_scrape_devices_dropped"] == {(): 0.0}
    assert found["fleetwatch_scrape_samples_dropped"] == {(): 0.0}
    # Three live reports wait for the evaluation pass (the worker's, not run here).
    assert found["fleetwatch_queue_depth"][labels(queue="pending_evaluations")] == 3.0
    assert found["fleetwatch_queue_depth"][labels(queue="backup_judgements")] == 0.0


def test_a_scrape_shows_its_own_organization_only(fleet, client, orgs):
    other = AccessToken.issue(orgs[1], "prometheus-b", can_write=False, can_read=True)[1]
    found = samples(scrape(client, other))
    assert found["fleetwatch_device_health"] == {labels(organization="org-b", device="ap-b"): 3.0}
    assert found["fleetwatch_device_uptime_seconds"] == {labels(organization="org-b", device="ap-b"): 8003.0}
    assert "fleetwatch_device_connected" not in found


def test_backup_jobs_are_the_organizations_own(orgs, client, reader):
    BackupJob.objects.create(
        organization=orgs[0], section="s1", type="dump", datacenter="eqiad", freshness=3600
    )
    BackupJob.objects.create(
        organization=orgs[1], section="s9", type="dump", datacenter="codfw", freshness=7200
    )
    found = samples(scrape(client, reader))
    job = labels(organization="org-a", section="s1", type="dump", datacenter="eqiad")
    assert found["fleetwatch_backup_job_expected_freshness_seconds"] == {job: 3600.0}
    assert found["fleetwatch_backup_job_status"] == {job: 3.0}
    assert found["fleetwatch_backups_last_day"] == {labels(organization="org-a"): 0.0}


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "missing token\n"),
        ({"HTTP_AUTHORIZATION": "Bearer fwi_nosuchtoken"}, 401, "invalid token\n"),
        ({"HTTP_AUTHORIZATION": "Bearer"}, 401, "missing token\n"),
    ],
)
def test_it_refuses_a_scrape_without_a_valid_token(client, orgs, headers, status, message):
    response = client.get("/metrics", **headers)
    assert response.status_code == status
    assert response.content.decode() == message
    assert response["WWW-Authenticate"] == 'Bearer realm="fleetwatch"'
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_a_write_only_or_revoked_token_may_not_scrape(client, orgs):
    writer = AccessToken.issue(orgs[0], "telegraf")[1]
    response = scrape(client, writer)
    assert response.status_code == 403
    assert response.content.decode() == "token may not read\n"
    row, revoked = AccessToken.issue(orgs[0], "old", can_read=True)
    row.is_active = False
    row.save()
    assert scrape(client, revoked).status_code == 401
    orgs[0].is_active = False
    orgs[0].save()
    reader = AccessToken.issue(orgs[0], "prometheus", can_write=False, can_read=True)[1]
    assert scrape(client, reader).content.decode() == "invalid token\n"


def test_only_get_is_answered(client, reader):
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {reader}").status_code == 405


def test_a_logged_in_user_without_token_is_refused(client, alice):
    client.force_login(alice)
    assert client.get("/metrics").status_code == 401


def test_the_device_bound_drops_whole_devices_in_name_order(orgs, client, reader, settings):
    for name in ("d1", "d2", "d3", "d4"):
        Device.objects.create(organization=orgs[0], name=name)
    Device.objects.create(organization=orgs[1], name="d0")  # not counted: another organization
    settings.FLEETWATCH_PROMETHEUS_MAX_DEVICES = 3
    found = samples(scrape(client, reader))
    assert sorted(dict(k)["device"] for k in found["fleetwatch_device_health"]) == ["d1", "d2", "d3"]
    assert found["fleetwatch_scrape_devices_dropped"] == {(): 1.0}
    assert found["fleetwatch_scrape_samples_dropped"] == {(): 0.0}


def test_the_sample_bound_drops_the_devices_that_do_not_fit(fleet, client, reader, settings):
    full = samples(scrape(client, reader))
    lobby_samples = sum(
        1
        for name, rows in full.items()
        if name.startswith("fleetwatch_device_")
        for key in rows
        if ("device", "ap-lobby") in key
    )
    assert lobby_samples == 29
    # ap-lobby (29 samples) fits, ap-spare (1, its health) does not: dropped whole.
    settings.FLEETWATCH_PROMETHEUS_MAX_SAMPLES = 29
    found = samples(scrape(client, reader))
    assert found["fleetwatch_device_health"] == {labels(organization="org-a", device="ap-lobby"): 1.0}
    assert found["fleetwatch_scrape_devices_dropped"] == {(): 1.0}
    assert found["fleetwatch_scrape_samples_dropped"] == {(): 1.0}
    # Under one device's samples: it is dropped, and so is every device after it.
    settings.FLEETWATCH_PROMETHEUS_MAX_SAMPLES = 28
    found = samples(scrape(client, reader))
    assert "fleetwatch_device_health" not in found
    assert found["fleetwatch_scrape_devices_dropped"] == {(): 2.0}
    assert found["fleetwatch_scrape_samples_dropped"] == {(): 30.0}


def test_openmetrics_when_asked(client, reader, device_a):
    response = scrape(client, reader, accept="application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
    assert response.status_code == 200
    assert (
        response["Content-Type"]
        == "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
    )
    text = response.content.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics_families(text)}
    assert [s.value for s in families["fleetwatch_device_health"].samples] == [3.0]
    plain = scrape(client, reader)
    assert plain["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


def _count(found, name, **pairs):
    return found.get(name, {}).get(labels(**pairs), 0.0)


def test_request_and_ingest_histograms_count_what_this_process_served(client, reader, device_a, timeseries):
    before = samples(scrape(client, reader))
    assert client.get("/api/v1/health/").status_code == 200
    report(client, device_a)
    after = samples(scrape(client, reader))
    health = {"view": "health", "status": "2xx"}
    key = "fleetwatch_http_request_duration_seconds_count"
    assert _count(after, key, **health) - _count(before, key, **health) == 1.0
    # The scrape before counts too (the middleware sees it after the answer is written).
    scrapes = {"view": "prometheus-metrics", "status": "2xx"}
    assert _count(after, key, **scrapes) - _count(before, key, **scrapes) == 1.0
    ingest = "fleetwatch_ingest_duration_seconds_count"
    assert _count(after, ingest, source="agent") - _count(before, ingest, source="agent") == 1.0
    bucket = "fleetwatch_ingest_duration_seconds_bucket"
    assert (
        _count(after, bucket, source="agent", le="+Inf") - _count(before, bucket, source="agent", le="+Inf")
        == 1.0
    )


def test_a_store_that_is_down_is_counted(client, reader, device_a, settings):
    from fleetwatch.core.timeseries import reset_backend

    # Nothing listens on this port of the helper's range: the store is unreachable.
    settings.TIMESERIES_DATABASE = "influxdb://127.0.0.1:21399/fleetwatch"
    reset_backend()
    try:
        before = samples(scrape(client, reader))
        response = client.post(
            f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}",
            json.dumps(example_report()),
            content_type="application/json",
        )
        assert response.status_code == 503
        after = samples(scrape(client, reader))
    finally:
        reset_backend()
    key = "fleetwatch_store_errors_total"
    assert _count(after, key, store="timeseries") - _count(before, key, store="timeseries") == 1.0


def test_values_of_other_processes_on_this_host_are_summed(client, reader, settings):
    """A Celery worker or another gunicorn process is another process: its observations land in
    its own file of the shared directory, and the scrape adds them up."""
    before = samples(scrape(client, reader))
    env = {**os.environ, "FLEETWATCH_PROMETHEUS_DIR": str(settings.FLEETWATCH_PROMETHEUS_DIR)}
    code = (
        "import django; django.setup()\n"
        "from fleetwatch.core import instrumentation\n"
        "for seconds in (0.003, 0.2, 7.0): instrumentation.observe_ingest('consumer', seconds)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, timeout=120)
    after = samples(scrape(client, reader))

    def delta(name, **pairs):
        return _count(after, name, **pairs) - _count(before, name, **pairs)

    assert delta("fleetwatch_ingest_duration_seconds_count", source="consumer") == 3.0
    assert delta("fleetwatch_ingest_duration_seconds_sum", source="consumer") == pytest.approx(7.203)
    assert delta("fleetwatch_ingest_duration_seconds_bucket", source="consumer", le="0.005") == 1.0
    assert delta("fleetwatch_ingest_duration_seconds_bucket", source="consumer", le="0.25") == 2.0
    assert delta("fleetwatch_ingest_duration_seconds_bucket", source="consumer", le="5.0") == 2.0
    assert delta("fleetwatch_ingest_duration_seconds_bucket", source="consumer", le="10.0") == 3.0


def test_files_of_ended_processes_are_pruned(settings, tmp_path):
    from fleetwatch.core import instrumentation

    settings.FLEETWATCH_PROMETHEUS_DIR = tmp_path
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = tmp_path / f"histogram_{int(dead.stdout)}.db"
    alive = tmp_path / f"counter_{os.getpid()}.db"
    gone.write_bytes(b"")
    alive.write_bytes(b"")
    assert instrumentation.prune_dead() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name]


def test_reports_from_the_broker_consumer_are_timed_as_consumer(client, reader, device_a, timeseries):
    from fleetwatch.messaging.consumer import store_monitoring
    from fleetwatch.monitoring.ingestion import reporting_device

    before = samples(scrape(client, reader))
    store_monitoring(reporting_device(device_a.pk), json.dumps(example_report()).encode(), datetime.now(UTC))
    after = samples(scrape(client, reader))
    key = "fleetwatch_ingest_duration_seconds_count"
    assert _count(after, key, source="consumer") - _count(before, key, source="consumer") == 1.0
    assert _count(after, key, source="agent") - _count(before, key, source="agent") == 0.0


def test_a_scrape_costs_the_same_queries_whatever_the_fleet(client, orgs, reader, fleet):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert scrape(client, reader).status_code == 200
        return len(captured)

    queries()  # the token's last_used is written by the first scrape of the minute
    few = queries()
    assert few == 10
    for i in range(5):
        device = Device.objects.create(organization=orgs[0], name=f"more-{i}")
        DeviceChannel.objects.create(device=device, channel="amqp")
        report(client, device)
    assert queries() == few
