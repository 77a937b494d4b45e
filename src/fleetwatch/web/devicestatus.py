"""The "Status" section of the device page: its view-model, built from the device's latest
NetJSON DeviceMonitoring snapshot (``monitoring.DeviceState.data``, the ``data`` of the chart
API's ``?status=true``).

Pure functions: a snapshot (a dict, as the agent sent it after ``transform_snapshot``) and its
time in, plain values out (strings ready to show, datetimes for the template's ``date``
filter, which renders them in the user's time zone). Nothing here touches the database.

Reports are validated loosely (``fleetwatch.ingest.schema``: most keys optional, extra keys
allowed), so every reader here takes what is there and leaves out what is not: a section
absent from the report is ``None`` (the template leaves it out), a value absent from a row
is ``""``. A value of an unexpected type is shown as the agent sent it, never an error.

MAC vendors come from the IEEE OUI registry that ``netaddr`` ships (offline, no lookup over
the network); a locally administered MAC (randomised by phones, or made up by a hypervisor)
has no vendor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime

import netaddr

# Mobile access technologies, most evolved first: the one shown is the first the modem reports
# (as the signal metrics choose, fleetwatch.ingest.netjson).
TECHNOLOGIES = (
    ("5g", "5G"),
    ("lte", "LTE"),
    ("umts", "UMTS"),
    ("evdo", "EVDO"),
    ("cdma1x", "CDMA 1x"),
    ("gsm", "GSM"),
)
# Signal values of a modem: key, label, unit.
SIGNAL_VALUES = (
    ("rssi", "RSSI", "dBm"),
    ("rsrp", "RSRP", "dBm"),
    ("rscp", "RSCP", "dBm"),
    ("rsrq", "RSRQ", "dB"),
    ("snr", "SNR", "dB"),
    ("sinr", "SINR", "dB"),
    ("ecio", "Ec/Io", "dB"),
    ("io", "Io", "dBm"),
)
# A WiFi client's flags, shown when true, in this order.
CLIENT_FLAGS = (
    ("auth", "auth"),
    ("authorized", "authorized"),
    ("assoc", "assoc"),
    ("preauth", "preauth"),
    ("wmm", "WMM"),
    ("mfp", "MFP"),
    ("ht", "HT"),
    ("vht", "VHT"),
    ("he", "HE"),
    ("wds", "WDS"),
    ("wps", "WPS"),
)
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def mac_vendor(mac: object) -> str:
    """The organization the IEEE registered ``mac``'s OUI to (``"Apple, Inc."``), from the
    registry shipped in ``netaddr``; ``""`` for a locally administered or multicast address,
    an unregistered OUI, or anything that is not a MAC address (of any type)."""
    if not isinstance(mac, str) or not mac:
        return ""
    return _registered(mac)


@functools.lru_cache(maxsize=4096)  # a page repeats MACs (client, lease, neighbour)
def _registered(mac: str) -> str:
    try:
        eui = netaddr.EUI(mac)
        if eui.version != 48:
            return ""
        first = eui.words[0]
        if first & 0b11:  # locally administered (bit 1) or multicast (bit 0): no registered owner
            return ""
        return eui.oui.registration().org.strip()
    except (netaddr.AddrFormatError, netaddr.NotRegisteredError, TypeError, ValueError, IndexError):
        return ""


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value) -> str:
    """A value as shown: ``""`` for None, ``yes``/``no`` for booleans, else ``str``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def size(value) -> str:
    """Bytes in binary units with one decimal (``1536`` → ``"1.5 KiB"``, ``512`` → ``"512 B"``);
    ``""`` for a value that is not a number."""
    if not _number(value):
        return _text(value)
    amount, unit = float(value), 0
    while abs(amount) >= 1024 and unit < len(_UNITS) - 1:
        amount /= 1024
        unit += 1
    return f"{int(amount)} B" if unit == 0 else f"{amount:.1f} {_UNITS[unit]}"


def count(value) -> str:
    """An integer counter with thousands separators (``1234567`` → ``"1,234,567"``)."""
    return f"{int(value):,}" if _number(value) else _text(value)


def with_unit(value, unit: str) -> str:
    """``"-95 dBm"``; ``""`` when the value is absent."""
    text = _text(value)
    return f"{text} {unit}" if text else ""


_SPANS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds) -> str:
    """Seconds in the largest unit and the next one unless it is zero (``8003`` → ``"2h 13m"``,
    ``90061`` → ``"1d 1h"``, ``300`` → ``"5m"``, ``42`` → ``"42s"``; the rest is dropped);
    the value as it came for anything that is not a number."""
    if not _number(seconds):
        return _text(seconds)
    total = max(0, int(seconds))
    for n, (unit, span) in enumerate(_SPANS):
        if total >= span or span == 1:
            text = f"{total // span}{unit}"
            if span > 1:
                smaller, size_ = _SPANS[n + 1]
                rest = total % span // size_
                if rest:
                    text += f" {rest}{smaller}"
            return text
    return "0s"  # unreachable: the last span is 1


