"""psutil → NetJSON DeviceMonitoring (fleetwatch_agent.collect): the report validates against the
server's schema as it is (nothing repaired or dropped), and ingests with exact values."""

import json
import socket
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psutil
import pytest
from fleetwatch_agent import collect
from fleetwatch_agent.queue import wire_time
from jsonschema import Draft7Validator

from fleetwatch.ingest.netjson import extract, validate
from fleetwatch.ingest.schema import SCHEMA
from fleetwatch.monitoring.ingestion import ingest, reporting_device
from fleetwatch.timeseries import ReadQuery

GiB = 2**30
T = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def test_this_hosts_report_is_valid_as_sent():
    report = collect.report()
    assert list(Draft7Validator(SCHEMA).iter_errors(report)) == []
    dropped = []
    validate(json.loads(json.dumps(report)), dropped)
    assert dropped == []
    assert report["general"]["hostname"] == socket.gethostname()
    assert report["resources"]["cpus"] == psutil.cpu_count()
    assert report["resources"]["memory"]["total"] == psutil.virtual_memory().total
    names = [i["name"] for i in report["interfaces"]]
    assert "lo" not in names
    assert sorted(names) == sorted(n for n in psutil.net_if_stats() if n != "lo")
    configurations = {s.configuration for s in extract(report, T)}
    assert {"cpu", "memory", "disk"} <= configurations


