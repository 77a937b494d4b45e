"""The built-in chart queries, as declarations (no backend query text anywhere).

Each ``ChartTemplate`` names its aggregates and which tags scope it; ``template.query(...)``
turns it into a ``ChartQuery`` for a time range. The 19 templates reproduce the peer's
InfluxQL charts (reference: monitoring.md §2), with one deliberate fix: the iperf3 charts
honour a custom end date like every other chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fleetwatch.timeseries.errors import InvalidQuery
from fleetwatch.timeseries.model import Aggregate, ChartQuery, ReadQuery, TagFilter

GB = 1e-9  # bytes → GB, bps → Gbps (the front end rescales "adaptive_prefix" units)

# Tags a device ("object") chart is always scoped by.
OBJECT_TAGS = ("content_type", "object_id")
# Optional filters of organisation-wide ("general") charts.
GENERAL_TAGS = ("organization_id", "location_id", "floorplan_id")


@dataclass(frozen=True)
class ChartTemplate:
    """A chart's aggregates and scope. ``{field_name}`` in a field is the metric's field."""

    name: str
    aggregates: tuple[Aggregate, ...]
    required_tags: tuple[str, ...] = OBJECT_TAGS
    optional_tags: tuple[str, ...] = ()
    group_by: str | None = None
    cumulative: bool = False

    def query(
        self,
        measurement: str,
        start: datetime,
        end: datetime | None = None,
        interval: str = "1h",
        timezone: str = "UTC",
        tags: Mapping[str, TagFilter] | None = None,
        field_name: str | None = None,
        retention: str = "default",
    ) -> ChartQuery:
        tags = {k: v for k, v in (tags or {}).items() if v not in (None, "", [], ())}
        missing = [key for key in self.required_tags if key not in tags]
        if missing:
            raise InvalidQuery(f"chart {self.name!r} needs the tag(s) {', '.join(missing)}")
        unknown = set(tags) - set(self.required_tags) - set(self.optional_tags)
        if unknown:
            raise InvalidQuery(f"chart {self.name!r} cannot filter by {', '.join(sorted(unknown))}")
        aggregates = [self._concrete(agg, field_name) for agg in self.aggregates]
        return ChartQuery(
            measurement=measurement,
            aggregates=aggregates,
            start=start,
            end=end,
            interval=interval,
            timezone=timezone,
            tags=tags,
            group_by=self.group_by,
            cumulative=self.cumulative,
            retention=retention,
        )

    def _concrete(self, agg: Aggregate, field_name: str | None) -> Aggregate:
        if agg.field != "field_name":
            return agg
        if not field_name:
            raise InvalidQuery(f"chart {self.name!r} needs the metric's field name")
        return Aggregate(agg.fn, field_name, agg.alias, agg.scale, agg.digits)


def _object(
    name: str, *aggregates: Aggregate, extra: Sequence[str] = (), optional: Sequence[str] = ()
) -> ChartTemplate:
    return ChartTemplate(name, tuple(aggregates), OBJECT_TAGS + tuple(extra), tuple(optional))


def _general(name: str, *aggregates: Aggregate) -> ChartTemplate:
    return ChartTemplate(name, tuple(aggregates), (), (*GENERAL_TAGS, "ifname"))


# "field_name" stands for the metric's own field (``{field_name}`` in the peer's templates).
_FIELD = "field_name"

CHART_QUERIES: dict[str, ChartTemplate] = {
    t.name: t
    for t in [
        _object("uptime", Aggregate("mean", _FIELD, "uptime", scale=100)),
        _object("packet_loss", Aggregate("mean", "loss", "packet_loss")),
        _object(
            "rtt",
            Aggregate("mean", "rtt_avg", "RTT_average"),
            Aggregate("mean", "rtt_max", "RTT_max"),
            Aggregate("mean", "rtt_min", "RTT_min"),
        ),
        _object("wifi_clients", Aggregate("count_distinct", _FIELD, "wifi_clients"), extra=("ifname",)),
        _general("general_wifi_clients", Aggregate("count_distinct", _FIELD, "wifi_clients")),
        _object(
            "traffic",
            Aggregate("sum", "tx_bytes", "upload", scale=GB),
            Aggregate("sum", "rx_bytes", "download", scale=GB),
            extra=("ifname",),
        ),
        _general(
            "general_traffic",
            Aggregate("sum", "tx_bytes", "upload", scale=GB),
            Aggregate("sum", "rx_bytes", "download", scale=GB),
        ),
        _object("memory", Aggregate("mean", "percent_used", "memory_usage")),
        _object("cpu", Aggregate("mean", "cpu_usage", "CPU_load")),
        _object("disk", Aggregate("mean", "used_disk", "disk_usage")),
        _object(
            "signal_strength",
            Aggregate("mean", "signal_strength", "signal_strength", digits=0),
            Aggregate("mean", "signal_power", "signal_power", digits=0),
            optional=("ifname",),
        ),
        _object(
            "signal_quality",
            Aggregate("mean", "signal_quality", "signal_quality", digits=0),
            Aggregate("mean", "snr", "signal_to_noise_ratio", digits=0),
            optional=("ifname",),
        ),
        _object("access_tech", Aggregate("mode", "access_tech", "access_tech"), optional=("ifname",)),
        _object(
            "bandwidth",
            Aggregate("mean", "sent_bps_tcp", "TCP", scale=GB),
            Aggregate("mean", "sent_bps_udp", "UDP", scale=GB),
        ),
        _object(
            "transfer",
            Aggregate("sum", "sent_bytes_tcp", "TCP", scale=GB),
            Aggregate("sum", "sent_bytes_udp", "UDP", scale=GB),
        ),
        _object("retransmits", Aggregate("mean", "retransmits", "retransmits")),
        _object("jitter", Aggregate("mean", "jitter", "jitter")),
        _object(
            "datagram",
            Aggregate("mean", "lost_packets", "lost_datagram"),
            Aggregate("mean", "total_packets", "total_datagram"),
        ),
        _object("datagram_loss", Aggregate("mean", "lost_percent", "datagram_loss")),
    ]
}


def default_raw_query(
    measurement: str,
    field_name: str,
    tags: Mapping[str, TagFilter] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    retention: str = "default",
) -> ReadQuery:
    """A chart without a query shows the raw values of the metric's field, oldest first."""
    return ReadQuery(
        measurement, fields=[field_name], tags=tags, since=since, until=until, retention=retention
    )


DEVICE_DATA_MEASUREMENT = "device_data"
DEVICE_DATA_RETENTION = "short"


def device_data_query(pk: str) -> ReadQuery:
    """The latest raw NetJSON snapshot of a device (field ``data``, a JSON string)."""
    return ReadQuery(
        DEVICE_DATA_MEASUREMENT,
        fields=["data"],
        tags={"pk": pk},
        order="desc",
        limit=1,
        retention=DEVICE_DATA_RETENTION,
    )
