"""The built-in metric and chart types: what OpenWrt agents and active checks produce.

The charts compute what OpenWISP Monitoring 1.3's do (reference: monitoring.md §2) and
present themselves as its chart API does (titles, summary labels, colors, fill, axes,
color scales: §3.4-3.5), so the chart API is a drop-in for its consumers. Descriptions are
our own words. Deliberate differences are listed in docs/api.md.
"""

from fleetwatch.metrics.registry import (
    DEFAULT_COLORS,
    AlertDefaults,
    ChartType,
    MetricType,
    register_chart,
    register_metric,
)
from fleetwatch.timeseries.model import ReadQuery
from fleetwatch.timeseries.queries import METRIC_FIELD, AggregateTemplate

C = DEFAULT_COLORS  # the palette by index, as the peer's declarations pick from it
GB = 1e-9  # bytes → GB, bps → Gbps (the front end rescales "adaptive_prefix" units)


def agg(
    fn: str, field: str, alias: str | None = None, scale: float | None = None, digits: int | None = None
) -> AggregateTemplate:
    """Shorthand for the built-in declarations below."""
    return AggregateTemplate(fn, field, alias, scale, digits)


TRAFFIC = dict(
    unit="adaptive_prefix+B",
    type="stackedbar+lines",
    aggregates=(agg("sum", "tx_bytes", "upload", scale=GB), agg("sum", "rx_bytes", "download", scale=GB)),
    colors=(C[7], C[0], C[1]),
    trace_type={"download": "stackedbar", "upload": "stackedbar", "total": "lines"},
    trace_order=("total", "download", "upload"),
    calculate_total=True,
    summary_labels=("Total traffic", "Total download traffic", "Total upload traffic"),
)
MOBILE = dict(type="scatter", fill="none", yaxis={"zeroline": False}, colors=(C[3], C[0]))
IPERF3 = dict(type="scatter", connect_points=True)

# Access technologies in the order of the index agents store (0 = gsm … 5 = 5g), each with
# the color the chart shows it in.
ACCESS_TECHNOLOGIES = (
    ("gsm", "#b42a0c"),
    ("cdma1x", "#dd5817"),
    ("evdo", "#df7514"),
    ("umts", "#efdd50"),
    ("lte", "#67c368"),
    ("5g", "#377873"),
)

