"""Realistic NetJSON DeviceMonitoring reports of simulated routers (pure functions).

Traffic and WiFi clients follow a daily curve (quiet at night, busy in the evening), counters
only grow (with a reboot now and then), some routers carry an LTE modem whose signal drifts.
Everything is derived from (device index, time), so a report can be regenerated exactly.
"""

from __future__ import annotations

import math
import random
from datetime import datetime

REPORT_INTERVAL = 300  # seconds, as the OpenWrt agent
# What a simulated router's registration says of it (``inventory.Device`` os, model, system).
FIRMWARE = "OpenWrt 23.05.3 r23809-234f1a2efa"
MODEL = "TP-Link Archer C7 v5"
SYSTEM = "Qualcomm Atheros QCA956X ver 1 rev 0"


def _activity(moment: datetime, seed: int) -> float:
    """0..1: how busy the network is at this local hour (peak around 20:00)."""
    hour = moment.hour + moment.minute / 60
    daily = 0.5 + 0.5 * math.cos((hour - 20) / 24 * 2 * math.pi)
    return max(0.05, min(1.0, daily * (0.8 + 0.4 * random.Random(seed).random())))


def _mac(device: int, client: int) -> str:
    return f"02:{(device >> 8) & 0xFF:02x}:{device & 0xFF:02x}:{0xC0:02x}:{(client >> 8) & 0xFF:02x}:{client & 0xFF:02x}"


# OUIs of makers of phones, laptops and network cards (IEEE registry): most simulated clients
# carry one, so the device page shows vendors; every fourth keeps a randomised (locally
# administered) address, as phones use, which has no vendor.
CLIENT_OUIS = ("f0:18:98", "00:16:6c", "3c:a9:f4", "00:1b:63", "b8:27:eb", "00:0c:29")
LEASE_SECONDS = 12 * 3600  # dnsmasq's default lease on OpenWrt


def _client_mac(device: int, client: int) -> str:
    if client % 4 == 3:
        return _mac(device, client)
    oui = CLIENT_OUIS[(device + client) % len(CLIENT_OUIS)]
    return f"{oui}:{device & 0xFF:02x}:{(client >> 8) & 0xFF:02x}:{client & 0xFF:02x}"


def _lan_ip(client: int) -> str:
    return f"192.168.1.{100 + client % 150}"


