"""The device page's Status section, its view-model (``web/devicestatus.py``): a full report,
a minimal one, absent sections, values of unexpected types, and MAC vendors from the IEEE
registry that netaddr ships."""

from datetime import UTC, datetime

import pytest

from fleetwatch.ingest.netjson import transform_snapshot, validate
from fleetwatch.web.devicestatus import (
    Address,
    Client,
    Disk,
    Lease,
    Neighbor,
    Row,
    device_status,
    duration,
    mac_vendor,
    relative,
    size,
)
from tests.web.status_reports import LOCAL_TIME, full_report, minimal_report

TAKEN = datetime(2020, 5, 9, 12, 15, tzinfo=UTC)  # the report's time (= its local_time)


def status_of(report, facts=None):
    validate(report)  # what the page shows is what ingestion accepts
    return device_status(transform_snapshot(report), TAKEN, facts)


def test_a_full_report_gives_every_section():
    status = status_of(full_report(), {"os": "OpenWrt 23.05.3 r23809-234f1a2efa", "model": "", "system": ""})
    assert status.time == TAKEN
    assert status.general == [
        Row("Hostname", "ap-lobby"),
        Row("Firmware", "OpenWrt 23.05.3 r23809-234f1a2efa"),
        Row("Uptime", "2h 13m"),
        Row("Local time", "2020-05-09 12:15:00 UTC"),
        Row("Load", "0.12 0.08 0.01"),
        Row("CPUs", "1"),
    ]
    # Used memory as the memory metric counts it: total - (free + buffered), as "available"
    # (223,397,664) is below "free" (224,497,664): 24,301,568 B of 249,774,080 B.
    assert status.resources == [
        Row("Memory used", "23.2 MiB of 238.2 MiB (10%)"),
        Row("Memory total", "238.2 MiB"),
        Row("Memory free", "214.1 MiB"),
        Row("Memory available", "213.0 MiB"),
        Row("Buffered", "952.0 KiB"),
        Row("Cached", "6.5 MiB"),
        Row("Shared", "84.0 KiB"),
        Row("Swap used", "32.0 MiB of 128.0 MiB (25%)"),
    ]
    assert status.disks == [
        Disk("/", "/dev/root", "252.0 KiB", "18.4 KiB", "228.5 KiB", "7%"),
        Disk("/boot", "/dev/sda1", "15.7 KiB", "3.8 KiB", "11.6 KiB", "25%"),
    ]
    assert [i.name for i in status.interfaces] == ["wlan0", "mobile0", "eth0", "br-lan"]
    wlan0, mobile0, eth0, bridge = status.interfaces
    assert (wlan0.type, wlan0.state, wlan0.mac, wlan0.mtu, wlan0.rx, wlan0.tx, wlan0.dropped) == (
        "wireless",
        "up",
        "44:d1:fa:4b:38:43",
        "1500",
        "324 B",
        "145 B",
        "rx 0 / tx 0",
    )
    assert wlan0.addresses == [Address("ipv6", "fe80::46d1:faff:fe4b:3843/64", "static")]
    assert wlan0.wireless is True
    assert (
        wlan0.mode,
        wlan0.ssid,
        wlan0.channel,
        wlan0.frequency,
        wlan0.tx_power,
        wlan0.noise,
        wlan0.signal,
        wlan0.htmode,
        wlan0.country,
    ) == ("access point", "testnet", "6", "2437 MHz", "6 dBm", "-95 dBm", "-29 dBm", "HT20", "US")
    assert (mobile0.wireless, mobile0.mode, mobile0.rx, mobile0.addresses) == (False, "", "", [])
    assert (eth0.speed, eth0.rx, eth0.tx, eth0.errors, eth0.dropped) == (
        "1000F",
        "1.5 MiB (1,234 packets)",
        "826 B (12 packets)",
        "rx 0 / tx 3",
        "rx 7 / tx 0",
    )
    assert eth0.addresses == [
        Address("ipv4", "192.168.1.2/24", "dhcp"),
        Address("ipv6", "2001:db8::2/64", "dhcpv6"),
    ]
    assert (bridge.state, bridge.bridge_members, bridge.rx) == ("down", "lan1, lan2", "")

    [radio] = status.radios
    assert (radio.interface, radio.ssid, radio.mode) == ("wlan0", "testnet", "access point")
    assert radio.clients == [
        # 00:ee:ad is not in the IEEE registry: no vendor.
        Client("00:ee:ad:34:f5:3b", "", "-41 dBm", "auth, authorized, assoc, WMM, HT", "144.4 Mbit/s"),
        # VHT was sent true, but the radio runs HT20: the snapshot nulls it, so it is not shown.
        Client("f0:18:98:12:34:56", "Apple, Inc.", "-67 dBm", "auth, authorized, assoc, WMM, HT", ""),
        # A randomised (locally administered) address: no vendor.
        Client("da:a1:19:0b:2c:3d", "", "-80 dBm", "auth, assoc, MFP", ""),
    ]
    [modem] = status.modems
    assert (modem.interface, modem.operator, modem.technology, modem.connection_status) == (
        "mobile0",
        "YES OPTUS (50502)",
        "LTE",
        "connected",
    )
    assert modem.signal == [
        Row("RSSI", "-51 dBm"),
        Row("RSRP", "-75 dBm"),
        Row("RSRQ", "-8 dB"),
        Row("SNR", "13 dB"),
    ]
    assert (modem.model, modem.imei, modem.power_status) == (
        "Sierra Wireless, Incorporated MC7430",
        "300000001234567",
        "on",
    )
    assert status.leases == [
        Lease(
            "192.168.1.136",
            "a4:4e:31:c2:0e:26",
            "Intel Corporate",
            "laptop",
            "01:a4:4e:31:c2:0e:26",
            datetime(2020, 5, 9, 14, 20, tzinfo=UTC),
            "in 2h 5m",
        ),
        Lease("192.168.1.140", "da:a1:19:0b:2c:3d", "", "", "*", None, "never"),
        Lease(
            "192.168.1.141",
            "b8:27:eb:aa:bb:cc",
            "Raspberry Pi Foundation",
            "sensor",
            "01:b8:27:eb:aa:bb:cc",
            datetime(2020, 5, 9, 12, 13, 30, tzinfo=UTC),
            "1m 30s ago",
        ),
    ]
    assert status.neighbors == [
        Neighbor(
            "192.168.1.1", "44:d1:fa:4b:38:01", "Shenzhen Yunlink Technology Co., Ltd", "eth0", "REACHABLE"
        ),
        Neighbor("fe80::1", "da:a1:19:0b:2c:3d", "", "br-lan", "STALE"),
    ]