CHARTS = [
    ChartType(
        "uptime",
        "Ping Success Rate",
        "Share of pings answered: 100% reachable, 0% unreachable, between the two the average "
        "reachability over the period (measured with fping).",
        200,
        "%",
        "bar",
        (agg("mean", METRIC_FIELD, "uptime", scale=100),),
        summary_labels=("Average Ping Success Rate",),
        colorscale={
            "max": 100,
            "min": 0,
            "label": "Rate",
            "scale": [[0, "#c13000"], [0.1, "#ec7204"], [0.5, "#deed0e"], [0.9, "#90d000"], [1, "#7db201"]],
            "map": [
                [100, "#7db201", "Flawless"],
                [90, "#90d000", "Mostly Reachable"],
                [50, "#deed0e", "Partly Reachable"],
                [10, "#ec7204", "Mostly Unreachable"],
                [None, "#c13000", "Unreachable"],
            ],
            "fixed_value": 100,
        },
    ),
    ChartType(
        "packet_loss",
        "Packet loss",
        "Share of ICMP probe packets lost (measured with fping).",
        210,
        "%",
        "bar",
        (agg("mean", "loss", "packet_loss"),),
        summary_labels=("Average packet loss",),
        colors=(C[3],),
    ),
    ChartType(
        "rtt",
        "Round Trip Time",
        "Round trip time of ICMP probes in milliseconds: average, worst and best.",
        220,
        " ms",
        "scatter",
        (
            agg("mean", "rtt_avg", "RTT_average"),
            agg("mean", "rtt_max", "RTT_max"),
            agg("mean", "rtt_min", "RTT_min"),
        ),
        summary_labels=("Average RTT", "Average Max RTT", "Average Min RTT"),
    ),
    ChartType(
        "wifi_clients",
        "WiFi clients: {ifname}",
        'Distinct WiFi clients associated to the wireless interface "{ifname}".',
        230,
        "",
        "bar",
        (agg("count_distinct", METRIC_FIELD, "wifi_clients"),),
        required_tags=("ifname",),
        summary_labels=("Total Unique WiFi clients",),
    ),
    ChartType(
        "gen_wifi_clients",
        "General WiFi Clients",
        "Distinct WiFi clients across the whole network.",
        230,
        "",
        "bar",
        (agg("count_distinct", METRIC_FIELD, "wifi_clients"),),
        scope="general",
        optional_tags=("ifname",),
        summary_labels=("Total Unique WiFi clients",),
    ),
    ChartType(
        "traffic",
        "Traffic: {ifname}",
        'Bytes through the interface "{ifname}": total, downloaded and uploaded.',
        240,
        required_tags=("ifname",),
        **TRAFFIC,
    ),
    ChartType(
        "general_traffic",
        "General Traffic",
        "Bytes through the whole network: total, downloaded and uploaded.",
        240,
        scope="general",
        optional_tags=("ifname",),
        fill="none",
        **TRAFFIC,
    ),
    ChartType(
        "memory",
        "Memory Usage",
        "Share of the memory (RAM) in use.",
        250,
        "%",
        "scatter",
        (agg("mean", "percent_used", "memory_usage"),),
        summary_labels=("Memory Usage",),
        colors=(C[4],),
    ),
    ChartType(
        "cpu",
        "CPU Load",
        "One-minute load average as a share of the available CPUs.",
        260,
        "%",
        "scatter",
        (agg("mean", "cpu_usage", "CPU_load"),),
        summary_labels=("CPU Load",),
        colors=(C[7],),
    ),
    ChartType(
        "disk",
        "Disk Usage",
        "Share of disk space in use, over all partitions.",
        270,
        "%",
        "scatter",
        (agg("mean", "used_disk", "disk_usage"),),
        summary_labels=("Disk Usage",),
        colors=(C[9],),
    ),
    ChartType(
        "signal_strength",
        "Signal Strength (RSSI)",
        "Mobile signal strength (RSSI) and signal power (RSRP or RSCP), in dBm.",
        205,
        " dBm",
        aggregates=(
            agg("mean", "signal_strength", "signal_strength", digits=0),
            agg("mean", "signal_power", "signal_power", digits=0),
        ),
        summary_labels=("Average Signal Power (RSRP)", "Average Signal Strength (RSSI)"),
        **MOBILE,
    ),
    ChartType(
        "signal_quality",
        "Signal Quality (RSRQ)",
        "Mobile signal quality (RSRQ) and signal-to-noise ratio (SNR), in dB.",
        206,
        " dB",
        aggregates=(
            agg("mean", "signal_quality", "signal_quality", digits=0),
            agg("mean", "snr", "signal_to_noise_ratio", digits=0),
        ),
        summary_labels=("Average Signal Quality (RSRQ)", "Average Signal to Noise Ratio (SNR)"),
        **MOBILE,
    ),
    ChartType(
        "access_tech",
        "Access Technology",
        "The mobile access technology (GSM, UMTS, LTE, 5G…) used most in each period.",
        207,
        "",
        "bar",
        (agg("mode", "access_tech", "access_tech"),),
        colorscale={
            "label": "",
            # [index, color, name], most evolved first
            "map": [[i, color, name] for i, (name, color) in reversed(list(enumerate(ACCESS_TECHNOLOGIES)))],
            "max": 5,
            "min": 0,
            "scale": [
                [0, "#b42a0c"],
                [0.1, "#dd5817"],
                [0.2, "#df7514"],
                [0.5, "#efdd50"],
                [0.8, "#67c368"],
                [1, "#377873"],
            ],
            "fixed_value": 100,
        },
    ),
    ChartType(
        "bandwidth",
        "Bandwidth",
        "Bit rate of the iperf3 test, TCP and UDP.",
        280,
        "adaptive_prefix+bps",
        aggregates=(
            agg("mean", "sent_bps_tcp", "TCP", scale=GB),
            agg("mean", "sent_bps_udp", "UDP", scale=GB),
        ),
        summary_labels=("TCP bitrate", "UDP bitrate"),
        colors=(C[0], C[3]),
        fill="none",
        **IPERF3,
    ),
    ChartType(
        "transfer",
        "Transferred Data",
        "Data sent by the iperf3 test, TCP and UDP.",
        290,
        "adaptive_prefix+B",
        aggregates=(
            agg("sum", "sent_bytes_tcp", "TCP", scale=GB),
            agg("sum", "sent_bytes_udp", "UDP", scale=GB),
        ),
        summary_labels=("TCP transferred data", "UDP transferred data"),
        colors=(C[0], C[3]),
        fill="none",
        **IPERF3,
    ),
    ChartType(
        "retransmits",
        "Retransmits",
        "TCP retransmits of the iperf3 test.",
        300,
        "",
        aggregates=(agg("mean", "retransmits", "retransmits"),),
        summary_labels=("Retransmits",),
        colors=(C[7],),
        **IPERF3,
    ),
    ChartType(
        "jitter",
        "Jitter",
        "Variation of latency in the iperf3 UDP test, in milliseconds.",
        330,
        " ms",
        aggregates=(agg("mean", "jitter", "jitter"),),
        summary_labels=("Jitter",),
        colors=(C[4],),
        **IPERF3,
    ),
    ChartType(
        "datagram",
        "Datagram",
        "Datagrams lost and sent in the iperf3 UDP test.",
        340,
        "",
        aggregates=(
            agg("mean", "lost_packets", "lost_datagram"),
            agg("mean", "total_packets", "total_datagram"),
        ),
        summary_labels=("Lost datagram", "Total datagram"),
        colors=(C[3], C[2]),
        fill="none",
        **IPERF3,
    ),
    ChartType(
        "datagram_loss",
        "Datagram Loss",
        "Share of datagrams lost in the iperf3 UDP test.",
        350,
        "%",
        aggregates=(agg("mean", "lost_percent", "datagram_loss"),),
        summary_labels=("Datagram loss",),
        colors=(C[3],),
        **IPERF3,
    ),
]

