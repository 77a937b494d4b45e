"""NetJSON DeviceMonitoring: validation errors with their path, and every extraction rule."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.ingest.netjson import (
    InvalidJSON,
    NetJSONError,
    decode,
    extract,
    parse_time,
    transform_snapshot,
    validate,
)
from tests.ingest.payloads import example_report

T = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)


def by_config(samples):
    return {(s.configuration, s.main_tags.get("ifname")): s for s in samples}


def test_it_extracts_every_metric_of_the_reference_example():
    samples = extract(validate(example_report()), T)
    assert [(s.configuration, s.main_tags.get("ifname")) for s in samples] == [
        ("traffic", "wlan0"),
        ("clients", "wlan0"),
        ("signal_strength", "mobile0"),
        ("signal_quality", "mobile0"),
        ("access_tech", "mobile0"),
        ("traffic", "eth0"),
        ("cpu", None),
        ("disk", None),
        ("memory", None),
    ]
    s = by_config(samples)
    # The first reading counts whole; the counters are kept to place later readings.
    assert s[("traffic", "wlan0")].fields == {
        "rx_bytes": 324,
        "tx_bytes": 145,
        "rx_counter": 324,
        "tx_counter": 145,
    }
    assert s[("traffic", "eth0")].fields == {
        "rx_bytes": 2275,
        "tx_bytes": 826,
        "rx_counter": 2275,
        "tx_counter": 826,
    }
    assert s[("traffic", "eth0")].name == "eth0 traffic"
    assert s[("clients", "wlan0")].fields == {"clients": "00:ee:ad:34:f5:3b"}
    assert s[("clients", "wlan0")].measurement == "wifi_clients"
    assert s[("signal_strength", "mobile0")].fields == {"signal_strength": -51.0, "signal_power": -75.0}
    assert s[("signal_quality", "mobile0")].fields == {"signal_quality": -8.0, "snr": 13.0}
    assert s[("access_tech", "mobile0")].fields == {"access_tech": 4}
    assert s[("cpu", None)].fields == {"cpu_usage": 12.0, "load_1": 0.12, "load_5": 0.08, "load_15": 0.01}
    assert s[("disk", None)].fields == {"used_disk": 100 * (18792 + 3872) / (258016 + 16112)}
    # available (223397664) is not above free (224497664): free counts.
    assert s[("memory", None)].fields == {
        "percent_used": 100 * (1 - (224497664 + 974848) / 249774080),
        "total_memory": 249774080,
        "free_memory": 224497664,
        "buffered_memory": 974848,
        "shared_memory": 86016,
        "cached_memory": 6774784,
        "available_memory": 223397664,
    }
    assert all(x.time == T for x in samples)


def test_traffic_is_the_increase_since_the_previous_report_and_a_reset_counts_whole():
    previous = example_report()
    current = example_report()
    current["interfaces"][0]["statistics"].update(rx_bytes=1324, tx_bytes=100)  # tx reset
    del current["interfaces"][2]["statistics"]["tx_bytes"]
    s = by_config(extract(current, T, previous))
    assert s[("traffic", "wlan0")].fields == {
        "rx_bytes": 1000,
        "tx_bytes": 100,
        "rx_counter": 1324,
        "tx_counter": 100,
    }
    assert s[("traffic", "eth0")].fields == {"rx_bytes": 0, "tx_bytes": 0, "rx_counter": 2275}


def test_one_client_sample_per_mac_one_microsecond_apart():
    report = example_report()
    clients = report["interfaces"][0]["wireless"]["clients"]
    clients += [dict(clients[0], mac="00:00:00:00:00:02"), dict(clients[0], mac="00:00:00:00:00:03")]
    samples = [x for x in extract(report, T) if x.configuration == "clients"]
    assert [(x.fields["clients"], x.time) for x in samples] == [
        ("00:ee:ad:34:f5:3b", T),
        ("00:00:00:00:00:02", T + timedelta(microseconds=1)),
        ("00:00:00:00:00:03", T + timedelta(microseconds=2)),
    ]


@pytest.mark.parametrize(
    ("signal", "strength", "quality", "tech"),
    [
        ({"gsm": {"rssi": -70}}, {"signal_strength": -70.0}, None, 0),
        ({"cdma1x": {"rssi": -75, "ecio": -6}}, {"signal_strength": -75.0}, {"snr": -6.0}, 1),
        (
            {"evdo": {"rssi": -80, "ecio": -5, "io": -90, "sinr": 7}},
            {"signal_strength": -80.0},
            {"snr": 7.0},
            2,
        ),
        (
            {"umts": {"rssi": -65, "rscp": -85, "ecio": -4}},
            {"signal_strength": -65.0, "signal_power": -85.0},
            {"snr": -4.0},
            3,
        ),
        (
            {"lte": {"rssi": -51, "rsrp": -75, "rsrq": -8, "snr": 13}},
            {"signal_strength": -51.0, "signal_power": -75.0},
            {"signal_quality": -8.0, "snr": 13.0},
            4,
        ),
        (
            {"lte": {"rssi": -51}, "5g": {"rsrp": -90, "rsrq": -11, "snr": 20}},
            {"signal_power": -90.0},
            {"signal_quality": -11.0, "snr": 20.0},
            5,
        ),
    ],
)
def test_mobile_signal_of_the_most_evolved_technology(signal, strength, quality, tech):
    report = example_report()
    report["interfaces"][1]["mobile"]["signal"] = signal
    s = by_config(extract(validate(report), T))
    assert s[("signal_strength", "mobile0")].fields == strength
    if quality is None:
        assert ("signal_quality", "mobile0") not in s
    else:
        assert s[("signal_quality", "mobile0")].fields == quality
    assert s[("access_tech", "mobile0")].fields == {"access_tech": tech}


def test_disk_of_zero_size_is_full_and_memory_prefers_available_when_larger():
    report = example_report()
    report["resources"]["disk"] = [dict(report["resources"]["disk"][0], size_bytes=0, used_bytes=0)]
    report["resources"]["memory"]["available"] = 230000000
    s = by_config(extract(report, T))
    assert s[("disk", None)].fields == {"used_disk": 100.0}
    assert s[("memory", None)].fields["percent_used"] == 100 * (1 - (230000000 + 974848) / 249774080)


def test_a_report_without_resources_gives_no_cpu_disk_or_memory():
    assert [x.configuration for x in extract({"type": "DeviceMonitoring"}, T)] == []


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda r: "not an object", "#"),
        (lambda r: {k: v for k, v in r.items() if k != "type"}, "#"),
        (lambda r: {**r, "type": "DeviceConfiguration"}, "#/type"),
        (lambda r: r["resources"].update(load=[0.1, 0.2]) or r, "#/resources/load"),
        (
            lambda r: r["interfaces"][2]["statistics"].update(rx_bytes="many") or r,
            "#/interfaces/2/statistics/rx_bytes",
        ),
        (
            lambda r: r["interfaces"][2]["statistics"].update(rx_bytes=-5 * 10**9) or r,
            "#/interfaces/2/statistics/rx_bytes",
        ),
        (
            lambda r: r["interfaces"][2]["statistics"].update(tx_bytes=2**63) or r,
            "#/interfaces/2/statistics/tx_bytes",
        ),
        (lambda r: r["interfaces"][0].update(name="") or r, "#/interfaces/0/name"),
        (lambda r: r["interfaces"][0].update(name="wan\nrx_bytes=1") or r, "#/interfaces/0/name"),
        (lambda r: r["interfaces"][0].update(name="eth0") or r, "#/interfaces/2/name"),
        (lambda r: r["interfaces"][0].update(name="wan\\") or r, "#/interfaces/0/name"),
        (lambda r: r["interfaces"][0].update(name="wan\\,x") or r, "#/interfaces/0/name"),
        (
            lambda r: r["interfaces"][0]["wireless"]["clients"][0].update(mac="\u0007") or r,
            "#/interfaces/0/wireless/clients/0/mac",
        ),
        (lambda r: r["resources"]["memory"].update(total=-1) or r, "#/resources/memory/total"),
        (lambda r: r["resources"].update(cpus="two") or r, "#/resources/cpus"),
        (lambda r: r["resources"]["disk"][0].update(size_bytes=1.5) or r, "#/resources/disk/0/size_bytes"),
    ],
)
def test_invalid_reports_name_the_first_problem_and_where(mutate, path):
    with pytest.raises(NetJSONError) as caught:
        validate(mutate(example_report()))
    assert caught.value.path == path
    assert str(caught.value).startswith(f'Invalid data in "{path}", validator says: ')


@pytest.mark.parametrize(
    ("part", "value", "path"),
    [
        ("load", "NaN", "#/resources/load/0"),
        ("load", "Infinity", "#/resources/load/0"),
        ("load", "-Infinity", "#/resources/load/0"),
        ("load", "1e400", "#/resources/load/0"),
        ("extra", "NaN", "#/general/extra"),  # also where nothing is charted: it cannot be kept
    ],
)
def test_numbers_no_store_can_keep_are_refused_with_their_path(part, value, path):
    report = example_report()
    if part == "load":
        report["resources"]["load"][0] = "@"
    else:
        report["general"]["extra"] = "@"
    body = json.dumps(report).replace('"@"', value).encode()
    with pytest.raises(NetJSONError) as caught:
        decode(body)
    assert caught.value.path == path
    assert str(caught.value) == f'Invalid data in "{path}", validator says: {value} is not a finite number'


def test_deep_nesting_and_unstorable_strings_are_refused_with_their_path():
    with pytest.raises(NetJSONError) as caught:
        decode(b"[" * 5000 + b"]" * 5000)
    assert (caught.value.path, caught.value.reason) == ("#", "nested deeper than 32 levels")
    with pytest.raises(NetJSONError) as caught:
        decode(
            json.dumps(
                {
                    "type": "DeviceMonitoring",
                    "general": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
                }
            )
        )
    assert caught.value.reason == "nested deeper than 32 levels"
    assert caught.value.path == "#/general/a" + "/0" * 30  # the 33rd level
    with pytest.raises(NetJSONError) as caught:
        decode(b'{"type": "DeviceMonitoring", "general": {"hostname": "a\\u0000b"}}')
    assert caught.value.path == "#/general/hostname"
    with pytest.raises(NetJSONError) as caught:
        decode(b'{"type": "DeviceMonitoring", "general": {"h\\ud800": 1}}')
    assert caught.value.path == "#/general/h\ud800"
    with pytest.raises(InvalidJSON, match=r"^Invalid JSON: "):
        decode(b"\xff\xfe")
    # An escaped non-ASCII character or a valid surrogate pair is fine.
    assert decode(b'{"a": "caf\\u00e9 \\ud83d\\ude00"}') == {"a": "café 😀"}


def test_parts_fleetwatch_does_not_store_never_cost_the_report():
    """The agent's real payloads: {} for an empty array, nulls, a signal section without a usable
    value, keys the peer's schema requires but Fleetwatch does not use."""
    report = example_report()
    wlan0, mobile0, eth0 = report["interfaces"]
    wlan0["type"], wlan0["bridge_members"] = "bridge", {}
    client = wlan0["wireless"]["clients"][0]
    client.update(vht=None, he=None)
    del client["mfp"]
    del wlan0["wireless"]["tx_power"]
    mobile0["mobile"]["signal"] = {"lte": {}, "umts": {"ecio": "n/a"}}
    eth0["statistics"]["rx_packets"] = None
    eth0["mtu"] = "1500"
    report["resources"]["disk"][1].pop("used_bytes")
    report["neighbors"][0].update(extra="x")
    dropped = []
    data = validate(report, dropped)
    assert dropped == [
        "#/resources/disk/1",
        "#/interfaces/2/statistics/rx_packets",
        "#/interfaces/2/mtu",
        "#/interfaces/1/mobile/signal/umts/ecio",
        "#/interfaces/1/mobile/signal/lte",
        "#/interfaces/0/wireless/clients/0/vht",
        "#/interfaces/0/wireless/clients/0/he",
        "#/interfaces/1/mobile/signal/umts",
    ]
    assert wlan0["bridge_members"] == []
    s = by_config(extract(data, T))
    assert s[("clients", "wlan0")].fields == {"clients": "00:ee:ad:34:f5:3b"}
    assert ("signal_strength", "mobile0") not in s  # skipped, the rest stored
    assert s[("traffic", "eth0")].fields["rx_bytes"] == 2275
    assert s[("disk", None)].fields == {"used_disk": 100 * 18792 / 258016}


def test_agent_time_parameter():
    assert parse_time("25-11-2023_08:53:43.000000") == datetime(2023, 11, 25, 8, 53, 43, tzinfo=UTC)
    assert parse_time("25-11-2023_08:53:43") == datetime(2023, 11, 25, 8, 53, 43, tzinfo=UTC)
    for bad in ("2023-11-25T08:53:43", "32-11-2023_08:53:43.0", ""):
        with pytest.raises(ValueError, match="Incorrect time format"):
            parse_time(bad)


def test_snapshot_clean_up():
    report = example_report()
    client = report["interfaces"][0]["wireless"]["clients"][0]
    client["bitrate"] = 65000
    snapshot = transform_snapshot(report)
    snap_client = snapshot["interfaces"][0]["wireless"]["clients"][0]
    assert (snap_client["ht"], snap_client["vht"], snap_client["he"]) == (True, None, None)  # HT20 radio
    assert snap_client["bitrate"] == 65.0
    assert snapshot["interfaces"][1]["mobile"]["signal"]["lte"] == {
        "rsrp": -75.0,
        "rsrq": -8.0,
        "rssi": -51.0,
        "snr": 13.0,
    }
    assert client["bitrate"] == 65000  # the input is not modified
