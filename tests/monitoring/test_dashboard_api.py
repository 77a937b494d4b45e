"""GET /api/v1/monitoring/dashboard/: organization-wide charts, only of one's own organizations."""

import json

import pytest

from fleetwatch.inventory.models import Membership, Role
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db
WINDOW = "start=2026-10-20%2000:00:00&end=2026-10-20%2023:59:59"


def report(client, device, rx_bytes, mac, time="20-10-2026_10:00:00.000000"):
    body = example_report()
    body["interfaces"][2]["name"] = "wan"
    body["interfaces"][2]["statistics"] = {"rx_bytes": rx_bytes, "tx_bytes": rx_bytes // 2}
    body["interfaces"][0]["wireless"]["clients"][0]["mac"] = mac
    url = f"/api/v1/monitoring/device/{device.pk}/?key={device.key}&time={time}"
    assert client.post(url, json.dumps(body), content_type="application/json").status_code == 200


@pytest.fixture
def fleet(client, device_a, device_b, timeseries):
    report(client, device_a, 2_000_000_000, "aa:aa:aa:aa:aa:01")
    report(client, device_b, 6_000_000_000, "bb:bb:bb:bb:bb:01")


def traces(body, chart_type):
    chart = next(c for c in body["charts"] if c["type"] == chart_type)
    return dict(chart["traces"]), chart["summary"]


def test_a_user_sees_only_their_organizations_totals(client, fleet, bob):
    client.force_login(bob)
    body = client.get(f"/api/v1/monitoring/dashboard/?{WINDOW}").json()
    traffic, summary = traces(body, "stackedbar+lines")
    assert summary == {"download": 2.0, "upload": 1.0}  # org A's wan only, in GB
    assert body["x"][60] == "2026-10-20 10:00"
    assert (traffic["download"][60], traffic["upload"][60], traffic["download"][59]) == (2.0, 1.0, None)
    clients, clients_summary = traces(body, "bar")
    assert clients_summary == {"wifi_clients": 1}
    assert (clients["wifi_clients"][60], clients["wifi_clients"][61]) == (1, 0)
    assert "organizations" not in body


def test_a_member_of_two_organizations_can_narrow_by_slug(client, fleet, bob, orgs):
    Membership.objects.create(user=bob, organization=orgs[1], role=Role.MEMBER)
    client.force_login(bob)
    both = client.get(f"/api/v1/monitoring/dashboard/?{WINDOW}").json()
    assert traces(both, "stackedbar+lines")[1] == {"download": 8.0, "upload": 4.0}
    assert traces(both, "bar")[1] == {"wifi_clients": 2}
    assert both["organizations"] == [{"id": "org-a", "text": "Org A"}, {"id": "org-b", "text": "Org B"}]
    only_b = client.get(f"/api/v1/monitoring/dashboard/?{WINDOW}&organization_slug=org-b").json()
    assert traces(only_b, "stackedbar+lines")[1] == {"download": 6.0, "upload": 3.0}


def test_another_organizations_slug_is_404_and_interfaces_filter(client, fleet, charlie):
    client.force_login(charlie)
    assert client.get(f"/api/v1/monitoring/dashboard/?{WINDOW}&organization_slug=org-a").status_code == 404
    eth = client.get(f"/api/v1/monitoring/dashboard/?{WINDOW}&ifname=wlan0").json()
    assert traces(eth, "stackedbar+lines")[1] == {"download": 0.0, "upload": 0.0}


def test_anonymous_is_refused(client, fleet):
    assert client.get("/api/v1/monitoring/dashboard/").status_code == 401