IPERF3_FIELDS = (
    "sent_bps_tcp",
    "received_bps_tcp",
    "sent_bytes_tcp",
    "received_bytes_tcp",
    "retransmits",
    "sent_bytes_udp",
    "sent_bps_udp",
    "jitter",
    "total_packets",
    "lost_packets",
    "lost_percent",
)

# Sensor stations (fleetwatch.ingest.stations, sensor-stations.md B.2): GPS fixes, boot counts and
# tag detections per antenna port, from their typed message lines.
STATION_CHARTS = [
    ChartType(
        "gps",
        "GPS fix",
        "The station's position from its GPS fixes: latitude and longitude (degrees, the mean of the "
        "fixes in the period) and altitude (metres).",
        400,
        "",
        "scatter",
        (
            agg("mean", "lat", "latitude", digits=6),
            agg("mean", "lon", "longitude", digits=6),
            agg("mean", "alt", "altitude", digits=1),
        ),
        summary_labels=("Latitude", "Longitude", "Altitude"),
    ),
    ChartType(
        "boot_count",
        "Boot count",
        "How many times the station has started (the highest count it reported in the period).",
        410,
        "",
        "scatter",
        (agg("max", "boot_count", "boot_count"),),
        summary_labels=("Boot count",),
        connect_points=True,
    ),
    ChartType(
        "detections",
        "Tag detections: port {port}",
        'Tag detections on the antenna port "{port}": how many in the period, and their mean '
        "signal strength (dB).",
        420,
        "",
        "scatter",
        (agg("count", "sig", "detections"), agg("mean", "sig", "signal", digits=1)),
        required_tags=("port",),
        summary_labels=("Detections", "Mean signal"),
    ),
]
STATION_METRICS = [
    MetricType("gps", "GPS fix", "GPS fix", "gps", "lat", ("lon", "alt"), ("gps",), notification=False),
    MetricType(
        "boot_count",
        "Boot count",
        "Boot count",
        "boot_count",
        "boot_count",
        (),
        ("boot_count",),
        notification=False,
    ),
    MetricType(
        "detections",
        "Tag detections",
        "Tag detections",
        "detections",
        "sig",
        ("freq", "noise", "tag"),
        ("detections",),
        notification=False,
    ),
]

