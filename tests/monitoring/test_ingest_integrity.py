"""Agents retry, reorder and resend: traffic is a function of the readings, never of their order.

`T` is a round time two hours ago; `W(x)` a report whose only interface `wan` has `rx_bytes = x`
and `tx_bytes = 0`. Charts are read through the chart API in 10-minute buckets (GB = 1e9 bytes),
on every backend the run covers (real servers, as in the conformance suite).
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.monitoring.models import DeviceState, Metric
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db(transaction=True)

GB = 10**9
T = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


def W(rx: int, **interface) -> dict:
    return {
        "type": "DeviceMonitoring",
        "interfaces": [{"name": "wan", "statistics": {"rx_bytes": rx, "tx_bytes": 0}, **interface}],
    }


def post(client, device, body, at: datetime | None = None, http=None):
    query = f"key={device.key}"
    if at is not None:
        query += "&time=" + at.strftime("%d-%m-%Y_%H:%M:%S.%f")
    data = body if isinstance(body, bytes) else json.dumps(body)
    return (http or client).post(
        f"/api/v1/monitoring/device/{device.pk}/?{query}", data, content_type="application/json"
    )


def download(client, device, ifname="wan") -> dict[str, float]:
    """The `Traffic: <ifname>` chart's download trace (GB) by bucket, non-empty buckets only."""
    window = {
        "start": T.strftime("%Y-%m-%d %H:%M:%S"),
        "end": (T + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S"),
    }
    response = client.get(f"/api/v1/monitoring/device/{device.pk}/", window)
    assert response.status_code == 200, response.content
    body = response.json()
    [chart] = [c for c in body["charts"] if c["title"] == f"Traffic: {ifname}"]
    trace = dict(chart["traces"])["download"]
    return {x[-5:]: value for x, value in zip(body["x"], trace, strict=True) if value is not None}


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def test_a_retried_report_changes_nothing(client, store, device_a, bob):  # row a
    client.force_login(bob)
    assert post(client, device_a, W(10 * GB), T).status_code == 200
    assert post(client, device_a, W(12 * GB), T + minutes(10)).status_code == 200
    assert post(client, device_a, W(12 * GB), T + minutes(10)).status_code == 200  # the agent retrying
    assert download(client, device_a) == {hhmm(T): 10.0, hhmm(T + minutes(10)): 2.0}


def test_a_report_without_interfaces_keeps_the_baseline(client, store, device_a, bob):  # row b
    client.force_login(bob)
    assert post(client, device_a, W(10 * GB), T).status_code == 200
    assert (
        post(client, device_a, {"type": "DeviceMonitoring", "interfaces": []}, T + minutes(10)).status_code
        == 200
    )
    assert post(client, device_a, {"type": "DeviceMonitoring"}, T + minutes(15)).status_code == 200
    assert post(client, device_a, W(12 * GB), T + minutes(20)).status_code == 200
    assert download(client, device_a) == {hhmm(T): 10.0, hhmm(T + minutes(20)): 2.0}


def test_a_late_report_splits_the_interval_it_falls_in(client, store, device_a, bob):
    client.force_login(bob)
    for at, rx in ((T, 10), (T + minutes(30), 16)):
        assert post(client, device_a, W(rx * GB), at).status_code == 200
    assert download(client, device_a) == {hhmm(T): 10.0, hhmm(T + minutes(30)): 6.0}
    assert post(client, device_a, W(11 * GB), T + minutes(10)).status_code == 200  # arrives last
    assert download(client, device_a) == {
        hhmm(T): 10.0,
        hhmm(T + minutes(10)): 1.0,
        hhmm(T + minutes(30)): 5.0,
    }
    # Earlier than every reading: it counts whole (the first reading), the next one its increase.
    assert post(client, device_a, W(4 * GB), T - minutes(10)).status_code == 200
    assert download(client, device_a) == {
        hhmm(T): 6.0,
        hhmm(T + minutes(10)): 1.0,
        hhmm(T + minutes(30)): 5.0,
    }
    # And a counter reset stays a reset wherever it arrives from.
    assert post(client, device_a, W(1 * GB), T + minutes(20)).status_code == 200
    assert download(client, device_a) == {
        hhmm(T): 6.0,
        hhmm(T + minutes(10)): 1.0,
        hhmm(T + minutes(20)): 1.0,
        hhmm(T + minutes(30)): 15.0,
    }


def test_every_arrival_order_stores_the_same_traffic(client, store, device_a, device_b, orgs, bob, alice):
    """Five readings (a reset among them) sent in order, reversed and shuffled with repeats."""
    readings = [
        (T, 3),
        (T + minutes(10), 5),
        (T + minutes(20), 9),
        (T + minutes(30), 2),
        (T + minutes(40), 4),
    ]
    expected = {
        hhmm(T): 3.0,
        hhmm(T + minutes(10)): 2.0,
        hhmm(T + minutes(20)): 4.0,
        hhmm(T + minutes(30)): 2.0,
        hhmm(T + minutes(40)): 2.0,
    }
    client.force_login(bob)
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 2, 1, 3, 0, 4]):
        DeviceState.objects.filter(device=device_a).delete()
        Metric.objects.filter(device=device_a).delete()
        store.delete("traffic")
        for i in order:
            at, rx = readings[i]
            assert post(client, device_a, W(rx * GB), at).status_code == 200
        assert download(client, device_a) == expected, order


