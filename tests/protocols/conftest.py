"""The fleet every kind of /metrics value comes from, for the dashboards' and promtool's tests."""

from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.backups.models import BackupJob, BackupRun
from fleetwatch.core import instrumentation
from fleetwatch.messaging.models import DeviceChannel
from fleetwatch.monitoring.models import Metric
from fleetwatch.protocols.models import AccessToken
from tests.protocols.test_prometheus import report
from tests.protocols.test_prometheus_dashboards import exposed_names


@pytest.fixture
def everything(orgs, device_a, client, timeseries):
    """The names of the samples a scrape of that fleet can carry."""
    report(client, device_a)
    DeviceChannel.objects.create(device=device_a, channel="amqp", connected=False)
    Metric.objects.filter(device=device_a, configuration="cpu").update(is_healthy=True)
    job = BackupJob.objects.create(
        organization=orgs[0], section="s1", type="dump", datacenter="eqiad", freshness=86400
    )
    start = datetime.now(UTC) - timedelta(hours=3)
    BackupRun.objects.create(
        organization=orgs[0],
        job=job,
        name="dump.s1",
        status="finished",
        type="dump",
        section="s1",
        datacenter="eqiad",
        start_date=start,
        end_date=start + timedelta(hours=1),
        total_size=123456,
    )
    instrumentation.store_error("database")
    token = AccessToken.issue(orgs[0], "grafana", can_write=False, can_read=True)[1]
    client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")  # a request the next scrape counts
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    return exposed_names(response.content.decode())