METRICS = [
    MetricType(
        "ping",
        "Ping",
        "Ping",
        "ping",
        "reachable",
        ("loss", "rtt_min", "rtt_max", "rtt_avg"),
        ("uptime", "packet_loss", "rtt"),
        AlertDefaults("<", 1, 30),
    ),
    MetricType(
        "config_applied",
        "Configuration applied",
        "Configuration Applied",
        "config_applied",
        "config_applied",
        alert=AlertDefaults("<", 1, 10),
        retention="short",
    ),
    MetricType(
        "traffic", "Traffic", "{name}", "{key}", "rx_bytes", ("tx_bytes",), ("traffic",), notification=False
    ),
    MetricType(
        "general_traffic",
        "General traffic",
        "General Traffic",
        "traffic",
        "rx_bytes",
        ("tx_bytes",),
        ("general_traffic",),
        notification=False,
    ),
    MetricType(
        "clients", "WiFi clients", "{name}", "{key}", "clients", (), ("wifi_clients",), notification=False
    ),
    MetricType(
        "wifi_clients_max",
        "Maximum WiFi clients",
        "{name}",
        "wifi_clients_max",
        "clients",
        alert=AlertDefaults(">", 50, 120),
    ),
    MetricType(
        "wifi_clients_min",
        "Minimum WiFi clients",
        "{name}",
        "wifi_clients_min",
        "clients",
        alert=AlertDefaults("<", 1, 0),
    ),
    MetricType(
        "data_collected",
        "Monitoring data collected",
        "Monitoring Data Collected",
        "data_collected",
        "data_collected",
        alert=AlertDefaults("<", 1, 30),
        retention="short",
    ),
    MetricType(
        "reporting",
        "Reporting",
        "Reporting",
        "reporting",
        "reporting",
        alert=AlertDefaults("<", 1, 0),
        retention="short",
    ),
    MetricType(
        "connected",
        "Connected",
        "Connected",
        "connected",
        "connected",
        alert=AlertDefaults("<", 1, 0),
        retention="short",
    ),
    MetricType(
        "general_clients",
        "General WiFi clients",
        "General WiFi Clients",
        "wifi_clients",
        "clients",
        (),
        ("gen_wifi_clients",),
        notification=False,
    ),
    MetricType(
        "disk", "Disk usage", "Disk usage", "disk", "used_disk", (), ("disk",), AlertDefaults(">", 90, 0)
    ),
    MetricType(
        "memory",
        "Memory usage",
        "Memory usage",
        "memory",
        "percent_used",
        (
            "total_memory",
            "free_memory",
            "buffered_memory",
            "shared_memory",
            "cached_memory",
            "available_memory",
        ),
        ("memory",),
        AlertDefaults(">", 95, 30),
    ),
    MetricType(
        "cpu",
        "CPU usage",
        "CPU usage",
        "cpu",
        "cpu_usage",
        ("load_1", "load_5", "load_15"),
        ("cpu",),
        AlertDefaults(">", 90, 30),
    ),
    MetricType(
        "signal_strength",
        "Signal strength",
        "{name}",
        "{key}",
        "signal_strength",
        ("signal_power",),
        ("signal_strength",),
        notification=False,
    ),
    MetricType(
        "signal_quality",
        "Signal quality",
        "signal quality",
        "signal",
        "signal_quality",
        ("snr",),
        ("signal_quality",),
        notification=False,
    ),
    MetricType(
        "access_tech",
        "Access technology",
        "access technology",
        "signal",
        "access_tech",
        (),
        ("access_tech",),
        notification=False,
    ),
    MetricType(
        "iperf3",
        "Iperf3",
        "Iperf3",
        "iperf3",
        "iperf3_result",
        IPERF3_FIELDS,
        ("bandwidth", "transfer", "retransmits", "jitter", "datagram", "datagram_loss"),
        AlertDefaults("<", 1, 0),
        notification=False,
    ),
]