def relative(target: int | float, reference: int | float) -> str:
    """``target`` (Unix seconds) said relative to ``reference``: ``"in 5m"``, ``"2h 3m ago"``,
    ``"now"`` within a second."""
    delta = target - reference
    if abs(delta) < 1:
        return "now"
    return f"in {duration(delta)}" if delta > 0 else f"{duration(-delta)} ago"


def _epoch(value) -> datetime | None:
    if not _number(value):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


@dataclass
class Row:
    """A label and the value shown beside it."""

    label: str
    value: str


@dataclass
class Disk:
    mount_point: str
    filesystem: str
    size: str
    used: str
    available: str
    used_percent: str


@dataclass
class Address:
    """``address`` with its mask (``"192.168.1.2/24"``), ``family`` (ipv4/ipv6), ``proto``."""

    family: str
    address: str
    proto: str


@dataclass
class Interface:
    """One interface: what every interface has, then its wireless radio's settings (empty
    strings when it has none, ``wireless`` false)."""

    name: str
    type: str
    state: str  # "up", "down" or "" (not reported)
    mac: str
    mtu: str
    speed: str
    addresses: list[Address]
    rx: str  # "1.2 MiB (1,234 packets)"
    tx: str
    errors: str  # "rx 0 / tx 0", "" when not reported
    dropped: str
    bridge_members: str
    wireless: bool = False
    mode: str = ""
    ssid: str = ""
    channel: str = ""
    frequency: str = ""
    tx_power: str = ""
    noise: str = ""
    signal: str = ""
    htmode: str = ""
    country: str = ""


@dataclass
class Client:
    mac: str
    vendor: str
    signal: str
    flags: str
    bitrate: str


@dataclass
class Radio:
    """A wireless interface with its associated clients."""

    interface: str
    ssid: str
    mode: str
    clients: list[Client]


@dataclass
class Modem:
    interface: str
    operator: str  # "YES OPTUS (50502)"
    technology: str  # "LTE"
    signal: list[Row]
    connection_status: str
    power_status: str
    model: str  # "Sierra Wireless, Incorporated MC7430"
    imei: str


@dataclass
class Lease:
    ip: str
    mac: str
    vendor: str
    name: str
    client_id: str
    expiry: datetime | None  # None: no expiry (infinite) or not reported
    expires: str  # relative to the report's time: "in 5m", "3m ago", "never"


@dataclass
class Neighbor:
    ip: str
    mac: str
    vendor: str
    interface: str
    state: str


@dataclass
class DeviceStatus:
    """The Status section: the snapshot's time, then one entry per section; a section the
    report does not carry is ``None`` (or an empty list), and the template leaves it out."""

    time: datetime | None
    general: list[Row] | None = None
    resources: list[Row] | None = None
    disks: list[Disk] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    radios: list[Radio] = field(default_factory=list)
    modems: list[Modem] = field(default_factory=list)
    leases: list[Lease] | None = None
    neighbors: list[Neighbor] | None = None


def device_status(data, time: datetime | None, facts: dict | None = None) -> DeviceStatus | None:
    """The Status section of a device from its latest snapshot ``data`` (the NetJSON report as
    kept, a dict) taken at ``time`` (the report's time, ``DeviceState.data_time``).

    ``facts``: what the device said of itself when it registered (``{"os", "model",
    "system"}``, ``inventory.Device``), shown among the general rows when not empty.

    Returns None when there is no snapshot (``data`` empty or not a dict): the page then shows
    no Status section at all.
    """
    if not isinstance(data, dict) or not data:
        return None
    general_data = _dict(data.get("general"))
    # Lease expiries are epochs of the router's own clock: said relative to that clock's
    # reading in the same report (general.local_time), else to the report's time.
    reference = general_data.get("local_time")
    if not _number(reference):
        reference = time.timestamp() if time is not None else None
    status = DeviceStatus(time=time)
    status.general = _general(general_data, _dict(data.get("resources")), facts or {})
    resources = data.get("resources")
    if isinstance(resources, dict):
        status.resources = _resources(resources)
        status.disks = [_disk(d) for d in _list(resources.get("disk"))]
    for iface in _list(data.get("interfaces")):
        status.interfaces.append(_interface(iface))
        wireless = iface.get("wireless")
        if isinstance(wireless, dict) and "clients" in wireless:
            status.radios.append(
                Radio(
                    interface=_text(iface.get("name")),
                    ssid=_text(wireless.get("ssid")),
                    mode=_text(wireless.get("mode")).replace("_", " "),
                    clients=[_client(c) for c in _list(wireless.get("clients"))],
                )
            )
        mobile = iface.get("mobile")
        if isinstance(mobile, dict):
            status.modems.append(_modem(_text(iface.get("name")), mobile))
    if isinstance(data.get("dhcp_leases"), list):
        status.leases = [_lease(lease, reference) for lease in _list(data["dhcp_leases"])]
    if isinstance(data.get("neighbors"), list):
        status.neighbors = [_neighbor(n) for n in _list(data["neighbors"])]
    return status