def test_a_negative_counter_is_refused_and_nothing_is_stored(client, store, device_a, bob):  # row c
    client.force_login(bob)
    assert post(client, device_a, W(10 * GB), T).status_code == 200
    before = store.count_points(), store.count_points(retention="short")
    response = post(client, device_a, W(-5 * GB), T + minutes(10))
    assert response.status_code == 400
    assert response.json() == {
        "detail": 'Invalid data in "#/interfaces/0/statistics/rx_bytes", validator says: '
        "-5000000000 is less than the minimum of 0"
    }
    assert (store.count_points(), store.count_points(retention="short")) == before
    assert DeviceState.objects.get(device=device_a).data_time == T
    assert download(client, device_a) == {hhmm(T): 10.0}


def test_a_bridge_with_empty_members_is_stored(client, store, device_a, bob):  # row d
    client.force_login(bob)
    report = W(7 * GB)
    report["interfaces"].append({"name": "br-lan", "type": "bridge", "bridge_members": {}})
    assert post(client, device_a, report, T).status_code == 200
    assert download(client, device_a) == {hhmm(T): 7.0}
    assert DeviceState.objects.get(device=device_a).data["interfaces"][1]["bridge_members"] == []


def test_a_client_with_null_flags_is_counted(client, store, device_a, bob):  # row e
    client.force_login(bob)
    report = example_report()
    report["interfaces"][0]["wireless"]["clients"][0].update(vht=None, he=None)
    assert post(client, device_a, report, T).status_code == 200
    response = client.get(f"/api/v1/monitoring/device/{device_a.pk}/", {"time": "1d"})
    [chart] = [c for c in response.json()["charts"] if c["title"] == "WiFi clients: wlan0"]
    assert [v for v in dict(chart["traces"])["wifi_clients"] if v] == [1]


def test_names_with_line_protocol_and_query_syntax_are_stored_as_sent(client, store, device_a, bob):
    """Spaces, commas, equals signs, quotes and backslashes are data, on every backend."""
    name = 'wan 0,x="1"\\b'
    client.force_login(bob)
    report = W(3 * GB)
    report["interfaces"][0]["name"] = name
    report["interfaces"][0]["wireless"] = {"clients": [{"mac": 'aa:bb "c" \\d,e=f'}]}
    assert post(client, device_a, report, T).status_code == 200
    assert download(client, device_a, name) == {hhmm(T): 3.0}
    response = client.get(f"/api/v1/monitoring/device/{device_a.pk}/", {"time": "1d"})
    [chart] = [c for c in response.json()["charts"] if c["title"] == f"WiFi clients: {name}"]
    assert [v for v in dict(chart["traces"])["wifi_clients"] if v] == [1]
