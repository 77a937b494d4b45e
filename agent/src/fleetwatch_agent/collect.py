"""The host's state as a NetJSON DeviceMonitoring report (the document the OpenWrt monitoring
agent sends), from psutil and, on Linux, ``/sys/class/net``.

Only members the server's schema (``fleetwatch/ingest/schema.py``) describes, with its types:
integers where it wants integers, counters never negative, ``memory`` with its four required
keys. Temperatures have no place in that schema: they go under ``resources.temperatures``
(extra members are allowed), kept with the report but not charted.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

SYS_NET = Path("/sys/class/net")
# The kernel's interface counters the schema knows (Linux names, as /sys/class/net/*/statistics).
COUNTERS = (
    "collisions",
    "multicast",
    "rx_bytes",
    "rx_compressed",
    "rx_crc_errors",
    "rx_dropped",
    "rx_errors",
    "rx_fifo_errors",
    "rx_frame_errors",
    "rx_length_errors",
    "rx_missed_errors",
    "rx_over_errors",
    "rx_packets",
    "tx_aborted_errors",
    "tx_bytes",
    "tx_carrier_errors",
    "tx_compressed",
    "tx_dropped",
    "tx_errors",
    "tx_fifo_errors",
    "tx_heartbeat_errors",
    "tx_packets",
    "tx_window_errors",
)
# psutil's names of the same counters, where sysfs is absent (other systems).
_PSUTIL_COUNTERS = {
    "rx_bytes": "bytes_recv",
    "tx_bytes": "bytes_sent",
    "rx_packets": "packets_recv",
    "tx_packets": "packets_sent",
    "rx_errors": "errin",
    "tx_errors": "errout",
    "rx_dropped": "dropin",
    "tx_dropped": "dropout",
}
_PROCESS_STATES = {
    psutil.STATUS_RUNNING: "running",
    psutil.STATUS_SLEEPING: "sleeping",
    psutil.STATUS_IDLE: "sleeping",
    psutil.STATUS_DISK_SLEEP: "blocked",
    psutil.STATUS_ZOMBIE: "zombie",
    psutil.STATUS_STOPPED: "stopped",
    psutil.STATUS_TRACING_STOP: "stopped",
}
# The server refuses a report of more interfaces (its FLEETWATCH_MAX_INTERFACES default): a
# refused report is dropped for good, so a host with hundreds of veths reports the first ones.
MAX_INTERFACES = 256
# File systems that hold no data of their own (psutil's "physical" list already leaves most out).
_VIRTUAL_FS = {"squashfs", "tmpfs", "devtmpfs", "overlay", "iso9660"}


def report(include: Iterable[str] = ("*",), skip: Iterable[str] = ("lo",)) -> dict:
    """The whole report: ``general``, ``resources`` and ``interfaces`` (those whose name matches a
    pattern of ``include`` and none of ``skip``)."""
    return {
        "type": "DeviceMonitoring",
        "general": general(),
        "resources": resources(),
        "interfaces": interfaces(include, skip),
    }


def general() -> dict:
    """``{"hostname", "local_time" (Unix seconds), "uptime" (seconds since boot)}``."""
    now = time.time()
    return {
        "hostname": socket.gethostname(),
        "local_time": int(now),
        "uptime": max(0, int(now - psutil.boot_time())),
    }


def resources() -> dict:
    """Load, CPUs, memory, swap, disks, CPU times, processes and (where the kernel has them)
    temperatures. Memory in bytes; CPU times in hundredths of a second since boot (/proc/stat's
    USER_HZ), summed over CPUs; CPU frequency in MHz."""
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    found = {
        "load": [round(value, 2) for value in os.getloadavg()],
        "cpus": psutil.cpu_count() or 1,
        "memory": {
            "total": memory.total,
            "free": memory.free,
            # Not every system has these (psutil leaves them out); the schema wants the first two.
            "buffered": getattr(memory, "buffers", 0),
            "shared": getattr(memory, "shared", 0),
            "cached": getattr(memory, "cached", 0),
            "available": memory.available,
        },
        "swap": {"total": swap.total, "free": swap.free},
        "disk": disks(),
        "cpu": cpu(),
        "processes": processes(),
    }
    temperatures = sensors()
    if temperatures:
        found["temperatures"] = temperatures
    return found


def disks() -> list[dict]:
    """One entry per mounted file system holding data (each device once, at its first mount
    point: a bind mount would count its bytes twice in the server's disk usage)."""
    found, seen = [], set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in _VIRTUAL_FS or part.device in seen:
            continue
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:  # gone, or not ours to read
            continue
        if usage.total == 0:
            continue
        seen.add(part.device)
        found.append(
            {
                "mount_point": part.mountpoint,
                "filesystem": part.device,
                "used_bytes": usage.used,
                "available_bytes": usage.free,
                "used_percent": round(usage.percent),
                "size_bytes": usage.total,
            }
        )
    return found


def cpu() -> dict:
    """Cumulative CPU times (hundredths of a second) and the current frequency (MHz)."""
    times = psutil.cpu_times()
    found = {
        name: int(getattr(times, name) * 100)
        for name in ("user", "system", "nice", "idle", "iowait", "irq", "softirq")
        if hasattr(times, name)
    }
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError):
        freq = None
    if freq and freq.current:
        found["frequency"] = int(freq.current)
    return found


