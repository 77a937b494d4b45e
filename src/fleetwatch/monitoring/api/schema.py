"""OpenAPI descriptions of the monitoring endpoints (agent reports, device charts, dashboard):
their bodies are built by hand, not by serializers, so their shapes are written out here."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from fleetwatch.timeseries.buckets import DEFAULT_RANGE, PREDEFINED_RANGES

ERROR = {"$ref": "#/components/schemas/Error"}
NULLABLE_NUMBER = {"type": "number", "nullable": True}

NULLABLE_STRING = {"type": "string", "nullable": True}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

# One chart, exactly as ``ChartType.as_json`` (fleetwatch.metrics.registry) and the chart API
# build it: the presentation keys always there (null when not declared), the optional ones only
# when the chart type sets them, then the data. No other key.
CHART = {
    "type": "object",
    "description": "One chart: its presentation (declared per chart type in the metric registry: "
    "docs/metrics.md) and its data. `traces` are `[name, values]` pairs, one value per bucket of "
    "`x` (null: no data); `summary` is one value per trace over the window (null for a chart of "
    "raw values). A chart of raw values (no aggregate) carries its own `x`, the points' times. "
    "`fill`, `xaxis`, `yaxis`, `trace_type`, `trace_order`, `calculate_total`, `connect_points` "
    "and `trace_labels` are there only when the chart type sets them.",
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "type": {"type": "string", "description": "Plotly-like: `scatter`, `bar`, `stackedbar+lines` …"},
        "unit": {"type": "string", "description": "`%`, `dBm`, `adaptive_prefix+B` …; may be empty."},
        "summary_labels": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "colors": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "colorscale": {
            "type": "object",
            "nullable": True,
            "description": "A heat map's scale (signal quality …).",
            "properties": {
                "max": {"type": "number"},
                "min": {"type": "number"},
                "label": {"type": "string"},
                "scale": {"type": "array", "items": {"type": "array", "items": {}}},
            },
            "required": ["max", "min", "label", "scale"],
            "additionalProperties": True,
        },
        "fill": {"type": "string"},
        "xaxis": {"type": "object", "additionalProperties": True},
        "yaxis": {"type": "object", "additionalProperties": True},
        "trace_type": {**STRING_MAP, "description": "Trace name → how it is drawn."},
        "trace_order": {"type": "array", "items": {"type": "string"}},
        "calculate_total": {"type": "boolean", "enum": [True]},
        "connect_points": {"type": "boolean", "enum": [True]},
        "trace_labels": {**STRING_MAP, "description": "Trace name → its label."},
        "x": {
            "type": "array",
            "items": {"type": "string"},
            "description": "A chart of raw values only: its points' times, `YYYY-MM-DD HH:MM`.",
        },
        "traces": {
            "type": "array",
            "items": {
                "type": "array",
                "minItems": 2,
                "maxItems": 2,
                "description": "`[name, values]`.",
                "items": {"oneOf": [{"type": "string"}, {"type": "array", "items": NULLABLE_NUMBER}]},
            },
        },
        "summary": {"type": "object", "additionalProperties": NULLABLE_NUMBER},
    },
    "required": [
        "title",
        "description",
        "type",
        "unit",
        "summary_labels",
        "colors",
        "colorscale",
        "traces",
        "summary",
    ],
    "additionalProperties": False,
}
X = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Bucket start times, `YYYY-MM-DD HH:MM` in the requested time zone (`[]`: no "
    "chart has data).",
}
HEALTH = ["unknown", "ok", "problem", "critical", "deactivated"]
# The chart API's answer: the device fields of OpenWISP Monitoring's device view
# (``device_summary`` in views.py; docs/api.md), then ``x``, ``charts`` and, with ``status``,
# ``data``. Fields Fleetwatch does not keep are there with the peer's empty value.
DEVICE_CHARTS = {
    "type": "object",
    "description": "The device's fields as OpenWISP Monitoring's device view answers them "
    '(`group`, `last_ip`, `modified`: always null; `model`, `os`, `system`, `notes`: always ""; '
    "see docs/api.md), then `x` and `charts`; `data` with `status=true` only.",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "organization": {"type": "string", "format": "uuid"},
        "group": {"type": "string", "format": "uuid", "nullable": True},
        "mac_address": NULLABLE_STRING,
        "key": {"type": "string", "nullable": True},  # null unless an administrator asks
        "last_ip": NULLABLE_STRING,
        "management_ip": NULLABLE_STRING,
        "model": {"type": "string"},
        "os": {"type": "string"},
        "system": {"type": "string"},
        "notes": {"type": "string"},
        "monitoring": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": HEALTH},
                "related_metrics": {
                    "type": "array",
                    "description": "Every metric of the device, by name, and its health (null: "
                    "not evaluated).",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "is_healthy": {"type": "boolean", "nullable": True},
                        },
                        "required": ["name", "is_healthy"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["status", "related_metrics"],
            "additionalProperties": False,
        },
        "created": {"type": "string", "format": "date-time"},
        "modified": {"type": "string", "format": "date-time", "nullable": True},
        "x": X,
        "charts": {"type": "array", "items": CHART},
        "data": {
            "type": "object",
            "nullable": True,
            "additionalProperties": True,
            "description": "With `status=true` (or `1`) only: the latest NetJSON snapshot (null: none yet).",
        },
    },
    "required": [
        "id",
        "name",
        "organization",
        "group",
        "mac_address",
        "key",
        "last_ip",
        "management_ip",
        "model",
        "os",
        "system",
        "notes",
        "monitoring",
        "created",
        "modified",
        "x",
        "charts",
    ],
    "additionalProperties": False,
}
DASHBOARD = {
    "type": "object",
    "properties": {
        "x": X,
        "charts": {"type": "array", "items": CHART},
        "organizations": {
            "type": "array",
            "description": "When the user belongs to several organizations: all of them.",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string", "description": "slug"}, "text": {"type": "string"}},
                "required": ["id", "text"],
            },
        },
    },
    "required": ["x", "charts"],
    "additionalProperties": False,
}

WINDOW_PARAMETERS = [
    OpenApiParameter(
        "time",
        str,
        enum=list(PREDEFINED_RANGES),
        description=f"The window up to now (default {DEFAULT_RANGE}); ignored when start and end are given.",
    ),
    OpenApiParameter(
        "start",
        str,
        description="With end: a custom window, `YYYY-MM-DD HH:MM:SS` in `timezone`, at most 365 "
        "days, not before 1900-01-01.",
    ),
    OpenApiParameter("end", str, description="See start."),
    OpenApiParameter("timezone", str, description="IANA time zone of the buckets (default UTC)."),
    OpenApiParameter(
        "precision",
        str,
        enum=["rounded", "exact"],
        description="`rounded` (default): values rounded as OpenWISP Monitoring rounds them (2 "
        "decimals, 4 below 0.01), traffic in GB and bit rates in Gbps. `exact` (a Fleetwatch "
        "extension): nothing rounded, and `adaptive_prefix+…` charts in the base unit (bytes, "
        "bits per second). Another value: 400.",
    ),
]

CHART_PARAMETERS = [
    OpenApiParameter(
        "key", str, description="The device's key: the agent's access. Without it: a session or a token."
    ),
    *WINDOW_PARAMETERS,
    OpenApiParameter(
        "status", str, enum=["true", "1"], description="Add `data`, the latest snapshot of the device."
    ),
    OpenApiParameter(
        "csv",
        str,
        description="Any non-empty value: the charts as CSV (`time`, then one `<trace> - <chart title>` "
        "column per trace), offered as `<device name>-charts.csv`.",
    ),
]
CHART_RESPONSES = {
    (200, "application/json"): OpenApiResponse(DEVICE_CHARTS, description="The device and its charts."),
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="With `csv`: the charts as CSV."),
    400: OpenApiResponse(
        ERROR, description="A bad window (`time`, `start`/`end`, `timezone`) or `precision`."
    ),
    401: OpenApiResponse(
        ERROR, description="Neither a key nor credentials (or an unknown token): `WWW-Authenticate: Token`."
    ),
    403: OpenApiResponse(ERROR, description="A wrong key."),
    404: OpenApiResponse(ERROR, description="No such device for you (with a key: no such active device)."),
}

REPORT = {
    "type": "object",
    "description": "NetJSON DeviceMonitoring, as the OpenWrt monitoring agent sends it (see "
    "docs/api.md for what is validated). At most 32 levels of nesting; finite numbers only.",
    "properties": {"type": {"type": "string", "enum": ["DeviceMonitoring"]}},
    "required": ["type"],
    "additionalProperties": True,
}
REPORT_PARAMETERS = [
    OpenApiParameter("key", str, required=True, description="The device's key."),
    OpenApiParameter(
        "time",
        str,
        description="When the sample was taken, `DD-MM-YYYY_HH:MM:SS[.ffffff]` UTC (an agent's "
        "buffered sample); default now.",
    ),
    OpenApiParameter(
        "features",
        str,
        description="A hub-style agent's feature letters (`c`: it runs remote commands; may be "
        'empty): the answer is then `{}` or `{"cmd": …}`, its next command (docs/commands.md).',
    ),
]
COMMAND = {
    "type": "object",
    "properties": {
        "seq": {"type": "integer"},
        "action": {"type": "string", "enum": ["exec", "reboot", "restart", "test", "logs"]},
        "argument": {"type": "string"},
    },
    "required": ["seq", "action", "argument"],
    "additionalProperties": False,
}
REPORT_RESPONSES = {
    200: OpenApiResponse(
        # `null` (the OpenWrt agent's answer); with `features`: an object.
        {"type": "object", "nullable": True, "properties": {"cmd": COMMAND}, "additionalProperties": False},
        description="`null`: stored (the same report again changes nothing). With `features`: "
        '`{}`, or `{"cmd": {"seq", "action", "argument"}}`, the oldest command not finished.',
    ),
    400: OpenApiResponse(
        ERROR, description="Never acceptable (invalid JSON or data, with its JSON pointer); nothing written."
    ),
    403: OpenApiResponse(ERROR, description="A wrong or missing key."),
    404: OpenApiResponse(ERROR, description="No such active device (or its organization is disabled)."),
    503: OpenApiResponse(
        ERROR, description="A store is unavailable or busy; nothing written: keep the sample and retry."
    ),
}
REPORT_EXAMPLE = OpenApiExample(
    "A minimal report",
    value={
        "type": "DeviceMonitoring",
        "interfaces": [{"name": "wan", "statistics": {"rx_bytes": 1000, "tx_bytes": 200}}],
    },
    request_only=True,
)

DASHBOARD_PARAMETERS = [
    OpenApiParameter("organization_slug", str, description="Comma-separated slugs (at most 100)."),
    OpenApiParameter("location_id", str, description="Comma-separated location UUIDs (at most 100)."),
    OpenApiParameter(
        "ifname",
        str,
        description="Comma-separated interfaces summed by the traffic chart (default wan, eth1, eth0.2).",
    ),
    *WINDOW_PARAMETERS,
]
DASHBOARD_RESPONSES = {
    200: OpenApiResponse(DASHBOARD, description="Organization-wide charts."),
    404: OpenApiResponse(ERROR, description="An organization slug or location that is not yours."),
}
