"""The 19 built-in charts (declared in fleetwatch.metrics) on one fixture dataset: exact values
worked out by hand.

Two hour buckets, 10:00 and 11:00 UTC on 2026-10-20. Device A belongs to org1, device B to
org2; B's points must never leak into A's charts.
"""

import pytest

from fleetwatch.metrics import chart_types, get_chart
from fleetwatch.metrics.builtin import STATION_CHARTS, TELEGRAF_CHARTS, device_data_query
from tests.timeseries.helpers import at, point

CT = "inventory.device"
A = {"content_type": CT, "object_id": "dev-a", "organization_id": "org1"}
B = {"content_type": CT, "object_id": "dev-b", "organization_id": "org2"}
SCOPE_A = {"content_type": CT, "object_id": "dev-a"}


def iface(tags, name):
    return {**tags, "ifname": name}


@pytest.fixture
def fleet(backend):
    points = [
        # ping
        point("ping", at(10), A, reachable=1, loss=0.0, rtt_avg=10.0, rtt_max=20.0, rtt_min=5.0),
        point("ping", at(10, 30), A, reachable=0, loss=100.0),
        point("ping", at(11), A, reachable=1, loss=20.0, rtt_avg=30.0, rtt_max=50.0, rtt_min=10.0),
        point("ping", at(11, 30), A, reachable=1, loss=0.0, rtt_avg=20.0, rtt_max=30.0, rtt_min=15.0),
        point("ping", at(10), B, reachable=0, loss=100.0),
        # wifi clients: one point per client MAC, 1 µs apart
        point("wifi_clients", at(10), iface(A, "wlan0"), clients="aa"),
        point("wifi_clients", at(10, micro=1), iface(A, "wlan0"), clients="bb"),
        point("wifi_clients", at(10, 5), iface(A, "wlan0"), clients="aa"),
        point("wifi_clients", at(11), iface(A, "wlan0"), clients="cc"),
        point("wifi_clients", at(10), iface(A, "wlan1"), clients="dd"),
        point("wifi_clients", at(10), iface(B, "wlan0"), clients="ee"),
        point("wifi_clients", at(11), iface(B, "wlan0"), clients="aa"),
        # traffic deltas in bytes
        point("traffic", at(10), iface(A, "eth0"), rx_bytes=1_000_000_000, tx_bytes=500_000_000),
        point("traffic", at(10, 30), iface(A, "eth0"), rx_bytes=2_000_000_000, tx_bytes=500_000_000),
        point("traffic", at(11), iface(A, "eth0"), rx_bytes=500_000_000, tx_bytes=250_000_000),
        point("traffic", at(10), iface(A, "wlan0"), rx_bytes=100_000_000, tx_bytes=100_000_000),
        point("traffic", at(10), iface(B, "eth0"), rx_bytes=3_000_000_000, tx_bytes=1_000_000_000),
        # resources
        point("memory", at(10), A, percent_used=50.0),
        point("memory", at(10, 30), A, percent_used=60.0),
        point("memory", at(11, 15), A, percent_used=70.0),
        point("cpu", at(10), A, cpu_usage=10.0, load_1=0.1),
        point("cpu", at(11), A, cpu_usage=30.0, load_1=0.3),
        point("cpu", at(11, 10), A, cpu_usage=50.0, load_1=0.5),
        point("cpu", at(10), B, cpu_usage=99.0, load_1=0.99),
        point("disk", at(10), A, used_disk=20.0),
        # mobile signal
        point(
            "signal",
            at(10),
            iface(A, "mobile0"),
            signal_strength=-51.0,
            signal_power=-75.0,
            signal_quality=-8.0,
            snr=13.0,
            access_tech=4,
        ),
        point(
            "signal",
            at(10, 30),
            iface(A, "mobile0"),
            signal_strength=-52.0,
            signal_power=-76.6,
            signal_quality=-9.0,
            snr=12.5,
            access_tech=4,
        ),
        point(
            "signal",
            at(11),
            iface(A, "mobile0"),
            signal_strength=-70.0,
            signal_power=-90.0,
            signal_quality=-10.0,
            snr=10.0,
            access_tech=3,
        ),
        # iperf3
        point(
            "iperf3",
            at(10),
            A,
            iperf3_result=1,
            sent_bps_tcp=900_000_000.0,
            sent_bps_udp=1_000_000.0,
            sent_bytes_tcp=1_200_000_000,
            sent_bytes_udp=2_000_000,
            retransmits=3,
            jitter=0.5,
            lost_packets=2,
            total_packets=100,
            lost_percent=2.0,
        ),
        point(
            "iperf3",
            at(10, 30),
            A,
            iperf3_result=1,
            sent_bps_tcp=700_000_000.0,
            sent_bps_udp=3_000_000.0,
            sent_bytes_tcp=800_000_000,
            sent_bytes_udp=4_000_000,
            retransmits=1,
            jitter=1.5,
            lost_packets=4,
            total_packets=200,
            lost_percent=2.0,
        ),
    ]
    backend.write(points)
    return backend


