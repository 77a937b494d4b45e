"""JSON schema (draft 7) of the NetJSON DeviceMonitoring report the OpenWrt agent sends.

Bounds are what the stores can keep: integers fit a signed 64-bit field (InfluxDB's and
Elasticsearch's ``long``), counters are not negative, names that become tags are non-empty and
free of control characters (a newline would end a line-protocol line). Where this schema is
looser than the peer's (``required`` keys Fleetwatch does not use), docs/api.md says why.
"""

INT64_MAX = 2**63 - 1
_INT = {"type": "integer", "minimum": -INT64_MAX - 1, "maximum": INT64_MAX}
_COUNTER = {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
_NUM = {"type": "number"}
_STR = {"type": "string"}
# A tag value: 1 to 255 characters, none of them a control character, and no backslash that
# ends it or precedes ",", "=" or a space (InfluxDB's line protocol cannot carry those).
_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^(?!.*\\\\([,= ]|$))[^\\x00-\\x1f\\x7f]*$",
}


def _obj(properties: dict, required: tuple = (), extra: bool = True) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


_SIGNAL_LTE = _obj({"rssi": _NUM, "rsrp": _NUM, "rsrq": _NUM, "snr": _NUM})
_SIGNAL_LTE["anyOf"] = [{"required": [k]} for k in ("rssi", "rsrp", "rsrq", "snr")]

_CLIENT = _obj(
    {
        **{
            k: {"type": "boolean"}
            for k in ("auth", "authorized", "ht", "vht", "he", "wmm", "mfp", "wds", "wps", "assoc", "preauth")
        },
        # Numbers rather than integers: rejecting a report makes the agent discard it for good.
        "mac": _NAME,
        "aid": _INT,
        "signal": _NUM,
        "noise": _NUM,
        "bitrate": _NUM,
        "quality": _NUM,
        "quality_max": _NUM,
        "vendor": _STR,
        "signature": _STR,
        "rrm": {"type": "array", "items": _INT, "minItems": 5, "maxItems": 5},
    },
)  # the peer requires "mfp"; a client is counted by its MAC alone

_COUNTER_NAMES = (
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

_INTERFACE = _obj(
    {
        "name": _NAME,
        "type": _STR,
        "uptime": _INT,
        "up": {"type": "boolean"},
        "mac": _STR,
        "mtu": _INT,
        "txqueuelen": _INT,
        "speed": _STR,
        "multicast": {"type": "boolean"},
        "bridge_members": {"type": "array", "items": _STR},
        "stp": {"type": "boolean"},
        "statistics": _obj({k: _COUNTER for k in _COUNTER_NAMES}),
        "wireless": _obj(
            {
                "channel": _INT,
                "country": _STR,
                "frequency": _INT,
                "mode": _STR,
                "noise": _INT,
                "ssid": _STR,
                "tx_power": _INT,
                "signal": _INT,
                "htmode": _STR,
                "clients": {"type": "array", "items": _CLIENT},
            },
        ),
        "mobile": _obj(
            {
                "imei": _STR,
                "operator_code": _STR,
                "operator_name": _STR,
                "connection_status": _STR,
                "power_status": _STR,
                "manufacturer": _STR,
                "model": _STR,
                "signal": _obj(
                    {
                        "gsm": _obj({"rssi": _NUM}, required=("rssi",)),
                        "cdma1x": _obj({"rssi": _NUM, "ecio": _NUM}, required=("rssi", "ecio")),
                        "evdo": _obj(
                            {"rssi": _NUM, "ecio": _NUM, "io": _NUM, "sinr": _NUM},
                            required=("rssi", "ecio", "io", "sinr"),
                        ),
                        "umts": _obj({"ecio": _NUM, "rssi": _NUM, "rscp": _NUM}, required=("ecio",)),
                        "lte": _SIGNAL_LTE,
                        "5g": _SIGNAL_LTE,
                    }
                ),
            },
        ),
        "addresses": {
            "type": "array",
            "items": _obj(
                {"proto": _STR, "family": {"enum": ["ipv4", "ipv6"]}, "address": _STR, "mask": _INT}
            ),
        },
    },
    required=("name",),
)

_DISK = _obj(
    {
        "mount_point": _STR,
        "filesystem": _STR,
        "used_bytes": _COUNTER,
        "available_bytes": _COUNTER,
        "used_percent": _INT,
        "size_bytes": _COUNTER,
    },
    # The peer requires all six keys and no other; disk usage needs only these two.
    required=("used_bytes", "size_bytes"),
)

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["type"],
    "additionalProperties": True,
    "properties": {
        "type": {"type": "string", "enum": ["DeviceMonitoring"]},
        "general": _obj({"local_time": _INT, "uptime": _INT, "hostname": _STR}),
        "resources": _obj(
            {
                "load": {"type": "array", "items": _NUM, "minItems": 3, "maxItems": 3},
                "cpus": {"type": "integer", "minimum": 0, "maximum": 65535},
                "memory": _obj(
                    {k: _COUNTER for k in ("total", "free", "buffered", "shared", "cached", "available")},
                    required=("total", "free", "buffered", "shared"),
                ),
                "disk": {"type": "array", "items": _DISK},
                "swap": _obj({"total": _INT, "free": _INT}),
                "connections": _obj({ip: _obj({"tcp": _INT, "udp": _INT}) for ip in ("ipv4", "ipv6")}),
                "processes": _obj(
                    {k: _INT for k in ("running", "sleeping", "blocked", "zombie", "stopped", "paging")}
                ),
                "cpu": _obj(
                    {
                        k: _INT
                        for k in ("frequency", "user", "system", "nice", "idle", "iowait", "irq", "softirq")
                    }
                ),
                "flash": _obj({"total": _INT, "free": _INT}),
                "storage": _obj({"total": _INT, "free": _INT}),
            }
        ),
        "interfaces": {"type": "array", "items": _INTERFACE},
        "dhcp_leases": {
            "type": "array",
            "items": _obj(
                {
                    "expiry": _INT,
                    "ip": _STR,
                    "mac": _STR,
                    "client_name": _STR,
                    "client_id": _STR,
                    "vendor": _STR,
                },
            ),
        },
        "neighbors": {
            "type": "array",
            "items": _obj(
                {"ip": _STR, "mac": _STR, "interface": _STR, "state": _STR, "vendor": _STR},
            ),
        },
    },
}
