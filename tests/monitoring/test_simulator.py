"""The demo's simulated routers (``monitoring/simulator.py``): their reports are valid, the same
for the same (device, time), and carry what every section of the device page's Status shows
(addresses, WiFi clients, a modem on every fourth router, DHCP leases, ARP neighbours)."""

from datetime import UTC, datetime, timedelta

from fleetwatch.ingest.netjson import transform_snapshot, validate
from fleetwatch.monitoring.simulator import LEASE_SECONDS, report
from fleetwatch.web.devicestatus import device_status

# 20:00 UTC: the simulator's busiest hour (WiFi clients follow the hour of day).
PEAK = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
START = PEAK - timedelta(days=1)


def test_a_report_is_valid_and_the_same_for_the_same_device_and_time():
    for device in range(8):
        data = report(device, PEAK, START, lte=device % 4 == 3)
        validate(data)
        assert report(device, PEAK, START, lte=device % 4 == 3) == data


def test_a_router_at_its_peak_shows_every_status_section():
    data = report(3, PEAK, START, lte=True)
    status = device_status(transform_snapshot(data), PEAK, {"os": "OpenWrt"})
    assert status.general[0].value == "sim-003"
    assert [row.label for row in status.resources][:2] == ["Memory used", "Memory total"]
    assert [d.mount_point for d in status.disks] == ["/", "/tmp"]
    assert [i.name for i in status.interfaces] == ["wan", "wlan0", "br-lan", "mobile0"]
    wan, wlan0, bridge, _mobile = status.interfaces
    assert [a.address for a in wan.addresses] == ["203.0.113.4/24", "2001:db8:3::2/64"]
    assert [a.address for a in bridge.addresses] == ["192.168.1.1/24", "fd00:1::1/60"]
    assert (wlan0.ssid, wlan0.channel, wlan0.tx_power) == ("community", "6", "17 dBm")
    [radio] = status.radios
    assert len(radio.clients) >= 5
    vendors = {c.mac[:8]: c.vendor for c in radio.clients}
    # Most clients carry a maker's OUI, every fourth a randomised address without vendor.
    assert vendors["00:1b:63"] == "Apple, Inc."
    assert vendors["b8:27:eb"] == "Raspberry Pi Foundation"
    assert vendors["02:00:03"] == ""
    [modem] = status.modems
    assert (modem.operator, modem.technology) == ("TIM (22201)", "LTE")
    # A lease per associated client, expiring 6 to 12 hours after the report.
    assert [lease.mac for lease in status.leases] == [c.mac for c in radio.clients]
    moment = int(PEAK.timestamp())
    assert all(LEASE_SECONDS // 2 <= e["expiry"] - moment < LEASE_SECONDS for e in data["dhcp_leases"])
    assert all(lease.expires.startswith("in ") for lease in status.leases)
    # The upstream gateway, then the four most recent clients on the LAN.
    assert [(n.interface, n.state) for n in status.neighbors] == [
        ("wan", "REACHABLE"),
        ("br-lan", "STALE"),
        ("br-lan", "REACHABLE"),
        ("br-lan", "REACHABLE"),
        ("br-lan", "STALE"),
    ]


def test_a_router_without_clients_still_has_the_lease_and_neighbour_sections():
    quiet = PEAK.replace(hour=8)  # the quiet morning: few or no clients
    data = report(0, quiet, START, lte=False)
    status = device_status(transform_snapshot(data), quiet)
    assert status.leases is not None
    assert status.neighbors[0].interface == "wan"
    assert status.modems == []
