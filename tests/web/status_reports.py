"""Reports for the device page's Status section: a full one (every section, as an OpenWrt
router running the monitoring agent sends it) and a minimal one (what a bare agent sends)."""

from tests.ingest.payloads import example_report

# The report's clock (general.local_time) and the report's time: 2020-05-09 12:15:00 UTC.
LOCAL_TIME = 1589026500


def full_report() -> dict:
    """The reference example with every section: addresses on two interfaces, a bridge with
    its members and speed, a second WiFi client with a randomised MAC, swap, a second lease
    (never expiring, no name), a second neighbour (randomised MAC)."""
    report = example_report()
    wlan0, _mobile, eth0 = report["interfaces"]
    wlan0["addresses"] = [
        {"proto": "static", "family": "ipv6", "address": "fe80::46d1:faff:fe4b:3843", "mask": 64}
    ]
    wlan0["wireless"]["clients"][0]["signal"] = -41
    wlan0["wireless"]["clients"][0]["bitrate"] = 144400  # kbit/s as sent; the snapshot keeps Mbit/s
    wlan0["wireless"]["clients"].append(
        {
            "mac": "f0:18:98:12:34:56",  # Apple's OUI
            "signal": -67,
            "auth": True,
            "authorized": True,
            "assoc": True,
            "ht": True,
            "vht": True,  # nulled: the radio runs HT20 (transform_snapshot)
            "he": False,
            "wmm": True,
            "mfp": False,
            "wds": False,
            "wps": False,
            "preauth": False,
            "aid": 2,
        }
    )
    wlan0["wireless"]["clients"].append(
        {"mac": "da:a1:19:0b:2c:3d", "signal": -80, "auth": True, "assoc": True, "mfp": True, "aid": 3}
    )
    eth0.update(
        mac="44:d1:fa:4b:38:42",
        mtu=1500,
        speed="1000F",
        statistics={
            "rx_bytes": 1_572_864,
            "tx_bytes": 826,
            "rx_packets": 1234,
            "tx_packets": 12,
            "rx_errors": 0,
            "tx_errors": 3,
            "rx_dropped": 7,
            "tx_dropped": 0,
        },
        addresses=[
            {"proto": "dhcp", "family": "ipv4", "address": "192.168.1.2", "mask": 24},
            {"proto": "dhcpv6", "family": "ipv6", "address": "2001:db8::2", "mask": 64},
        ],
    )
    report["interfaces"].append(
        {
            "name": "br-lan",
            "type": "bridge",
            "up": False,
            "mac": "44:d1:fa:4b:38:40",
            "mtu": 1500,
            "bridge_members": ["lan1", "lan2"],
            "addresses": [{"proto": "static", "family": "ipv4", "address": "10.0.0.1", "mask": 24}],
        }
    )
    report["resources"]["swap"] = {"total": 134_217_728, "free": 100_663_296}
    report["dhcp_leases"][0]["expiry"] = LOCAL_TIME + 2 * 3600 + 5 * 60  # 2h 5m after the report
    report["dhcp_leases"].append(
        {"expiry": 0, "ip": "192.168.1.140", "mac": "da:a1:19:0b:2c:3d", "client_name": "*", "client_id": "*"}
    )
    report["dhcp_leases"].append(
        {
            "expiry": LOCAL_TIME - 90,
            "ip": "192.168.1.141",
            "mac": "b8:27:eb:aa:bb:cc",
            "client_name": "sensor",
            "client_id": "01:b8:27:eb:aa:bb:cc",
        }
    )
    report["neighbors"].append(
        {"ip": "fe80::1", "mac": "da:a1:19:0b:2c:3d", "interface": "br-lan", "state": "STALE"}
    )
    return report


def minimal_report() -> dict:
    """What a bare agent may send: the type, the hostname and uptime, the load of one CPU."""
    return {
        "type": "DeviceMonitoring",
        "general": {"hostname": "bare", "uptime": 42},
        "resources": {"load": [0.5, 0.25, 0.125], "cpus": 1},
    }
