"""Alert reasons in plain language with sensible rounding (issue 13: the status history showed
``CPU usage: 14.499999999999998``)."""

import pytest

from fleetwatch.monitoring.reasons import alert_message, plain_number, status_reason, unit_of


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (14.499999999999998, "14.5"),
        (95.0, "95"),
        (95.19999999999999, "95.2"),
        (90, "90"),
        (0, "0"),
        (-0.0, "0"),
        (1, "1"),
        (0.004567, "0.00457"),
        (0.5, "0.5"),
        (2.345678, "2.35"),
        (123456.7, "123457"),
        (-73.6, "-73.6"),
        (float("inf"), "inf"),
    ],
)
def test_plain_numbers(value, text):
    assert plain_number(value) == text


def test_units_come_from_the_metrics_chart():
    assert (unit_of("cpu"), unit_of("memory"), unit_of("disk")) == (" %", " %", " %")
    assert unit_of("signal_strength") == " dBm"
    assert unit_of("traffic") == ""  # rescaled (adaptive prefixes): no fixed unit
    assert unit_of("wifi_clients_max") == ""  # no chart
    assert unit_of("ping") == ""  # its chart shows a percentage of the 0/1 judged
    assert unit_of("no-such-metric") == ""


@pytest.mark.parametrize(
    ("configuration", "name", "value", "operator", "threshold", "reason"),
    [
        ("cpu", "CPU usage", 14.499999999999998, ">", 90, "CPU usage 14.5 % is below the threshold of 90 %"),
        ("cpu", "CPU usage", 95.19999999999999, ">", 90, "CPU usage 95.2 % is above the threshold of 90 %"),
        ("cpu", "CPU usage", 90.0, ">", 90, "CPU usage 90 % is at the threshold of 90 %"),
        ("disk", "Disk usage", 91.26, ">", 90.5, "Disk usage 91.3 % is above the threshold of 90.5 %"),
        ("wifi_clients_max", "wlan0", 51, ">", 50, "wlan0 51 is above the threshold of 50"),
        ("ping", "Ping", 0, "<", 1, "No reply to ping"),
        ("ping", "Ping", 1, "<", 1, "Replies to ping"),
        ("data_collected", "Monitoring Data Collected", 0, "<", 1, "No monitoring data collected"),
        ("reporting", "Reporting", 1, "<", 1, "Reports received"),
        ("config_applied", "Configuration Applied", 0, "<", 1, "Configuration not applied"),
        # An edited threshold is no longer "up or down": it reads as a number.
        ("ping", "Ping", 0, "<", 0.5, "Ping 0 is below the threshold of 0.5"),
    ],
)
def test_status_reasons(configuration, name, value, operator, threshold, reason):
    assert status_reason(configuration, name, value, operator, threshold) == reason


@pytest.mark.parametrize(
    ("kind", "configuration", "name", "value", "operator", "threshold", "tolerance", "message"),
    [
        (
            "problem",
            "cpu",
            "CPU usage",
            95.19999999999999,
            ">",
            90,
            30,
            "CPU usage 95.2 % is above the threshold of 90 % for 30 minutes.",
        ),
        (
            "recovery",
            "cpu",
            "CPU usage",
            14.499999999999998,
            ">",
            90,
            30,
            "Back to normal: CPU usage 14.5 % is below the threshold of 90 %.",
        ),
        (
            "problem",
            "disk",
            "Disk usage",
            97.0,
            ">",
            90,
            0,
            "Disk usage 97 % is above the threshold of 90 %.",
        ),
        ("problem", "ping", "Ping", 0, "<", 1, 1, "No reply to ping for 1 minute."),
        ("recovery", "ping", "Ping", 1, "<", 1, 5, "Back to normal: replies to ping."),
        (
            "problem",
            "data_collected",
            "Monitoring Data Collected",
            0,
            "<",
            1,
            30,
            "No monitoring data collected for 30 minutes.",
        ),
    ],
)
def test_alert_messages(kind, configuration, name, value, operator, threshold, tolerance, message):
    assert alert_message(kind, configuration, name, value, operator, threshold, tolerance) == message