@pytest.fixture
def fake_host(monkeypatch, tmp_path):
    """A host whose every reading is fixed: psutil, the load, the clock, and a sysfs with
    eth0 (a device behind it), wlan0 (wireless), br0 (bridge), veth1 (virtual)."""
    sys_net = tmp_path / "net"
    counters = {
        "eth0": {"rx_bytes": 5000, "tx_bytes": 7000, "rx_packets": 50, "multicast": 3, "rx_nohandler": 9}
    }
    for name, kind in (("eth0", "device"), ("wlan0", "wireless"), ("br0", "bridge"), ("veth1", None)):
        (sys_net / name / "statistics").mkdir(parents=True)
        if kind:
            (sys_net / name / kind).mkdir()
        for counter, value in counters.get(name, {"rx_bytes": 1, "tx_bytes": 2}).items():
            (sys_net / name / "statistics" / counter).write_text(f"{value}\n")
    monkeypatch.setattr(collect, "SYS_NET", sys_net)
    monkeypatch.setattr("fleetwatch_agent.collect.counters.__defaults__", (sys_net,))
    monkeypatch.setattr("fleetwatch_agent.collect.interface_type.__defaults__", (sys_net,))
    monkeypatch.setattr(socket, "gethostname", lambda: "station-7")
    monkeypatch.setattr(collect.time, "time", lambda: 1_800_000_000.9)
    monkeypatch.setattr(collect.os, "getloadavg", lambda: (0.5, 0.25, 0.125))
    monkeypatch.setattr(psutil, "boot_time", lambda: 1_799_990_000.0)
    monkeypatch.setattr(psutil, "cpu_count", lambda: 4)
    monkeypatch.setattr(
        psutil,
        "virtual_memory",
        lambda: SimpleNamespace(
            total=8 * GiB, free=2 * GiB, buffers=GiB // 4, shared=GiB // 8, cached=GiB, available=4 * GiB
        ),
    )
    monkeypatch.setattr(psutil, "swap_memory", lambda: SimpleNamespace(total=GiB, free=GiB // 2))
    parts = [
        SimpleNamespace(device="/dev/sda1", mountpoint="/", fstype="ext4"),
        SimpleNamespace(device="/dev/sda1", mountpoint="/srv/bind", fstype="ext4"),  # a bind mount
        SimpleNamespace(device="/dev/sdb1", mountpoint="/data", fstype="xfs"),
        SimpleNamespace(device="/dev/loop0", mountpoint="/snap/x", fstype="squashfs"),
    ]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: parts)
    usage = {
        "/": SimpleNamespace(total=100 * GiB, used=25 * GiB, free=75 * GiB, percent=25.0),
        "/data": SimpleNamespace(total=300 * GiB, used=75 * GiB, free=225 * GiB, percent=25.4),
    }
    monkeypatch.setattr(psutil, "disk_usage", lambda path: usage[path])
    monkeypatch.setattr(
        psutil,
        "cpu_times",
        lambda: SimpleNamespace(
            user=10.5, system=2.25, nice=0.0, idle=100.0, iowait=1.0, irq=0.0, softirq=0.5
        ),
    )
    monkeypatch.setattr(psutil, "cpu_freq", lambda: SimpleNamespace(current=1500.7))
    statuses = ["running", "sleeping", "sleeping", "idle", "disk-sleep", "zombie", "stopped", "dead"]
    monkeypatch.setattr(
        psutil, "process_iter", lambda attrs: [SimpleNamespace(info={"status": s}) for s in statuses]
    )
    monkeypatch.setattr(
        psutil,
        "sensors_temperatures",
        lambda: {"coretemp": [SimpleNamespace(label="Package id 0", current=47, high=80.0, critical=100.0)]},
    )
    full = psutil.NIC_DUPLEX_FULL
    monkeypatch.setattr(
        psutil,
        "net_if_stats",
        lambda: {
            "lo": SimpleNamespace(isup=True, duplex=0, speed=0, mtu=65536, flags="up,loopback,running"),
            "eth0": SimpleNamespace(
                isup=True, duplex=full, speed=1000, mtu=1500, flags="up,broadcast,running"
            ),
            "wlan0": SimpleNamespace(isup=False, duplex=0, speed=0, mtu=1500, flags="broadcast"),
            "br0": SimpleNamespace(isup=True, duplex=0, speed=0, mtu=1500, flags="up"),
            "veth1": SimpleNamespace(isup=True, duplex=0, speed=10000, mtu=1500, flags="up"),
        },
    )
    link, inet, inet6 = psutil.AF_LINK, socket.AF_INET, socket.AF_INET6
    monkeypatch.setattr(
        psutil,
        "net_if_addrs",
        lambda: {
            "eth0": [
                SimpleNamespace(family=link, address="52:54:00:12:34:56", netmask=None),
                SimpleNamespace(family=inet, address="192.0.2.10", netmask="255.255.255.0"),
                SimpleNamespace(
                    family=inet6, address="fe80::5054:ff:fe12:3456%eth0", netmask="ffff:ffff:ffff:ffff::"
                ),
            ]
        },
    )
    return sys_net


def test_a_fixed_host_gives_an_exact_report(fake_host):
    report = collect.report(skip=["lo", "veth*"])
    assert report == {
        "type": "DeviceMonitoring",
        "general": {"hostname": "station-7", "local_time": 1_800_000_000, "uptime": 10_000},
        "resources": {
            "load": [0.5, 0.25, 0.12],
            "cpus": 4,
            "memory": {
                "total": 8 * GiB,
                "free": 2 * GiB,
                "buffered": GiB // 4,
                "shared": GiB // 8,
                "cached": GiB,
                "available": 4 * GiB,
            },
            "swap": {"total": GiB, "free": GiB // 2},
            "disk": [
                {
                    "mount_point": "/",
                    "filesystem": "/dev/sda1",
                    "used_bytes": 25 * GiB,
                    "available_bytes": 75 * GiB,
                    "used_percent": 25,
                    "size_bytes": 100 * GiB,
                },
                {
                    "mount_point": "/data",
                    "filesystem": "/dev/sdb1",
                    "used_bytes": 75 * GiB,
                    "available_bytes": 225 * GiB,
                    "used_percent": 25,
                    "size_bytes": 300 * GiB,
                },
            ],
            "cpu": {
                "user": 1050,
                "system": 225,
                "nice": 0,
                "idle": 10000,
                "iowait": 100,
                "irq": 0,
                "softirq": 50,
                "frequency": 1500,
            },
            "processes": {"running": 1, "sleeping": 3, "blocked": 1, "zombie": 1, "stopped": 1},
            "temperatures": [
                {
                    "sensor": "coretemp",
                    "label": "Package id 0",
                    "current": 47.0,
                    "high": 80.0,
                    "critical": 100.0,
                }
            ],
        },
        "interfaces": [
            {
                "name": "br0",
                "type": "bridge",
                "up": True,
                "mtu": 1500,
                "addresses": [],
                "statistics": {"rx_bytes": 1, "tx_bytes": 2},
            },
            {
                "name": "eth0",
                "type": "ethernet",
                "up": True,
                "mtu": 1500,
                "speed": "1000F",
                "mac": "52:54:00:12:34:56",
                "addresses": [
                    {"family": "ipv4", "address": "192.0.2.10", "proto": "static", "mask": 24},
                    {"family": "ipv6", "address": "fe80::5054:ff:fe12:3456", "proto": "static", "mask": 64},
                ],
                "statistics": {"multicast": 3, "rx_bytes": 5000, "rx_packets": 50, "tx_bytes": 7000},
            },
            {
                "name": "wlan0",
                "type": "wireless",
                "up": False,
                "mtu": 1500,
                "addresses": [],
                "statistics": {"rx_bytes": 1, "tx_bytes": 2},
            },
        ],
    }
    assert [i["name"] for i in collect.report()["interfaces"]] == ["br0", "eth0", "veth1", "wlan0"]
    veth = collect.report(include=["veth*"])["interfaces"]
    assert [(i["name"], i["type"], i["speed"]) for i in veth] == [("veth1", "virtual", "10000")]


def test_counters_from_psutil_without_sysfs(monkeypatch, tmp_path):
    io = SimpleNamespace(
        bytes_recv=1, bytes_sent=2, packets_recv=3, packets_sent=4, errin=5, errout=6, dropin=7, dropout=8
    )
    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic: {"em0": io})
    assert collect.counters("em0", sys_net=tmp_path) == {
        "rx_bytes": 1,
        "tx_bytes": 2,
        "rx_packets": 3,
        "tx_packets": 4,
        "rx_errors": 5,
        "tx_errors": 6,
        "rx_dropped": 7,
        "tx_dropped": 8,
    }
    assert collect.counters("gone", sys_net=tmp_path) == {}
    assert collect.interface_type("em0", False, sys_net=tmp_path) == "ethernet"


def test_the_report_ingests_with_exact_values(fake_host, device_a, timeseries):
    report = collect.report()
    body = json.dumps(report).encode()
    device = reporting_device(device_a.pk)
    assert ingest(device, body, wire_time(T)) == 8  # 4 traffic, cpu, disk, memory, device data
    [memory] = timeseries.read(ReadQuery("memory", tags={"object_id": str(device_a.pk)}))
    assert (memory.time, memory.fields) == (
        T,
        {
            "percent_used": 100 * (1 - (4 * GiB + GiB // 4) / (8 * GiB)),
            "total_memory": 8 * GiB,
            "free_memory": 2 * GiB,
            "buffered_memory": GiB // 4,
            "shared_memory": GiB // 8,
            "cached_memory": GiB,
            "available_memory": 4 * GiB,
        },
    )
    [cpu] = timeseries.read(ReadQuery("cpu"))
    assert cpu.fields == {"cpu_usage": 12.5, "load_1": 0.5, "load_5": 0.25, "load_15": 0.12}
    [disk] = timeseries.read(ReadQuery("disk"))
    assert disk.fields == {"used_disk": 25.0}
    traffic = timeseries.read(ReadQuery("traffic", ["rx_bytes", "tx_bytes"], tags={"ifname": "eth0"}))
    assert [(r.time, r.fields) for r in traffic] == [(T, {"rx_bytes": 5000, "tx_bytes": 7000})]


def test_at_most_as_many_interfaces_as_the_server_takes(monkeypatch, tmp_path):
    many = {
        f"veth{n:04d}": SimpleNamespace(isup=True, duplex=0, speed=0, mtu=1500, flags="up")
        for n in range(300)
    }
    monkeypatch.setattr(psutil, "net_if_stats", lambda: many)
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: {})
    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic: {})
    monkeypatch.setattr("fleetwatch_agent.collect.counters.__defaults__", (tmp_path,))
    monkeypatch.setattr("fleetwatch_agent.collect.interface_type.__defaults__", (tmp_path,))
    names = [i["name"] for i in collect.interfaces()]
    assert len(names) == collect.MAX_INTERFACES == 256
    assert (names[0], names[-1]) == ("veth0000", "veth0255")