def test_a_minimal_report_leaves_out_what_it_does_not_carry():
    status = status_of(minimal_report())
    assert status.general == [
        Row("Hostname", "bare"),
        Row("Uptime", "42s"),
        Row("Load", "0.50 0.25 0.12"),
        Row("CPUs", "1"),
    ]
    # Load and CPUs are shown under General: without memory, swap or disks, no Resources.
    assert status.resources is None
    assert (status.disks, status.interfaces, status.radios, status.modems) == ([], [], [], [])
    assert (status.leases, status.neighbors) == (None, None)


def test_no_snapshot_no_status():
    assert device_status({}, None) is None
    assert device_status(None, None) is None
    assert device_status("not a report", TAKEN) is None


def test_empty_lists_are_sections_with_nothing_in_them():
    """A router that sends ``"dhcp_leases": []`` hands out no lease: the section says so."""
    report = {"type": "DeviceMonitoring", "dhcp_leases": [], "neighbors": []}
    status = status_of(report)
    assert (status.general, status.resources, status.leases, status.neighbors) == (None, None, [], [])


def test_a_wireless_interface_without_clients_is_no_radio_of_the_clients_section():
    report = {
        "type": "DeviceMonitoring",
        "interfaces": [
            {"name": "wlan1", "wireless": {"mode": "station", "ssid": "uplink", "tx_power": 20}},
            {"name": "wlan0", "wireless": {"mode": "access_point", "clients": []}},
        ],
    }
    status = status_of(report)
    assert [(r.interface, r.clients) for r in status.radios] == [("wlan0", [])]
    assert [(i.name, i.mode, i.tx_power, i.state) for i in status.interfaces] == [
        ("wlan1", "station", "20 dBm", ""),
        ("wlan0", "access point", "", ""),
    ]


