"""JSON schema (draft 7) of the NetJSON DeviceMonitoring report the OpenWrt agent sends."""

_INT = {"type": "integer"}
_NUM = {"type": "number"}
_STR = {"type": "string"}


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
        "mac": _STR,
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
    required=("mfp",),
)

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
        "name": _STR,
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
        "statistics": _obj({k: _INT for k in _COUNTER_NAMES}),
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
            required=("tx_power",),
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
            required=("model",),
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
        "used_bytes": _INT,
        "available_bytes": _INT,
        "used_percent": _INT,
        "size_bytes": _INT,
    },
    required=("mount_point", "filesystem", "used_bytes", "available_bytes", "used_percent", "size_bytes"),
    extra=False,
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
                "cpus": _INT,
                "memory": _obj(
                    {k: _INT for k in ("total", "free", "buffered", "shared", "cached", "available")},
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
                required=("client_id",),
                extra=False,
            ),
        },
        "neighbors": {
            "type": "array",
            "items": _obj(
                {"ip": _STR, "mac": _STR, "interface": _STR, "state": _STR, "vendor": _STR},
                required=("interface",),
                extra=False,
            ),
        },
    },
}
