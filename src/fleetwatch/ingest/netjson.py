"""NetJSON DeviceMonitoring (what the OpenWrt monitoring agent POSTs) → validated data → samples.

Pure functions: validation with a JSON pointer to the first problem, the metric extraction
rules of the peer (traffic deltas, one WiFi-client sample per MAC, mobile signal of the most
evolved technology, CPU, disk and memory formulas), and the stored snapshot's clean-up.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import fastjsonschema
from jsonschema import Draft7Validator

from fleetwatch.ingest.schema import SCHEMA

ACCESS_TECHNOLOGIES = ("gsm", "cdma1x", "evdo", "umts", "lte", "5g")
_VALIDATOR = Draft7Validator(SCHEMA)
_FAST_VALIDATE = fastjsonschema.compile(SCHEMA)
_TIME_FORMATS = ("%d-%m-%Y_%H:%M:%S.%f", "%d-%m-%Y_%H:%M:%S")


class NetJSONError(ValueError):
    """An invalid report; ``path`` is a JSON pointer such as ``#/resources/load``."""

    def __init__(self, message: str, path: str = "#"):
        self.path = path
        self.reason = message
        super().__init__(f'Invalid data in "{path}", validator says: {message}')


def _pointer(parts) -> str:
    return "#" + "".join(f"/{p}" for p in parts)


def validate(data: object) -> dict:
    """The report if valid; otherwise NetJSONError for the first error in document order.

    The compiled validator answers the common case fast; jsonschema words the error."""
    try:
        _FAST_VALIDATE(data)
        return data  # type: ignore[return-value]
    except fastjsonschema.JsonSchemaException:
        pass
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        error = errors[0]
        raise NetJSONError(error.message, _pointer(error.absolute_path))
    return data  # type: ignore[return-value]


def parse_time(value: str) -> datetime:
    """The agent's ``time`` parameter (UTC): ``DD-MM-YYYY_HH:MM:SS[.ffffff]``."""
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except (ValueError, TypeError):
            continue
    raise ValueError("Incorrect time format")


@dataclass(frozen=True)
class MetricSample:
    configuration: str
    measurement: str
    name: str
    field_name: str
    main_tags: dict = field(default_factory=dict)
    fields: dict = field(default_factory=dict)
    time: datetime | None = None


def _increase(current: int | None, previous: int | None) -> int:
    """Counter increase since the previous reading; a reset (or no reading) counts whole."""
    current = current or 0
    if previous is None or previous > current:
        return current
    return current - previous


def _previous_counters(previous: dict | None) -> dict[str, dict]:
    if not previous:
        return {}
    return {i.get("name"): i.get("statistics") or {} for i in previous.get("interfaces") or []}


def _signal_samples(ifname: str, signal: dict, moment: datetime) -> list[MetricSample]:
    tech = next((t for t in reversed(ACCESS_TECHNOLOGIES) if signal.get(t)), None)
    if tech is None:
        return []
    values = signal[tech]
    tags = {"ifname": ifname}
    strength = {}
    if "rssi" in values:
        strength["signal_strength"] = float(values["rssi"])
    power = values.get("rsrp", values.get("rscp"))
    if power is not None:
        strength["signal_power"] = float(power)
    quality = {}
    if "rsrq" in values:
        quality["signal_quality"] = float(values["rsrq"])
    snr = values.get("sinr", values.get("snr", values.get("ecio")))
    if snr is not None:
        quality["snr"] = float(snr)
    samples = []
    if strength:
        samples.append(
            MetricSample(
                "signal_strength", "signal", "signal strength", "signal_strength", tags, strength, moment
            )
        )
    if quality:
        samples.append(
            MetricSample(
                "signal_quality", "signal", "signal quality", "signal_quality", tags, quality, moment
            )
        )
    samples.append(
        MetricSample(
            "access_tech",
            "signal",
            "access technology",
            "access_tech",
            tags,
            {"access_tech": ACCESS_TECHNOLOGIES.index(tech)},
            moment,
        )
    )
    return samples