def _general(general: dict, resources: dict, facts: dict) -> list[Row] | None:
    rows = []
    if general.get("hostname") is not None:
        rows.append(Row("Hostname", _text(general["hostname"])))
    for key, label in (("os", "Firmware"), ("model", "Model"), ("system", "System")):
        if facts.get(key):
            rows.append(Row(label, str(facts[key])))
    if general.get("uptime") is not None:
        rows.append(Row("Uptime", duration(general["uptime"])))
    local = _epoch(general.get("local_time"))
    if local is not None:
        rows.append(Row("Local time", local.strftime("%Y-%m-%d %H:%M:%S UTC")))
    load = resources.get("load")
    if isinstance(load, list) and load:
        rows.append(Row("Load", " ".join(f"{v:.2f}" if _number(v) else _text(v) for v in load)))
    if resources.get("cpus") is not None:
        rows.append(Row("CPUs", _text(resources["cpus"])))
    return rows or None


def _used(total, free) -> str:
    """``"12.3 MiB of 238.2 MiB (5%)"``."""
    if not (_number(total) and _number(free)):
        return ""
    if total <= 0:
        return "none"
    used = total - free
    return f"{size(used)} of {size(total)} ({round(100 * used / total)}%)"


def _resources(resources: dict) -> list[Row] | None:
    rows = []
    memory = _dict(resources.get("memory"))
    if memory:
        free = memory.get("free")
        available = memory.get("available")
        # As the memory metric: "available" when the kernel reports it (it counts reclaimable
        # caches), else free plus buffers.
        if _number(available) and _number(free) and available > free:
            free = available
        elif _number(free) and _number(memory.get("buffered")):
            free = free + memory["buffered"]
        rows.append(Row("Memory used", _used(memory.get("total"), free)))
        for key, label in (
            ("total", "Memory total"),
            ("free", "Memory free"),
            ("available", "Memory available"),
            ("buffered", "Buffered"),
            ("cached", "Cached"),
            ("shared", "Shared"),
        ):
            if key in memory:
                rows.append(Row(label, size(memory[key])))
    swap = _dict(resources.get("swap"))
    if swap:
        rows.append(Row("Swap used", _used(swap.get("total"), swap.get("free"))))
    for key, label in (("flash", "Flash used"), ("storage", "Storage used")):
        part = _dict(resources.get(key))
        if part:
            rows.append(Row(label, _used(part.get("total"), part.get("free"))))
    connections = _dict(resources.get("connections"))
    for family in ("ipv4", "ipv6"):
        counts = _dict(connections.get(family))
        if counts:
            rows.append(
                Row(
                    f"Connections {family.replace('ip', 'IP')}",
                    ", ".join(f"{_text(counts[p])} {p.upper()}" for p in ("tcp", "udp") if p in counts),
                )
            )
    processes = _dict(resources.get("processes"))
    if processes:
        rows.append(Row("Processes", ", ".join(f"{_text(v)} {k}" for k, v in processes.items())))
    return rows or None


def _disk(disk: dict) -> Disk:
    percent = disk.get("used_percent")
    if not _number(percent) and _number(disk.get("used_bytes")) and _number(disk.get("size_bytes")):
        percent = round(100 * disk["used_bytes"] / disk["size_bytes"]) if disk["size_bytes"] else 0
    return Disk(
        mount_point=_text(disk.get("mount_point")),
        filesystem=_text(disk.get("filesystem")),
        size=size(disk.get("size_bytes")),
        used=size(disk.get("used_bytes")),
        available=size(disk.get("available_bytes")),
        used_percent=f"{_text(percent)}%" if _number(percent) else "",
    )


def _traffic(stats: dict, direction: str) -> str:
    octets, packets = stats.get(f"{direction}_bytes"), stats.get(f"{direction}_packets")
    if octets is None and packets is None:
        return ""
    if packets is None:
        return size(octets)
    if octets is None:
        return f"{count(packets)} packets"
    return f"{size(octets)} ({count(packets)} packets)"


def _pair(stats: dict, suffix: str) -> str:
    rx, tx = stats.get(f"rx_{suffix}"), stats.get(f"tx_{suffix}")
    if rx is None and tx is None:
        return ""
    return f"rx {count(rx) if rx is not None else '-'} / tx {count(tx) if tx is not None else '-'}"