# Line protocol in (fleetwatch.protocols.write): Telegraf's common inputs, each measurement as
# Telegraf names it and its fields. A metric row per (device, measurement, the line's other
# tags); the charts average each bucket (net's byte counters are totals since boot: the chart
# shows the highest reading of each bucket). Any other measurement takes "lineprotocol".
TELEGRAF_CHARTS = [
    ChartType(
        "telegraf_cpu",
        "CPU: {cpu}",
        'Share of CPU time of "{cpu}" in user, system and I/O wait (Telegraf\'s cpu input).',
        300,
        "%",
        "scatter",
        (
            agg("mean", "usage_user", "user", digits=2),
            agg("mean", "usage_system", "system", digits=2),
            agg("mean", "usage_iowait", "iowait", digits=2),
        ),
        summary_labels=("Average user", "Average system", "Average I/O wait"),
    ),
    ChartType(
        "telegraf_mem",
        "Memory",
        "Share of memory in use (Telegraf's mem input).",
        310,
        "%",
        "scatter",
        (agg("mean", "used_percent", "used", digits=2),),
        summary_labels=("Average memory used",),
    ),
    ChartType(
        "telegraf_disk",
        "Disk: {path}",
        'Share of the file system mounted on "{path}" in use (Telegraf\'s disk input).',
        320,
        "%",
        "scatter",
        (agg("mean", "used_percent", "used", digits=2),),
        summary_labels=("Average disk used",),
    ),
    ChartType(
        "telegraf_net",
        "Network: {interface}",
        'Bytes received and sent through "{interface}" since boot (Telegraf\'s net input).',
        330,
        "adaptive_prefix+B",
        "scatter",
        (agg("max", "bytes_recv", "received"), agg("max", "bytes_sent", "sent")),
        summary_labels=("Bytes received", "Bytes sent"),
    ),
    ChartType(
        "telegraf_system",
        "Load average",
        "System load over 1, 5 and 15 minutes (Telegraf's system input).",
        340,
        "",
        "scatter",
        (
            agg("mean", "load1", "load1", digits=2),
            agg("mean", "load5", "load5", digits=2),
            agg("mean", "load15", "load15", digits=2),
        ),
        summary_labels=("Average load 1m", "Average load 5m", "Average load 15m"),
    ),
    ChartType(
        "telegraf_processes",
        "Processes",
        "Processes by state (Telegraf's processes input).",
        350,
        "",
        "scatter",
        (
            agg("mean", "total", "total", digits=1),
            agg("mean", "running", "running", digits=1),
            agg("mean", "blocked", "blocked", digits=1),
            agg("mean", "zombies", "zombies", digits=1),
        ),
        summary_labels=("Average total", "Average running", "Average blocked", "Average zombies"),
    ),
    ChartType(
        "lineprotocol",
        "{metric}",
        "Average of the measurement's first numeric field, written as line protocol.",
        390,
        "",
        "scatter",
        (agg("mean", METRIC_FIELD, "value"),),
    ),
]

TELEGRAF_METRICS = [
    MetricType("telegraf_cpu", "CPU (Telegraf)", "{name}", "cpu", "usage_user", (), ("telegraf_cpu",)),
    MetricType("telegraf_mem", "Memory (Telegraf)", "{name}", "mem", "used_percent", (), ("telegraf_mem",)),
    MetricType("telegraf_disk", "Disk (Telegraf)", "{name}", "disk", "used_percent", (), ("telegraf_disk",)),
    MetricType("telegraf_net", "Network (Telegraf)", "{name}", "net", "bytes_recv", (), ("telegraf_net",)),
    MetricType("telegraf_system", "System (Telegraf)", "{name}", "system", "load1", (), ("telegraf_system",)),
    MetricType(
        "telegraf_processes",
        "Processes (Telegraf)",
        "{name}",
        "processes",
        "total",
        (),
        ("telegraf_processes",),
    ),
    # Any other measurement: charted by its first numeric field; one without numbers, not charted.
    MetricType("lineprotocol", "Line protocol", "{name}", "{key}", "value", (), ("lineprotocol",)),
    MetricType("lineprotocol_values", "Line protocol (no numbers)", "{name}", "{key}", "value"),
]

# Measurement → the metric type of its rows (fleetwatch.protocols.write).
LINEPROTOCOL_METRICS = {m.key: m.name for m in TELEGRAF_METRICS if m.key != "{key}"}


# The latest raw NetJSON report of each device (field "data", a JSON string), kept in the
# short retention tier; ``?status=true`` is served from the database's copy instead.
DEVICE_DATA_MEASUREMENT = "device_data"
DEVICE_DATA_RETENTION = "short"


def device_data_query(pk: str) -> ReadQuery:
    """The latest raw NetJSON snapshot stored for a device (tag ``pk``)."""
    return ReadQuery(
        DEVICE_DATA_MEASUREMENT,
        fields=["data"],
        tags={"pk": pk},
        order="desc",
        limit=1,
        retention=DEVICE_DATA_RETENTION,
    )


def register_builtin() -> None:
    for chart in CHARTS + STATION_CHARTS + TELEGRAF_CHARTS:
        register_chart(chart.name, chart)
    for metric in METRICS + STATION_METRICS + TELEGRAF_METRICS:
        register_metric(metric.name, metric)