def run(backend, chart, measurement, tags, field_name=None):
    query = get_chart(chart).template.query(
        measurement, start=at(10), end=at(11, 59), interval="1h", tags=tags, field_name=field_name
    )
    return backend.chart(query).series, backend.summary(query)


class approx:
    """Equal to a {name: [values]} or {name: value} mapping up to binary rounding of 1e-9 scaling."""

    def __init__(self, expected):
        self.expected = expected

    def __eq__(self, actual):
        if set(actual) != set(self.expected):
            return False
        for key, want in self.expected.items():
            got = actual[key]
            wants, gots = (want, got) if isinstance(want, list) else ([want], [got])
            if len(wants) != len(gots):
                return False
            for w, g in zip(wants, gots, strict=True):
                if (w is None) != (g is None) or (w is not None and g != pytest.approx(w, rel=1e-12)):
                    return False
        return True

    def __repr__(self):
        return f"approx({self.expected!r})"


def test_there_are_nineteen_built_in_charts():
    # Those of OpenWISP Monitoring; the stations' (gps, boot_count, detections: metrics.builtin.
    # STATION_CHARTS) are answered by the chart API in tests/messaging/test_consumer.py.
    # Line protocol's (TELEGRAF_CHARTS) in tests/protocols/test_write.py.
    stations = {chart.name for chart in STATION_CHARTS + TELEGRAF_CHARTS}
    assert sorted(
        name for name, chart in chart_types().items() if not chart.is_raw and name not in stations
    ) == sorted(
        [
            "uptime",
            "packet_loss",
            "rtt",
            "wifi_clients",
            "gen_wifi_clients",
            "traffic",
            "general_traffic",
            "memory",
            "cpu",
            "disk",
            "signal_strength",
            "signal_quality",
            "access_tech",
            "bandwidth",
            "transfer",
            "retransmits",
            "jitter",
            "datagram",
            "datagram_loss",
        ]
    )


def test_ping_charts(fleet):
    assert run(fleet, "uptime", "ping", SCOPE_A, "reachable") == (
        {"uptime": [50.0, 100.0]},
        {"uptime": 75.0},
    )
    assert run(fleet, "packet_loss", "ping", SCOPE_A) == (
        {"packet_loss": [50.0, 10.0]},
        {"packet_loss": 30.0},
    )
    series, summary = run(fleet, "rtt", "ping", SCOPE_A)
    assert series == {"RTT_average": [10.0, 25.0], "RTT_max": [20.0, 40.0], "RTT_min": [5.0, 12.5]}
    assert summary == {"RTT_average": 20.0, "RTT_max": 100 / 3, "RTT_min": 10.0}


def test_wifi_client_charts(fleet):
    assert run(fleet, "wifi_clients", "wifi_clients", iface(SCOPE_A, "wlan0"), "clients") == (
        {"wifi_clients": [2, 1]},
        {"wifi_clients": 3},
    )
    general = get_chart("gen_wifi_clients").template
    assert run(fleet, "gen_wifi_clients", "wifi_clients", {"organization_id": "org1"}, "clients") == (
        {"wifi_clients": [3, 1]},
        {"wifi_clients": 4},
    )
    assert run(
        fleet,
        "gen_wifi_clients",
        "wifi_clients",
        {"organization_id": ["org1", "org2"]},
        "clients",
    ) == ({"wifi_clients": [4, 2]}, {"wifi_clients": 5})
    assert run(fleet, "gen_wifi_clients", "wifi_clients", {}, "clients")[1] == {"wifi_clients": 5}
    assert general.required_tags == ()


