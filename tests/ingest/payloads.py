"""Reports as the OpenWrt agent sends them (the reference's example, adapted)."""


def example_report() -> dict:
    """A fresh copy of the reference example: wlan0 with one client, an LTE modem, eth0."""
    return {
        "type": "DeviceMonitoring",
        "general": {"hostname": "ap-lobby", "local_time": 1589026500, "uptime": 8003},
        "resources": {
            "cpus": 1,
            "load": [0.12, 0.08, 0.01],
            "memory": {
                "total": 249774080,
                "shared": 86016,
                "free": 224497664,
                "cached": 6774784,
                "available": 223397664,
                "buffered": 974848,
            },
            "swap": {"free": 0, "total": 0},
            "disk": [
                {
                    "used_bytes": 18792,
                    "available_bytes": 233984,
                    "filesystem": "/dev/root",
                    "mount_point": "/",
                    "used_percent": 7,
                    "size_bytes": 258016,
                },
                {
                    "used_bytes": 3872,
                    "available_bytes": 11916,
                    "filesystem": "/dev/sda1",
                    "mount_point": "/boot",
                    "used_percent": 25,
                    "size_bytes": 16112,
                },
            ],
        },
        "interfaces": [
            {
                "name": "wlan0",
                "type": "wireless",
                "up": True,
                "mac": "44:d1:fa:4b:38:43",
                "mtu": 1500,
                "txqueuelen": 1000,
                "multicast": True,
                "statistics": {
                    "rx_bytes": 324,
                    "tx_bytes": 145,
                    "collisions": 0,
                    "multicast": 0,
                    "rx_dropped": 0,
                    "tx_dropped": 0,
                },
                "wireless": {
                    "frequency": 2437,
                    "mode": "access_point",
                    "signal": -29,
                    "tx_power": 6,
                    "channel": 6,
                    "ssid": "testnet",
                    "noise": -95,
                    "country": "US",
                    "htmode": "HT20",
                    "clients": [
                        {
                            "mac": "00:ee:ad:34:f5:3b",
                            "wps": False,
                            "wds": False,
                            "ht": True,
                            "preauth": False,
                            "assoc": True,
                            "authorized": True,
                            "vht": False,
                            "he": False,
                            "wmm": True,
                            "aid": 1,
                            "mfp": False,
                            "auth": True,
                        }
                    ],
                },
            },
            {
                "name": "mobile0",
                "type": "modem-manager",
                "up": True,
                "mac": "00:00:00:00:00:00",
                "mtu": 1900,
                "mobile": {
                    "connection_status": "connected",
                    "imei": "300000001234567",
                    "manufacturer": "Sierra Wireless, Incorporated",
                    "model": "MC7430",
                    "operator_code": "50502",
                    "operator_name": "YES OPTUS",
                    "power_status": "on",
                    "signal": {"lte": {"rsrp": -75, "rsrq": -8, "rssi": -51, "snr": 13}},
                },
            },
            {
                "name": "eth0",
                "type": "ethernet",
                "up": True,
                "statistics": {"rx_bytes": 2275, "tx_bytes": 826},
                "addresses": [{"proto": "dhcp", "family": "ipv4", "address": "192.168.1.2", "mask": 24}],
            },
        ],
        "dhcp_leases": [
            {
                "expiry": 1589026800,
                "ip": "192.168.1.136",
                "mac": "a4:4e:31:c2:0e:26",
                "client_name": "laptop",
                "client_id": "01:a4:4e:31:c2:0e:26",
            }
        ],
        "neighbors": [
            {"ip": "192.168.1.1", "mac": "44:d1:fa:4b:38:01", "interface": "eth0", "state": "REACHABLE"}
        ],
    }
