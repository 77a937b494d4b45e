"""OpenAPI descriptions of the monitoring endpoints (agent reports, device charts, dashboard):
their bodies are built by hand, not by serializers, so their shapes are written out here."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from fleetwatch.timeseries.buckets import DEFAULT_RANGE, PREDEFINED_RANGES

ERROR = {"$ref": "#/components/schemas/Error"}
NULLABLE_NUMBER = {"type": "number", "nullable": True}

CHART = {
    "type": "object",
    "description": "One chart: its presentation (type, unit, colours …, declared per chart type in "
    "the metric registry: docs/metrics.md) and its data. `traces` are `[name, values]` pairs, one "
    "value per bucket of `x` (null: no data); `summary` is one value per trace over the window. "
    "A chart of raw values (no aggregate) carries its own `x`.",
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "type": {"type": "string"},
        "unit": {"type": "string"},
        "colors": {"type": "array", "items": {"type": "string"}},
        "colorscale": {"type": "object", "nullable": True, "additionalProperties": True},
        "summary_labels": {"type": "array", "items": {"type": "string"}},
        "x": {"type": "array", "items": {"type": "string"}},
        "traces": {
            "type": "array",
            "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {}},
        },
        "summary": {"type": "object", "additionalProperties": {}},
    },
    "required": ["title", "type", "unit", "traces", "summary"],
    "additionalProperties": True,
}
X = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Bucket start times, `YYYY-MM-DD HH:MM` in the requested time zone.",
}
HEALTH = ["unknown", "ok", "problem", "critical", "deactivated"]
DEVICE_CHARTS = {
    "type": "object",
    "description": "The device's fields (see docs/api.md), then `x` and `charts`.",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "organization": {"type": "string", "format": "uuid"},
        "mac_address": {"type": "string", "nullable": True},
        "management_ip": {"type": "string", "nullable": True},
        "key": {"type": "string"},
        "is_active": {"type": "boolean"},
        "last_seen": {"type": "string", "format": "date-time", "nullable": True},
        "health_status": {"type": "string", "enum": HEALTH},
        "monitoring": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": HEALTH},
                "related_metrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "is_healthy": {"type": "boolean", "nullable": True},
                        },
                    },
                },
            },
        },
        "created": {"type": "string", "format": "date-time"},
        "x": X,
        "charts": {"type": "array", "items": CHART},
        "data": {
            "type": "object",
            "nullable": True,
            "additionalProperties": True,
            "description": "With `status=true` only: the latest NetJSON snapshot (null: none yet).",
        },
    },
    "required": ["id", "name", "organization", "x", "charts"],
    "additionalProperties": True,
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
    400: OpenApiResponse(ERROR, description="A bad window (`time`, `start`/`end`, `timezone`)."),
    401: OpenApiResponse(ERROR, description="Neither a key nor credentials."),
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
]
REPORT_RESPONSES = {
    200: OpenApiResponse(
        {"type": "object", "nullable": True, "enum": [None]},  # the body is `null`
        description="`null`: stored (the same report again changes nothing).",
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
