"""NetJSON DeviceMonitoring (what the OpenWrt monitoring agent POSTs) → validated data → samples.

Pure functions: decoding and validation with a JSON pointer to the first problem, the metric
extraction rules of the peer (traffic deltas, one WiFi-client sample per MAC, mobile signal of
the most evolved technology, CPU, disk and memory formulas), and the stored snapshot's clean-up.

Validation is tolerant where the agent's real payloads differ from the peer's schema (see
:func:`validate`): a part Fleetwatch does not store never costs the whole report.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import fastjsonschema
from jsonschema import Draft7Validator

from fleetwatch.ingest.jsonrules import MAX_DEPTH, TOO_DEEP, deeper_than, finite_float
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


class InvalidJSON(NetJSONError):
    """A body that is not JSON (or not UTF-8) at all."""

    def __init__(self, message: str):
        super().__init__(message)
        self.args = (f"Invalid JSON: {message}",)

    def __str__(self) -> str:
        return self.args[0]


def _pointer(parts) -> str:
    return "#" + "".join(f"/{p}" for p in parts)


class _NotFinite:
    """Stands for NaN, ±Infinity or a float beyond double range while a body is decoded."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def decode(body: bytes | str) -> object:
    """A JSON body → Python objects, or NetJSONError with the JSON pointer of the problem.

    Refused: invalid JSON or UTF-8, numbers no store can keep (``NaN``, ``Infinity``, ``1e400``),
    nesting deeper than :data:`MAX_DEPTH`, and strings (keys included) holding NUL or a lone
    UTF-16 surrogate, which PostgreSQL's ``jsonb`` and UTF-8 encoders cannot take."""
    odd: list[str] = []

    def constant(text: str) -> _NotFinite:
        odd.append(text)
        return _NotFinite(text)

    def number(text: str) -> float | _NotFinite:
        try:
            return finite_float(text)
        except ValueError:
            odd.append(text)
            return _NotFinite(text)

    try:
        data = json.loads(body, parse_constant=constant, parse_float=number)
    except RecursionError:
        raise NetJSONError(TOO_DEEP, "#") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJSON(str(exc)) from None
    escapes = b"\\u" in body if isinstance(body, bytes) else "\\u" in body
    if odd or escapes or deeper_than(data, MAX_DEPTH):
        _check_tree(data, [], strings=escapes)  # finds the first problem and its path
    return data


def _bad_string(text: str) -> bool:
    return "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _check_tree(node, path: list, strings: bool) -> None:
    """Depth (the rule of :func:`~fleetwatch.ingest.jsonrules.deeper_than`: ``node`` is at level
    ``len(path) + 1``), non-finite numbers and (when the body had ``\\u`` escapes) unstorable
    strings."""
    if len(path) >= MAX_DEPTH:
        raise NetJSONError(TOO_DEEP, _pointer(path))
    if type(node) is dict:
        items = node.items()
    elif type(node) is list:
        items = enumerate(node)
    else:
        return
    for key, value in items:
        kind = type(value)
        if kind is dict or kind is list:
            path.append(key)
            _check_tree(value, path, strings)
            path.pop()
        elif kind is _NotFinite:
            raise NetJSONError(f"{value.text} is not a finite number", _pointer([*path, key]))
        elif strings and kind is str and _bad_string(value):
            raise NetJSONError("NUL and lone surrogates cannot be stored", _pointer([*path, key]))
        if strings and type(key) is str and _bad_string(key):
            raise NetJSONError("NUL and lone surrogates cannot be stored", _pointer([*path, key]))


# Where an invalid value is never acceptable: these values become points (or tags), so a report
# carrying a wrong one is refused whole. Anywhere else, what fails the schema is left out.
_STORED = (
    ("type",),
    ("interfaces", int, "name"),
    ("interfaces", int, "statistics", "rx_bytes"),
    ("interfaces", int, "statistics", "tx_bytes"),
    ("interfaces", int, "wireless", "clients", int, "mac"),
    ("resources", "load"),
    ("resources", "cpus"),
    *(("resources", "memory", k) for k in ("total", "free", "buffered", "shared", "cached", "available")),
    ("resources", "disk", int, "size_bytes"),
    ("resources", "disk", int, "used_bytes"),
)
_REPAIR_ROUNDS = 20