def extract(data: dict, time: datetime, previous: dict | None = None) -> list[MetricSample]:
    """Samples of a validated report, stamped ``time``; ``previous`` is the previous report of
    the device (or just its interfaces' statistics) for traffic deltas."""
    samples: list[MetricSample] = []
    before = _previous_counters(previous)
    for iface in data.get("interfaces") or []:
        name = iface["name"]
        tags = {"ifname": name}
        stats = iface.get("statistics") or {}
        if "rx_bytes" in stats or "tx_bytes" in stats:
            old = before.get(name, {})
            samples.append(
                MetricSample(
                    "traffic",
                    "traffic",
                    f"{name} traffic",
                    "rx_bytes",
                    tags,
                    {
                        "rx_bytes": _increase(stats.get("rx_bytes"), old.get("rx_bytes")),
                        "tx_bytes": _increase(stats.get("tx_bytes"), old.get("tx_bytes")),
                    },
                    time,
                )
            )
        clients = (iface.get("wireless") or {}).get("clients")
        if isinstance(clients, list):
            for i, client in enumerate(clients):
                if client.get("mac"):
                    samples.append(
                        MetricSample(
                            "clients",
                            "wifi_clients",
                            f"{name} wifi clients",
                            "clients",
                            tags,
                            {"clients": client["mac"]},
                            time + timedelta(microseconds=i),
                        )
                    )
        signal = (iface.get("mobile") or {}).get("signal")
        if signal:
            samples.extend(_signal_samples(name, signal, time))
    resources = data.get("resources") or {}
    load, cpus = resources.get("load"), resources.get("cpus")
    if load and cpus:
        samples.append(
            MetricSample(
                "cpu",
                "cpu",
                "CPU usage",
                "cpu_usage",
                {},
                {
                    "cpu_usage": 100 * load[0] / cpus,
                    "load_1": float(load[0]),
                    "load_5": float(load[1]),
                    "load_15": float(load[2]),
                },
                time,
            )
        )
    disks = resources.get("disk")
    if disks:
        size = sum(d["size_bytes"] for d in disks)
        used = sum(d["used_bytes"] for d in disks)
        samples.append(
            MetricSample(
                "disk",
                "disk",
                "Disk usage",
                "used_disk",
                {},
                {"used_disk": 100 * used / size if size else 100.0},
                time,
            )
        )
    memory = resources.get("memory")
    if memory and memory.get("total"):
        free = memory["free"]
        if memory.get("available") is not None and memory["available"] > free:
            free = memory["available"]
        fields = {
            "percent_used": 100 * (1 - (free + memory["buffered"]) / memory["total"]),
            "total_memory": memory["total"],
            "free_memory": memory["free"],
            "buffered_memory": memory["buffered"],
            "shared_memory": memory["shared"],
        }
        for source, target in (("cached", "cached_memory"), ("available", "available_memory")):
            if source in memory:
                fields[target] = memory[source]
        samples.append(MetricSample("memory", "memory", "Memory usage", "percent_used", {}, fields, time))
    return samples


_DISABLES = {"NOHT": ("ht", "vht", "he"), "HT": ("vht", "he"), "VHT": ("he",), "HE": ()}


def transform_snapshot(data: dict, copy_first: bool = True) -> dict:
    """The report as kept for the device page: mobile signal values as floats, client HT/VHT/HE
    flags nulled where the radio's mode rules them out, client bitrates in Mbit/s. With
    ``copy_first=False`` the report itself is changed (ingestion, after extraction)."""
    snapshot = copy.deepcopy(data) if copy_first else data
    for iface in snapshot.get("interfaces") or []:
        signal = (iface.get("mobile") or {}).get("signal") or {}
        for values in signal.values():
            if isinstance(values, dict):
                for key, value in values.items():
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        values[key] = float(value)
        wireless = iface.get("wireless") or {}
        htmode = str(wireless.get("htmode") or "NOHT").upper()
        family = next((f for f in ("NOHT", "VHT", "HE", "HT") if htmode.startswith(f)), "NOHT")
        for client in wireless.get("clients") or []:
            for flag in _DISABLES[family]:
                if flag in client:
                    client[flag] = None
            if isinstance(client.get("bitrate"), int | float):
                client["bitrate"] = client["bitrate"] / 1000
    return snapshot