def test_values_of_unexpected_types_are_shown_as_sent():
    """The schema lets extra keys through and does not type every one: nothing here raises."""
    report = {
        "type": "DeviceMonitoring",
        "general": {"hostname": "odd"},
        "resources": {"memory": {"total": 0, "free": 0, "buffered": 0, "shared": 0}, "disk": ["not a disk"]},
        "interfaces": [{"name": "x", "mtu": "big", "statistics": {}, "addresses": "none", "wireless": "yes"}],
        "dhcp_leases": [{"ip": "10.0.0.9", "mac": "not-a-mac", "expiry": "soon"}, "junk"],
        "neighbors": [{"ip": "10.0.0.1"}],
    }
    status = device_status(report, None)
    assert status.resources[0] == Row("Memory used", "none")
    assert status.disks == []
    [iface] = status.interfaces
    assert (iface.mtu, iface.addresses, iface.wireless, iface.rx) == ("big", [], False, "")
    assert status.leases == [Lease("10.0.0.9", "not-a-mac", "", "", "", None, "")]
    assert status.neighbors == [Neighbor("10.0.0.1", "", "", "", "")]


def test_lease_expiry_is_relative_to_the_routers_clock_else_to_the_reports_time():
    report = {"type": "DeviceMonitoring", "dhcp_leases": [{"ip": "10.0.0.2", "expiry": LOCAL_TIME + 600}]}
    # No local_time: relative to the report's time (TAKEN = LOCAL_TIME).
    assert device_status(report, TAKEN).leases[0].expires == "in 10m"
    # The router's clock runs an hour ahead of the report's time: its own reading counts.
    report["general"] = {"local_time": LOCAL_TIME + 3600}
    assert device_status(report, TAKEN).leases[0].expires == "50m ago"
    # Neither: the expiry is still shown as a time, not relative to anything.
    del report["general"]
    lease = device_status(report, None).leases[0]
    assert (lease.expires, lease.expiry) == ("", datetime(2020, 5, 9, 12, 25, tzinfo=UTC))


@pytest.mark.parametrize(
    ("mac", "vendor"),
    [
        ("a4:4e:31:c2:0e:26", "Intel Corporate"),
        ("A4-4E-31-C2-0E-26", "Intel Corporate"),
        ("f018.9812.3456", "Apple, Inc."),
        ("b8:27:eb:00:00:01", "Raspberry Pi Foundation"),
        ("00:ee:ad:34:f5:3b", ""),  # not registered
        ("02:00:00:00:00:01", ""),  # locally administered
        ("da:a1:19:0b:2c:3d", ""),  # randomised by a phone: locally administered
        ("01:00:5e:00:00:fb", ""),  # multicast
        ("ff:ff:ff:ff:ff:ff", ""),
        ("not a mac", ""),
        ("", ""),
        (None, ""),
        (42, ""),
        (["a4:4e:31:c2:0e:26"], ""),
    ],
)
def test_mac_vendor(mac, vendor):
    assert mac_vendor(mac) == vendor


def test_a_vendor_the_agent_reported_is_kept_where_the_registry_has_none():
    clients = [
        {"mac": "00:ee:ad:34:f5:3b", "vendor": "Some Maker"},
        {"mac": "a4:4e:31:c2:0e:26", "vendor": "Wrong Guess"},  # the registry wins
        {"mac": "da:a1:19:0b:2c:3d", "vendor": "Guess"},  # randomised: no vendor whatever was sent
    ]
    report = {"type": "DeviceMonitoring", "interfaces": [{"name": "wlan0", "wireless": {"clients": clients}}]}
    vendors = [c.vendor for c in device_status(report, TAKEN).radios[0].clients]
    assert vendors == ["Some Maker", "Intel Corporate", ""]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (512, "512 B"), (1536, "1.5 KiB"), (249774080, "238.2 MiB"), (2**40, "1.0 TiB"), (None, "")],
)
def test_size(value, text):
    assert size(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (42, "42s"), (300, "5m"), (301, "5m 1s"), (8003, "2h 13m"), (86400, "1d"), (90061, "1d 1h")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_relative():
    assert [relative(LOCAL_TIME + d, LOCAL_TIME) for d in (0, 0.5, 60, -3600, 90061)] == [
        "now",
        "now",
        "in 1m",
        "1h ago",
        "in 1d 1h",
    ]
