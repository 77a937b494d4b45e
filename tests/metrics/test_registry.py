"""The metric and chart registry: built-in declarations, registration, validation."""

import pytest

from fleetwatch import metrics
from fleetwatch.metrics import RegistryError, get_chart, get_metric
from fleetwatch.metrics.registry import fill_in, restore, snapshot
from fleetwatch.timeseries.queries import ChartTemplate

MEAN_X = {"aggregates": [{"fn": "mean", "field": "x"}]}


@pytest.fixture(autouse=True)
def clean_registry():
    state = snapshot()
    yield
    restore(state)


def test_every_built_in_metric_type_is_there():
    assert sorted(metrics.metric_types()) == sorted(
        [
            "ping",
            "config_applied",
            "traffic",
            "general_traffic",
            "clients",
            "wifi_clients_max",
            "wifi_clients_min",
            "data_collected",
            "general_clients",
            "disk",
            "memory",
            "cpu",
            "signal_strength",
            "signal_quality",
            "access_tech",
            "iperf3",
            "reporting",  # Fleetwatch's own: the generic "no report for N minutes" check
            "connected",  # the "not connected for N minutes" check of device channels
            # sensor stations' typed message lines (fleetwatch.ingest.stations)
            "gps",
            "boot_count",
            "detections",
            # line protocol in (fleetwatch.protocols.write): Telegraf's inputs and the generic ones
            "telegraf_cpu",
            "telegraf_mem",
            "telegraf_disk",
            "telegraf_net",
            "telegraf_system",
            "telegraf_processes",
            "lineprotocol",
            "lineprotocol_values",
        ]
    )


@pytest.mark.parametrize(
    ("name", "key", "field", "alert"),
    [
        ("ping", "ping", "reachable", ("<", 1, 30)),
        ("config_applied", "config_applied", "config_applied", ("<", 1, 10)),
        ("traffic", "{key}", "rx_bytes", None),
        ("clients", "{key}", "clients", None),
        ("wifi_clients_max", "wifi_clients_max", "clients", (">", 50, 120)),
        ("wifi_clients_min", "wifi_clients_min", "clients", ("<", 1, 0)),
        ("data_collected", "data_collected", "data_collected", ("<", 1, 30)),
        ("general_clients", "wifi_clients", "clients", None),
        ("disk", "disk", "used_disk", (">", 90, 0)),
        ("memory", "memory", "percent_used", (">", 95, 30)),
        ("cpu", "cpu", "cpu_usage", (">", 90, 30)),
        ("signal_quality", "signal", "signal_quality", None),
        ("iperf3", "iperf3", "iperf3_result", ("<", 1, 0)),
    ],
)
def test_metric_types_match_the_reference(name, key, field, alert):
    metric = get_metric(name)
    assert (metric.key, metric.field_name) == (key, field)
    got = (metric.alert.operator, metric.alert.threshold, metric.alert.tolerance) if metric.alert else None
    assert got == alert


def test_short_retention_and_iperf3_without_notifications():
    assert get_metric("config_applied").retention == get_metric("data_collected").retention == "short"
    assert get_metric("ping").retention == "default"
    assert get_metric("iperf3").notification is False
    assert get_metric("traffic").measurement("traffic") == "traffic"
    assert get_metric("traffic").display_name("wan traffic") == "wan traffic"


@pytest.mark.parametrize(
    ("name", "unit", "kind", "order"),
    [
        ("uptime", "%", "bar", 200),
        ("packet_loss", "%", "bar", 210),
        ("rtt", " ms", "scatter", 220),
        ("wifi_clients", "", "bar", 230),
        ("gen_wifi_clients", "", "bar", 230),
        ("traffic", "adaptive_prefix+B", "stackedbar+lines", 240),
        ("general_traffic", "adaptive_prefix+B", "stackedbar+lines", 240),
        ("memory", "%", "scatter", 250),
        ("cpu", "%", "scatter", 260),
        ("disk", "%", "scatter", 270),
        ("signal_strength", " dBm", "scatter", 205),
        ("signal_quality", " dB", "scatter", 206),
        ("access_tech", "", "bar", 207),
        ("bandwidth", "adaptive_prefix+bps", "scatter", 280),
        ("transfer", "adaptive_prefix+B", "scatter", 290),
        ("retransmits", "", "scatter", 300),
        ("jitter", " ms", "scatter", 330),
        ("datagram", "", "scatter", 340),
        ("datagram_loss", "%", "scatter", 350),
    ],
)
def test_chart_types_match_the_reference(name, unit, kind, order):
    chart = get_chart(name)
    assert (chart.unit, chart.type, chart.order) == (unit, kind, order)
    assert isinstance(chart.template, ChartTemplate)
    assert chart.template.name == name


def test_chart_metadata_in_the_api_shape():
    body = get_chart("traffic").as_json({"ifname": "wan"})
    assert body["title"] == "Traffic: wan"
    assert body["calculate_total"] is True
    assert body["trace_order"] == ["total", "download", "upload"]
    assert "fill" not in body
    assert get_chart("signal_strength").as_json()["yaxis"] == {"zeroline": False}
    assert "connect_points" not in get_chart("cpu").as_json()


@pytest.mark.parametrize(
    ("text", "tags", "metric", "expected"),
    [
        ("Traffic: {ifname}", {"ifname": "wan"}, None, "Traffic: wan"),
        ("{metric} of {ifname}", {"ifname": "wlan0"}, "wlan0 wifi clients", "wlan0 wifi clients of wlan0"),
        ("{metric.name}", {}, "Ping", "Ping"),
        ("Traffic: {ifname}", {}, None, "Traffic: {ifname}"),  # unknown: left as written
        ("Broken {ifname", {"ifname": "wan"}, None, "Broken {ifname"),
        ("{metric.nope}", {}, "Ping", "{metric.nope}"),
    ],
)
def test_titles_are_filled_in_with_tags_and_metric(text, tags, metric, expected):
    assert fill_in(text, tags, metric) == expected