def _is_stored(path: tuple) -> bool:
    for pattern in _STORED:
        if len(path) >= len(pattern) and all(
            (type(p) is int) if want is int else p == want for p, want in zip(path, pattern, strict=False)
        ):
            return True
    return False


def validate(data: object, dropped: list[str] | None = None) -> dict:
    """The report, repaired where a part Fleetwatch does not store is unusable; otherwise
    NetJSONError for the first error in document order.

    Refused (the error names its JSON pointer): not an object, a wrong ``type``, and invalid values
    in the fields that become points or tags (:data:`_STORED`: interface names, traffic counters,
    client MACs, load, CPUs, memory, disk sizes). Repaired, in the report itself: ``null`` is taken
    as absent, ``{}`` where an array is expected as ``[]``, and any other part that fails the schema
    is left out (a mobile signal section with no usable value, a client with a malformed flag …).
    The pointers of what was left out are appended to ``dropped``. The compiled validator answers
    the common (valid) case fast; jsonschema words the errors."""
    try:
        _FAST_VALIDATE(data)
        return _unique_interfaces(data)
    except fastjsonschema.JsonSchemaException:
        pass
    for _ in range(_REPAIR_ROUNDS):
        if not isinstance(data, dict):
            break
        errors = sorted(
            _VALIDATOR.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message)
        )
        if not errors:
            return _unique_interfaces(data)
        repairs = []
        for error in errors:
            path = tuple(error.absolute_path)
            if not path or (_is_stored(path) and error.instance is not None):
                raise NetJSONError(_message(error), _pointer(path))
            wants_array = error.validator == "type" and "array" in str(error.validator_value)
            repairs.append((path, [] if wants_array and error.instance == {} else None))
        _apply(data, repairs, dropped)
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    raise NetJSONError(errors[0].message if errors else "too many invalid parts", "#")


def _message(error) -> str:
    if error.validator == "pattern":  # the only pattern: what a tag value may not hold
        if any(ord(c) < 32 or ord(c) == 127 for c in error.instance):
            return f"{error.instance!r} contains a control character"
        return f"{error.instance!r} has a backslash at its end or before ',', '=' or a space"
    return error.message


def _unique_interfaces(data: dict) -> dict:
    """Two interfaces of one name would write the same points: refused."""
    seen = set()
    for i, iface in enumerate(data.get("interfaces") or []):
        if iface["name"] in seen:
            raise NetJSONError(f"{iface['name']!r} is named twice", f"#/interfaces/{i}/name")
        seen.add(iface["name"])
    return data


def _apply(data, repairs: list[tuple[tuple, object]], dropped: list[str] | None) -> None:
    """Replace (``[]`` for ``{}``) or remove each path; array items from the last one, so the
    indexes of the others stay right."""

    def order(item):
        return tuple((0, p, "") if type(p) is int else (1, 0, p) for p in item[0])

    done = set()
    for path, replacement in sorted(repairs, key=order, reverse=True):
        if path in done or any(path[:n] in done for n in range(1, len(path))):
            continue
        done.add(path)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if replacement is not None:
            parent[path[-1]] = replacement
        else:
            del parent[path[-1]]
            if dropped is not None:
                dropped.append(_pointer(path))


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


def increase(current: int | None, previous: int | None) -> int:
    """Counter increase since the previous reading; a reset (or no reading) counts whole."""
    current = current or 0
    if previous is None or previous > current:
        return current
    return current - previous


# Traffic points keep the counters they were computed from, so a late or re-sent reading can be
# placed between its neighbours (see docs/architecture.md, "Traffic from counters").
COUNTER_FIELDS = {"rx_bytes": "rx_counter", "tx_bytes": "tx_counter"}


def traffic_fields(stats: dict, previous: dict | None) -> dict:
    """The fields of a traffic point: ``rx_bytes``/``tx_bytes`` increases since ``previous`` (a
    reading's counters, ``{"rx_bytes": n, "tx_bytes": n}``, or None) and the counters themselves."""
    previous = previous or {}
    fields = {name: increase(stats.get(name), previous.get(name)) for name in COUNTER_FIELDS}
    for name, counter in COUNTER_FIELDS.items():
        if stats.get(name) is not None:
            fields[counter] = stats[name]
    return fields


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
            samples.append(
                MetricSample(
                    "traffic",
                    "traffic",
                    f"{name} traffic",
                    "rx_bytes",
                    tags,
                    traffic_fields(stats, before.get(name)),
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
