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


def _activity(moment: datetime, seed: int) -> float:
    """0..1: how busy the network is at this local hour (peak around 20:00)."""
    hour = moment.hour + moment.minute / 60
    daily = 0.5 + 0.5 * math.cos((hour - 20) / 24 * 2 * math.pi)
    return max(0.05, min(1.0, daily * (0.8 + 0.4 * random.Random(seed).random())))


def _mac(device: int, client: int) -> str:
    return f"02:{(device >> 8) & 0xFF:02x}:{device & 0xFF:02x}:{0xC0:02x}:{(client >> 8) & 0xFF:02x}:{client & 0xFF:02x}"


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
            "mac": _mac(device, c),
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
    interfaces = [
        {
            "name": "wan",
            "type": "ethernet",
            "up": True,
            "mac": _mac(device, 0xFFFF),
            "mtu": 1500,
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
                    "model": "MC7430",
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
                }
            ],
        },
        "interfaces": interfaces,
    }


def _traffic_integral(hours: float) -> float:
    """Integral of the daily traffic curve 0.6 + 0.5·cos(2π(h − 20)/24) (always > 0, so the
    counters only grow, fastest around 20:00 UTC)."""
    return 0.6 * hours + 0.5 * 24 / (2 * math.pi) * math.sin(2 * math.pi * (hours - 20) / 24)