def report(device: int, moment: datetime, start: datetime, lte: bool) -> dict:
    """The report device number ``device`` sends at ``moment`` (simulation began at ``start``)."""
    epoch = int(moment.timestamp())
    step = max(0, (epoch - int(start.timestamp())) // REPORT_INTERVAL)
    rng = random.Random(device * 1_000_003 + step)
    busy = _activity(moment, device * 7919 + step)
    # Counters: bytes since the last (simulated) reboot, about every 5 days.
    boot_step = step - step % (1440 + device % 97)
    steps_up = step - boot_step
    hours_now = epoch / 3600
    hours_boot = hours_now - steps_up * REPORT_INTERVAL / 3600
    bytes_per_hour = (300 + device % 5 * 80) * 1_000_000
    rx_wan = int(bytes_per_hour * (_traffic_integral(hours_now) - _traffic_integral(hours_boot)))
    tx_wan = rx_wan // 5
    clients = [
        {
            "mac": _client_mac(device, c),
            "auth": True,
            "authorized": True,
            "assoc": True,
            "ht": True,
            "vht": False,
            "he": False,
            "wmm": True,
            "wds": False,
            "wps": False,
            "mfp": False,
            "preauth": False,
            "aid": c + 1,
            "signal": -40 - rng.randrange(40),
        }
        for c in range(int(busy * (12 + device % 9)))
        if rng.random() < 0.9
    ]
    wan_ip = f"203.0.113.{1 + device % 250}"  # a documentation range
    interfaces = [
        {
            "name": "wan",
            "type": "ethernet",
            "up": True,
            "mac": _mac(device, 0xFFFF),
            "mtu": 1500,
            "speed": "1000F",
            "addresses": [
                {"proto": "dhcp", "family": "ipv4", "address": wan_ip, "mask": 24},
                {"proto": "dhcpv6", "family": "ipv6", "address": f"2001:db8:{device:x}::2", "mask": 64},
            ],
            "statistics": {
                "rx_bytes": rx_wan,
                "tx_bytes": tx_wan,
                "rx_packets": rx_wan // 900,
                "tx_packets": tx_wan // 600,
            },
        },
        {
            "name": "wlan0",
            "type": "wireless",
            "up": True,
            "mac": _mac(device, 0xFFFE),
            "mtu": 1500,
            "statistics": {"rx_bytes": tx_wan // 2, "tx_bytes": rx_wan // 2},
            "wireless": {
                "frequency": 2437,
                "mode": "access_point",
                "signal": -30,
                "tx_power": 17,
                "channel": 6,
                "ssid": "community",
                "noise": -95,
                "country": "IT",
                "htmode": "HT20",
                "clients": clients,
            },
        },
        {
            # The LAN bridge: addresses only (no counters, so no traffic chart of its own).
            "name": "br-lan",
            "type": "bridge",
            "up": True,
            "mac": _mac(device, 0xFFFD),
            "mtu": 1500,
            "bridge_members": ["lan1", "lan2", "wlan0"],
            "stp": False,
            "addresses": [
                {"proto": "static", "family": "ipv4", "address": "192.168.1.1", "mask": 24},
                {"proto": "static", "family": "ipv6", "address": "fd00:1::1", "mask": 60},
            ],
        },
    ]
    if lte:
        drift = math.sin(step / 30 + device)
        interfaces.append(
            {
                "name": "mobile0",
                "type": "modem-manager",
                "up": True,
                "mac": "00:00:00:00:00:00",
                "mobile": {
                    "connection_status": "connected",
                    "imei": f"3000000{device:08d}",
                    "manufacturer": "Sierra Wireless, Incorporated",
                    "model": "MC7430",
                    "operator_code": "22201",
                    "operator_name": "TIM",
                    "power_status": "on",
                    "signal": {
                        "lte": {
                            "rssi": round(-60 + 8 * drift),
                            "rsrp": round(-90 + 10 * drift),
                            "rsrq": round(-10 + 2 * drift),
                            "snr": round(12 + 4 * drift),
                        }
                    },
                },
            }
        )
    # Each associated client holds a lease (renewed at half its time, so it expires within
    # 6 to 12 hours of the report), and the most recent ones are ARP neighbours on br-lan.
    leases = [
        {
            "expiry": epoch
            + LEASE_SECONDS // 2
            + (c["aid"] * 997 + step * REPORT_INTERVAL) % (LEASE_SECONDS // 2),
            "ip": _lan_ip(c["aid"] - 1),
            "mac": c["mac"],
            "client_name": f"client-{c['aid'] - 1:02d}" if c["aid"] % 5 else "*",
            "client_id": f"01:{c['mac']}",
        }
        for c in clients
    ]
    neighbors = [
        {
            "ip": f"203.0.113.{254 - device % 4}",
            "mac": _mac(device, 0xFFF0),
            "interface": "wan",
            "state": "REACHABLE",
        }
    ] + [
        {
            "ip": lease["ip"],
            "mac": lease["mac"],
            "interface": "br-lan",
            "state": "REACHABLE" if n % 3 else "STALE",
        }
        for n, lease in enumerate(leases[:4])
    ]
    total = 128 * 1024 * 1024
    free = int(total * (0.55 - 0.25 * busy + 0.05 * rng.random()))
    return {
        "type": "DeviceMonitoring",
        "general": {
            "hostname": f"sim-{device:03d}",
            "local_time": epoch,
            "uptime": steps_up * REPORT_INTERVAL,
        },
        "resources": {
            "cpus": 2,
            # A healthy router: CPU at most ~60 % at the evening peak (alerts start above 90 %).
            "load": [
                round(1.2 * busy * (0.5 + 0.5 * rng.random()), 2),
                round(0.9 * busy, 2),
                round(0.6 * busy, 2),
            ],
            "memory": {
                "total": total,
                "free": free,
                "buffered": 4 * 1024 * 1024,
                "shared": 1024 * 1024,
                "cached": 8 * 1024 * 1024,
                "available": free + 6 * 1024 * 1024,
            },
            "disk": [
                {
                    "mount_point": "/",
                    "filesystem": "/dev/root",
                    "size_bytes": 16 * 1024 * 1024,
                    "used_bytes": (9 + device % 4) * 1024 * 1024,
                    "available_bytes": (7 - device % 4) * 1024 * 1024,
                    "used_percent": 60,
                },
                {
                    "mount_point": "/tmp",
                    "filesystem": "tmpfs",
                    "size_bytes": 60 * 1024 * 1024,
                    "used_bytes": 2 * 1024 * 1024,
                    "available_bytes": 58 * 1024 * 1024,
                    "used_percent": 3,
                },
            ],
            "swap": {"total": 0, "free": 0},
        },
        "interfaces": interfaces,
        "dhcp_leases": leases,
        "neighbors": neighbors,
    }


def _traffic_integral(hours: float) -> float:
    """Integral of the daily traffic curve 0.6 + 0.5·cos(2π(h − 20)/24) (always > 0, so the
    counters only grow, fastest around 20:00 UTC)."""
    return 0.6 * hours + 0.5 * 24 / (2 * math.pi) * math.sin(2 * math.pi * (hours - 20) / 24)