def test_a_custom_metric_and_chart_from_declarations():
    metrics.configure(
        metrics={
            "temperature": {
                "label": "Temperature",
                "metric_name": "Temperature",
                "key": "sensor",
                "field_name": "celsius",
                "charts": ["temperature"],
                "alert": {"operator": ">", "threshold": 40, "tolerance": 10},
            }
        },
        charts={
            "temperature": {
                "title": "Temperature",
                "description": "Air temperature.",
                "order": 400,
                "unit": " °C",
            }
        },
    )
    metric = get_metric("temperature")
    assert metric.alert.threshold == 40
    assert metric.charts == ("temperature",)
    assert get_chart("temperature").is_raw
    assert get_chart("temperature").template is None
    metrics.unregister_metric("temperature")
    with pytest.raises(RegistryError, match="unknown metric 'temperature'"):
        get_metric("temperature")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: metrics.register_metric(
                "cpu", {"label": "x", "metric_name": "x", "key": "x", "field_name": "x"}
            ),
            "metric 'cpu' is already registered",
        ),
        (lambda: metrics.register_metric("m", {"label": "x"}), "'m' is missing metric_name, key, field_name"),
        (
            lambda: metrics.register_metric(
                "m", {"label": "x", "metric_name": "x", "key": "k", "field_name": "f", "colour": "red"}
            ),
            "'m' has unknown keys: colour",
        ),
        (
            lambda: metrics.register_metric(
                "m", {"label": "x", "metric_name": "x", "key": "k", "field_name": "f", "alert_field": "g"}
            ),
            "alert_field must be the field",
        ),
        (
            lambda: metrics.register_metric(
                "m", {"label": "x", "metric_name": "x", "key": "k", "field_name": "f", "charts": ["nope"]}
            ),
            "unknown chart\\(s\\) nope",
        ),
        (
            lambda: metrics.register_metric(
                "m",
                {
                    "label": "x",
                    "metric_name": "x",
                    "key": "k",
                    "field_name": "f",
                    "alert": {"operator": "=", "threshold": 1},
                },
            ),
            "alert operator must be",
        ),
        (
            lambda: metrics.register_chart(
                "c", {"title": "t", "description": "d", "order": 1, "query": "cpu"}
            ),
            "'query' is no longer a key; declare what the chart computes with 'aggregates'",
        ),
        (
            lambda: metrics.register_chart(
                "c", {"title": "t", "description": "d", "order": 1, "type": "pie", **MEAN_X}
            ),
            "type must be one of",
        ),
        (
            lambda: metrics.register_chart("c", {"title": "t", "description": "d", "order": 1}),
            "a chart without aggregates needs a unit",
        ),
        (
            lambda: metrics.register_chart(
                "c", {"title": "t", "description": "d", "order": 1, "colorscale": {"max": 1}, **MEAN_X}
            ),
            "colorscale needs min, label, scale",
        ),
        (
            lambda: metrics.register_chart(
                "c",
                {
                    "title": "t",
                    "description": "d",
                    "order": 1,
                    "aggregates": [{"fn": "median", "field": "x"}],
                },
            ),
            "chart 'c': unknown aggregate 'median'",
        ),
        (
            lambda: metrics.register_chart(
                "c", {"title": "t", "description": "d", "order": 1, "aggregates": [{"fn": "mean"}]}
            ),
            "chart 'c': an aggregate is missing field",
        ),
        (
            lambda: metrics.register_chart(
                "c",
                {
                    "title": "t",
                    "description": "d",
                    "order": 1,
                    "aggregates": [{"fn": "mean", "field": "x", "as": 1}],
                },
            ),
            "chart 'c': an aggregate has unknown keys: as",
        ),
        (
            lambda: metrics.register_chart(
                "c",
                {
                    "title": "t",
                    "description": "d",
                    "order": 1,
                    "aggregates": [{"fn": "mean", "field": "a b"}],
                },
            ),
            "chart 'c': invalid field name 'a b'",
        ),
        (
            lambda: metrics.register_chart(
                "c", {"title": "t", "description": "d", "order": 1, "scope": "planet", **MEAN_X}
            ),
            "scope must be one of device, general",
        ),
        (
            lambda: metrics.register_chart(
                "c", {"title": "t", "description": "d", "order": 1, "optional_tags": ["ifname"], **MEAN_X}
            ),
            "optional_tags are for general charts",
        ),
        (
            lambda: metrics.register_chart(
                "c", {"title": "t", "description": "d", "order": 1, "unit": "", "scope": "general"}
            ),
            "a general chart needs aggregates",
        ),
        (
            lambda: metrics.register_chart(
                "c",
                {
                    "title": "t",
                    "description": "d",
                    "order": 1,
                    "group_by": "ssid",
                    "aggregates": [{"fn": "sum", "field": "a"}, {"fn": "sum", "field": "b"}],
                },
            ),
            "group_by needs exactly one aggregate",
        ),
        (
            lambda: metrics.register_chart(
                "c", {"title": "t", "description": "d", "order": 1, "cumulative": True, **MEAN_X}
            ),
            "cumulative needs group_by",
        ),
    ],
)
def test_declarations_are_validated(call, message):
    with pytest.raises(RegistryError, match=message):
        call()
