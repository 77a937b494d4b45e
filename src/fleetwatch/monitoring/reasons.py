"""Plain-language texts for health changes and alerts, with numbers rounded as a person would.

One place builds them, so the status history (``StatusChange.reason``), the in-app and e-mail
notifications and the webhook annotations say the same thing the same way, e.g.
``CPU usage 95.2 % is above the threshold of 90 % for 30 minutes.`` rather than
``CPU usage of ap-lobby is 95.19999999999999``.
"""

from __future__ import annotations

import math

from fleetwatch.metrics import METRIC_FIELD, RegistryError, get_chart, get_metric

# Metrics whose value is 0 or 1 (alert when < 1): their state in words, (unhealthy, healthy).
# Used only while the threshold is the registry's (< 1); an edited threshold reads as a number.
TWO_STATE = {
    "ping": ("no reply to ping", "replies to ping"),
    "data_collected": ("no monitoring data collected", "monitoring data collected"),
    "reporting": ("no report received", "reports received"),
    "config_applied": ("configuration not applied", "configuration applied"),
    "iperf3": ("iperf3 test failed", "iperf3 test succeeded"),
}


def plain_number(value: float) -> str:
    """``value`` to three significant digits, never dropping a digit before the decimal point,
    without trailing zeros: 14.499999999999998 → ``14.5``, 95.0 → ``95``, 0.004567 → ``0.00457``,
    123456.7 → ``123457``; 0, infinities and NaN as Python writes them (``0``, ``inf``, ``nan``)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return f"{value:g}".replace("-0", "0")
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def unit_of(configuration: str) -> str:
    """The unit of a metric's alerting values as shown after a number (``" %"``, ``" dBm"``):
    the unit of the first of its type's charts that shows that field unscaled; ``""`` when none
    does (ping's chart shows reachability as a percentage, not the 0/1 judged) or the chart
    rescales (traffic's adaptive prefixes)."""
    try:
        metric_type = get_metric(configuration)
        field = metric_type.alert_field or metric_type.field_name
        for name in metric_type.charts:
            chart = get_chart(name)
            if any(a.field in (field, METRIC_FIELD) and a.scale in (None, 1) for a in chart.aggregates):
                unit = chart.unit
                if not unit or unit.startswith("adaptive_prefix"):
                    return ""
                return unit if unit.startswith(" ") else f" {unit}"
    except RegistryError:
        pass
    return ""


def _two_state(configuration: str, operator: str, threshold: float) -> tuple[str, str] | None:
    if operator == "<" and threshold == 1:
        return TWO_STATE.get(configuration)
    return None


def _state(configuration: str, name: str, value: float, operator: str, threshold: float) -> tuple[str, bool]:
    words = _two_state(configuration, operator, threshold)
    if words is not None:
        return (words[0] if value < threshold else words[1]), True
    unit = unit_of(configuration)
    relation = "above" if value > threshold else "below" if value < threshold else "at"
    number, limit = plain_number(value), plain_number(threshold)
    return f"{name} {number}{unit} is {relation} the threshold of {limit}{unit}", False


def state(configuration: str, name: str, value: float, operator: str, threshold: float) -> str:
    """Where ``value`` stands, as a phrase without a final period: ``CPU usage 14.5 % is below the
    threshold of 90 %`` (the metric's name as it is), or for a 0/1 metric judged against the
    registry's threshold ``no reply to ping`` / ``replies to ping``."""
    return _state(configuration, name, value, operator, threshold)[0]


def _sentence_start(text: str, two_state: bool) -> str:
    # A metric's own name keeps its case ("wlan0 …"); our phrases begin with a capital.
    return text[:1].upper() + text[1:] if two_state else text


def status_reason(configuration: str, name: str, value: float, operator: str, threshold: float) -> str:
    """The reason kept with a status change, e.g. ``CPU usage 95.2 % is above the threshold of
    90 %`` or ``No reply to ping``."""
    return _sentence_start(*_state(configuration, name, value, operator, threshold))


def minutes(count: int) -> str:
    """``1 minute``, ``30 minutes``."""
    return "1 minute" if count == 1 else f"{count} minutes"


def alert_message(
    kind: str, configuration: str, name: str, value: float, operator: str, threshold: float, tolerance: int
) -> str:
    """A notification's text. ``kind`` "problem": ``CPU usage 95.2 % is above the threshold of
    90 % for 30 minutes.`` (``for …`` only with a tolerance); "recovery": ``Back to normal: CPU
    usage 14.5 % is below the threshold of 90 %.``"""
    text, two_state = _state(configuration, name, value, operator, threshold)
    if kind == "problem":
        text = _sentence_start(text, two_state)
        return f"{text} for {minutes(tolerance)}." if tolerance else f"{text}."
    return f"Back to normal: {text}."