def processes() -> dict:
    """How many processes are in each state the schema names."""
    counts = dict.fromkeys(("running", "sleeping", "blocked", "zombie", "stopped"), 0)
    for process in psutil.process_iter(["status"]):
        state = _PROCESS_STATES.get(process.info["status"])
        if state:
            counts[state] += 1
    return counts


def sensors() -> list[dict]:
    """Temperatures in °C: ``[{"sensor", "label", "current", "high"?, "critical"?}]``."""
    read = getattr(psutil, "sensors_temperatures", None)
    if read is None:
        return []
    try:
        readings = read()
    except (OSError, RuntimeError):
        return []
    found = []
    for sensor, entries in sorted(readings.items()):
        for entry in entries:
            item = {"sensor": sensor, "label": entry.label or sensor, "current": float(entry.current)}
            for name, key in (("high", "high"), ("critical", "critical")):
                if getattr(entry, name) is not None:
                    item[key] = float(getattr(entry, name))
            found.append(item)
    return found


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def interface_type(name: str, loopback: bool, sys_net: Path = SYS_NET) -> str:
    """``loopback``, ``wireless``, ``bridge``, ``ethernet`` (a device behind it) or ``virtual``,
    as sysfs shows it; ``ethernet`` where there is no sysfs."""
    if loopback:
        return "loopback"
    base = sys_net / name
    if not base.exists():
        return "ethernet"
    if (base / "wireless").exists() or (base / "phy80211").exists():
        return "wireless"
    if (base / "bridge").exists():
        return "bridge"
    return "ethernet" if (base / "device").exists() else "virtual"


def counters(name: str, sys_net: Path = SYS_NET) -> dict[str, int]:
    """The interface's counters: every one of :data:`COUNTERS` sysfs has, else psutil's eight."""
    folder = sys_net / name / "statistics"
    found = {}
    if folder.is_dir():
        for counter in COUNTERS:
            try:
                found[counter] = max(0, int((folder / counter).read_text()))
            except (OSError, ValueError):
                continue
    if found:
        return found
    io = psutil.net_io_counters(pernic=True).get(name)
    if io is None:
        return {}
    return {ours: getattr(io, theirs) for ours, theirs in _PSUTIL_COUNTERS.items()}


def _prefix(netmask: str | None) -> int | None:
    if not netmask:
        return None
    try:
        return ipaddress.ip_network(f"0.0.0.0/{netmask}").prefixlen
    except ValueError:
        try:  # IPv6 masks come as addresses ("ffff:ffff::")
            return bin(int(ipaddress.IPv6Address(netmask))).count("1")
        except ValueError:
            return None


def addresses(entries) -> tuple[str | None, list[dict]]:
    """psutil's addresses of one interface → (MAC, ``[{"family", "address", "mask"}]``)."""
    mac, found = None, []
    for entry in entries:
        if entry.family == psutil.AF_LINK:
            mac = entry.address
        elif entry.family in (socket.AF_INET, socket.AF_INET6):
            item = {
                "family": "ipv4" if entry.family == socket.AF_INET else "ipv6",
                "address": entry.address.split("%", 1)[0],  # fe80::1%eth0 → fe80::1
                "proto": "static",  # psutil cannot tell DHCP from static
            }
            mask = _prefix(entry.netmask)
            if mask is not None:
                item["mask"] = mask
            found.append(item)
    return mac, found


def interfaces(include: Iterable[str] = ("*",), skip: Iterable[str] = ("lo",)) -> list[dict]:
    """The interfaces: name, type, up, MTU, speed (``"1000F"``: Mbit/s and duplex), MAC,
    addresses and counters; the first :data:`MAX_INTERFACES` by name."""
    include, skip = list(include), list(skip)
    stats = psutil.net_if_stats()
    all_addresses = psutil.net_if_addrs()
    names = [
        n for n in sorted(set(stats) | set(all_addresses)) if _matches(n, include) and not _matches(n, skip)
    ]
    found = []
    for name in names[:MAX_INTERFACES]:
        stat = stats.get(name)
        flags = getattr(stat, "flags", "") if stat else ""
        item: dict = {
            "name": name,
            "type": interface_type(name, "loopback" in flags.split(",") or name == "lo"),
        }
        if stat is not None:
            item["up"] = stat.isup
            item["mtu"] = stat.mtu
            if stat.speed > 0:
                duplex = {psutil.NIC_DUPLEX_FULL: "F", psutil.NIC_DUPLEX_HALF: "H"}.get(stat.duplex, "")
                item["speed"] = f"{stat.speed}{duplex}"
        mac, addrs = addresses(all_addresses.get(name, []))
        if mac:
            item["mac"] = mac
        item["addresses"] = addrs
        statistics = counters(name)
        if statistics:
            item["statistics"] = statistics
        found.append(item)
    return found