def test_traffic_charts(fleet):
    series, summary = run(fleet, "traffic", "traffic", iface(SCOPE_A, "eth0"))
    assert series == approx({"upload": [1.0, 0.25], "download": [3.0, 0.5]})
    assert summary == approx({"upload": 1.25, "download": 3.5})
    series, summary = run(fleet, "general_traffic", "traffic", {"organization_id": "org1", "ifname": "eth0"})
    assert series == approx({"upload": [1.0, 0.25], "download": [3.0, 0.5]})
    series, summary = run(fleet, "general_traffic", "traffic", {"organization_id": "org1"})
    assert series == approx({"upload": [1.1, 0.25], "download": [3.1, 0.5]})
    series, summary = run(fleet, "general_traffic", "traffic", {"ifname": ["eth0", "wlan0"]})
    assert summary == approx({"upload": 2.35, "download": 6.6})


def test_resource_charts(fleet):
    assert run(fleet, "memory", "memory", SCOPE_A) == (
        {"memory_usage": [55.0, 70.0]},
        {"memory_usage": 60.0},
    )
    assert run(fleet, "cpu", "cpu", SCOPE_A) == ({"CPU_load": [10.0, 40.0]}, {"CPU_load": 30.0})
    assert run(fleet, "disk", "disk", SCOPE_A) == (
        {"disk_usage": [20.0, None]},
        {"disk_usage": 20.0},
    )


def test_mobile_signal_charts(fleet):
    # Rounded half away from zero: mean -51.5 → -52, -75.8 → -76, -8.5 → -9, 12.75 → 13.
    assert run(fleet, "signal_strength", "signal", SCOPE_A) == (
        {"signal_strength": [-52.0, -70.0], "signal_power": [-76.0, -90.0]},
        {"signal_strength": -58.0, "signal_power": -81.0},
    )
    assert run(fleet, "signal_quality", "signal", iface(SCOPE_A, "mobile0")) == (
        {"signal_quality": [-9.0, -10.0], "signal_to_noise_ratio": [13.0, 10.0]},
        {"signal_quality": -9.0, "signal_to_noise_ratio": 12.0},
    )
    assert run(fleet, "access_tech", "signal", SCOPE_A) == (
        {"access_tech": [4, 3]},
        {"access_tech": 4},
    )


def test_iperf3_charts(fleet):
    series, summary = run(fleet, "bandwidth", "iperf3", SCOPE_A)
    assert series == approx({"TCP": [0.8, None], "UDP": [0.002, None]})
    assert summary == approx({"TCP": 0.8, "UDP": 0.002})
    series, _summary = run(fleet, "transfer", "iperf3", SCOPE_A)
    assert series == approx({"TCP": [2.0, None], "UDP": [0.006, None]})
    assert run(fleet, "retransmits", "iperf3", SCOPE_A) == (
        {"retransmits": [2.0, None]},
        {"retransmits": 2.0},
    )
    assert run(fleet, "jitter", "iperf3", SCOPE_A) == ({"jitter": [1.0, None]}, {"jitter": 1.0})
    assert run(fleet, "datagram", "iperf3", SCOPE_A) == (
        {"lost_datagram": [3.0, None], "total_datagram": [150.0, None]},
        {"lost_datagram": 3.0, "total_datagram": 150.0},
    )
    assert run(fleet, "datagram_loss", "iperf3", SCOPE_A) == (
        {"datagram_loss": [2.0, None]},
        {"datagram_loss": 2.0},
    )


def test_a_chart_needs_its_scope_tags():
    from fleetwatch.timeseries import InvalidQuery

    with pytest.raises(InvalidQuery, match="needs the tag\\(s\\) object_id"):
        get_chart("cpu").template.query("cpu", start=at(10), tags={"content_type": CT})
    with pytest.raises(InvalidQuery, match="needs the tag\\(s\\) ifname"):
        get_chart("traffic").template.query("traffic", start=at(10), tags=SCOPE_A)
    with pytest.raises(InvalidQuery, match="cannot filter by colour"):
        get_chart("general_traffic").template.query("traffic", start=at(10), tags={"colour": "red"})
    with pytest.raises(InvalidQuery, match="needs the metric's field name"):
        get_chart("uptime").template.query("ping", start=at(10), tags=SCOPE_A)


def test_the_latest_device_snapshot(backend, clock):
    clock.now = at(12)
    backend.write(
        [
            point("device_data", at(10), {"pk": "dev-a"}, data='{"v": 1}'),
            point("device_data", at(11), {"pk": "dev-a"}, data='{"v": 2}'),
            point("device_data", at(11, 30), {"pk": "dev-b"}, data='{"v": 3}'),
        ],
        retention="short",
    )
    [row] = backend.read(device_data_query("dev-a"))
    assert row.fields == {"data": '{"v": 2}'}
    assert row.time == at(11)