def _address(entry: dict) -> Address:
    address = _text(entry.get("address"))
    if entry.get("mask") is not None:
        address = f"{address}/{_text(entry['mask'])}"
    return Address(family=_text(entry.get("family")), address=address, proto=_text(entry.get("proto")))


def _interface(iface: dict) -> Interface:
    stats = _dict(iface.get("statistics"))
    up = iface.get("up")
    members = iface.get("bridge_members")
    result = Interface(
        name=_text(iface.get("name")),
        type=_text(iface.get("type")),
        state=("up" if up else "down") if isinstance(up, bool) else "",
        mac=_text(iface.get("mac")),
        mtu=_text(iface.get("mtu")),
        speed=_text(iface.get("speed")),
        addresses=[_address(a) for a in _list(iface.get("addresses"))],
        rx=_traffic(stats, "rx"),
        tx=_traffic(stats, "tx"),
        errors=_pair(stats, "errors"),
        dropped=_pair(stats, "dropped"),
        bridge_members=", ".join(_text(m) for m in members) if isinstance(members, list) else "",
    )
    wireless = iface.get("wireless")
    if isinstance(wireless, dict):
        result.wireless = True
        result.mode = _text(wireless.get("mode")).replace("_", " ")
        result.ssid = _text(wireless.get("ssid"))
        result.channel = _text(wireless.get("channel"))
        result.frequency = with_unit(wireless.get("frequency"), "MHz")
        result.tx_power = with_unit(wireless.get("tx_power"), "dBm")
        result.noise = with_unit(wireless.get("noise"), "dBm")
        result.signal = with_unit(wireless.get("signal"), "dBm")
        result.htmode = _text(wireless.get("htmode"))
        result.country = _text(wireless.get("country"))
    return result


def _client(client: dict) -> Client:
    mac = _text(client.get("mac"))
    bitrate = client.get("bitrate")  # Mbit/s in the snapshot (transform_snapshot)
    return Client(
        mac=mac,
        vendor=_vendor(mac, client.get("vendor")),
        signal=with_unit(client.get("signal"), "dBm"),
        flags=", ".join(label for key, label in CLIENT_FLAGS if client.get(key) is True),
        bitrate=f"{bitrate:g} Mbit/s" if _number(bitrate) else "",
    )


def _vendor(mac: str, reported) -> str:
    """The registry's name for the MAC's OUI; else what the agent reported, unless the MAC is
    locally administered (a randomised address has no vendor, whatever was guessed)."""
    found = mac_vendor(mac)
    if found:
        return found
    if isinstance(reported, str) and reported.strip() and not _local(mac):
        return reported.strip()
    return ""


def _local(mac: str) -> bool:
    try:
        return bool(netaddr.EUI(mac).words[0] & 0b10)
    except (netaddr.AddrFormatError, TypeError, ValueError, IndexError):
        return False


def _modem(name: str, mobile: dict) -> Modem:
    signal = _dict(mobile.get("signal"))
    technology, values = "", {}
    for key, label in TECHNOLOGIES:
        if isinstance(signal.get(key), dict):
            technology, values = label, signal[key]
            break
    rows = [Row(label, with_unit(values[key], unit)) for key, label, unit in SIGNAL_VALUES if key in values]
    operator = _text(mobile.get("operator_name"))
    code = _text(mobile.get("operator_code"))
    if code:
        operator = f"{operator} ({code})" if operator else code
    model = " ".join(_text(mobile.get(k)) for k in ("manufacturer", "model") if mobile.get(k))
    return Modem(
        interface=name,
        operator=operator,
        technology=technology,
        signal=rows,
        connection_status=_text(mobile.get("connection_status")),
        power_status=_text(mobile.get("power_status")),
        model=model,
        imei=_text(mobile.get("imei")),
    )


def _lease(lease: dict, reference) -> Lease:
    mac = _text(lease.get("mac"))
    expiry = lease.get("expiry")
    name = _text(lease.get("client_name"))
    if _number(expiry) and expiry > 0:
        expires = relative(expiry, reference) if reference is not None else ""
        when = _epoch(expiry)
    else:  # dnsmasq writes 0 for a lease that never expires
        expires, when = ("never", None) if _number(expiry) else ("", None)
    return Lease(
        ip=_text(lease.get("ip")),
        mac=mac,
        vendor=_vendor(mac, lease.get("vendor")),
        name="" if name == "*" else name,  # dnsmasq's "*": the client sent no name
        client_id=_text(lease.get("client_id")),
        expiry=when,
        expires=expires,
    )


def _neighbor(neighbor: dict) -> Neighbor:
    mac = _text(neighbor.get("mac"))
    return Neighbor(
        ip=_text(neighbor.get("ip")),
        mac=mac,
        vendor=_vendor(mac, neighbor.get("vendor")),
        interface=_text(neighbor.get("interface")),
        state=_text(neighbor.get("state")),
    )
