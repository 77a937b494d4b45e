"""Sensor stations' messages → typed records and time-series points (pure: no Django, no storage).

A station publishes the envelope of the Sensorgnome server (sensor-stations.md B.1), JSON
``{"id": "<serial>", "message": "<text>", …}``; the text holds one or more lines, and the typed
ones follow the device uploader's formats (B.2), the type being the line's first field:

============================================  ================================================
``M,<ts>,machineID,<id>``                     machine id
``M,<ts>,bootCount,<n>``                      boot count (a point of ``boot_count``)
``G,<ts>,<lat>,<lon>,<alt>``                  GPS fix (a point of ``gps``)
``C,<ts>,<prec>,<elapsed>``                   clock set from GPS
``S,<ts>,<port>,<param>,<val>,<errCode>,<err>``  device setting
``A|R,<ts>,<port>,<type>,<path>``             device added / removed
``p<port>,<ts>,<id>,<freq>,<freqsd>,<sig>,     tag detection (a point of ``detections``,
<sigsd>,<noise>,<slop>,<burstslop>,<antfreq>``  tagged ``port``)
============================================  ================================================

``<ts>`` is Unix time in seconds (a float). A line whose first field is none of these is free
text (kind ``""``, no time of its own). A typed line that does not parse raises
:class:`MalformedLine` naming the line and what is wrong: the whole message is refused (nothing of
it stored), as a malformed HTTP report is.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fleetwatch.timeseries import Point

GPS_MEASUREMENT = "gps"
BOOT_COUNT_MEASUREMENT = "boot_count"
DETECTIONS_MEASUREMENT = "detections"
# Bounds of what a station may send in one message (the envelope's text).
MAX_LINES = 10_000
MAX_LINE = 4096

_DETECTION = re.compile(r"^p([0-9A-Za-z]{1,8}),")
# The float fields of a detection after the port, time and tag id, in the uploader's order.
DETECTION_FIELDS = ("freq", "freqsd", "sig", "sigsd", "noise", "slop", "burstslop", "antfreq")
# Values the uploader writes for a missing number.
_MISSING = ("", "NA", "nan", "NaN")


class MalformedMessage(ValueError):
    """A station message that can never be stored (the consumer dead-letters it with this text)."""


class MalformedLine(MalformedMessage):
    """A typed line (B.2) that does not parse: ``str()`` says which line (1-based) and why."""


@dataclass(frozen=True)
class Envelope:
    """A station's message: ``serial`` (the envelope's ``id``), ``text``, and the other members."""

    serial: str
    text: str
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    """One line of a station's message.

    ``kind``: ``"G"``, ``"M"``, ``"C"``, ``"S"``, ``"A"``, ``"R"``, ``"p<port>"`` or ``""`` (free
    text); ``time``: the line's own time (UTC), None for free text; ``fields``: the parsed values
    (names below); ``text``: the line as sent (without its line break)."""

    kind: str
    time: datetime | None
    text: str
    fields: dict = field(default_factory=dict)

    def digest(self, received: datetime) -> str:
        """SHA-1 (hex) of the line's time and text: a redelivered line has the same digest and is
        stored once. A line without a time of its own takes ``received``."""
        moment = self.time or received
        return hashlib.sha1(f"{moment.isoformat()}\n{self.text}".encode()).hexdigest()


def parse_envelope(body: bytes | str) -> Envelope:
    """The B.1 envelope: a JSON object with a string ``id`` (the station's serial) and a string
    ``message``; other members are kept in ``extra``. Raises MalformedMessage."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedMessage("the envelope must be a JSON object with id and message")
    serial, text = data.get("id"), data.get("message")
    if not isinstance(serial, str) or not serial:
        raise MalformedMessage("the envelope's id (the station's serial) must be a non-empty string")
    if not isinstance(text, str):
        raise MalformedMessage("the envelope's message must be a string")
    return Envelope(serial, text, {k: v for k, v in data.items() if k not in ("id", "message")})


def _time(value: str, number: int) -> datetime:
    seconds = _float(value, number, "ts")
    if seconds is None or seconds < 0:
        raise MalformedLine(f"line {number}: ts must be Unix seconds, not {value!r}")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedLine(f"line {number}: ts {value!r} is out of range") from None


def _float(value: str, number: int, name: str, optional: bool = False) -> float | None:
    if optional and value.strip() in _MISSING:
        return None
    try:
        result = float(value)
    except ValueError:
        raise MalformedLine(f"line {number}: {name} must be a number, not {value!r}") from None
    if not math.isfinite(result):
        raise MalformedLine(f"line {number}: {name} must be a finite number, not {value!r}")
    return result


def _split(text: str, number: int, count: int, form: str) -> list[str]:
    """The line's ``count`` comma-separated values (the last keeps any further commas)."""
    values = text.split(",", count - 1)
    if len(values) != count:
        raise MalformedLine(f"line {number}: expected {form}, got {len(values)} values")
    return values


def parse_line(text: str, number: int = 1) -> Line:
    """One line (``number`` is used in error messages). Raises MalformedLine.

    Fields: ``M`` → ``param``, ``value`` (and ``machine_id`` or ``boot_count`` (int) for those
    params); ``G`` → ``lat``, ``lon``, ``alt`` (degrees, degrees, metres); ``C`` → ``precision``,
    ``elapsed``; ``S`` → ``port``, ``param``, ``value``, ``error_code``, ``error``; ``A``/``R`` →
    ``port``, ``type``, ``path``; ``p<port>`` → ``port``, ``tag`` (the tag id) and the floats of
    DETECTION_FIELDS that are present (``NA`` or empty: absent; ``freq`` and ``sig`` required)."""
    if len(text) > MAX_LINE:
        raise MalformedLine(f"line {number}: longer than {MAX_LINE} characters")
    head = text.split(",", 1)[0]
    if head == "M":
        _, ts, param, value = _split(text, number, 4, "M,<ts>,<param>,<value>")
        fields: dict = {"param": param, "value": value}
        if param == "machineID":
            fields["machine_id"] = value
        elif param == "bootCount":
            try:
                fields["boot_count"] = int(value)
            except ValueError:
                raise MalformedLine(f"line {number}: bootCount must be an integer, not {value!r}") from None
        return Line("M", _time(ts, number), text, fields)
    if head == "G":
        _, ts, lat, lon, alt = _split(text, number, 5, "G,<ts>,<lat>,<lon>,<alt>")
        fields = {"lat": _float(lat, number, "lat"), "lon": _float(lon, number, "lon")}
        fields["alt"] = _float(alt, number, "alt")
        if not -90 <= fields["lat"] <= 90:
            raise MalformedLine(f"line {number}: lat must lie within -90..90, not {lat}")
        if not -180 <= fields["lon"] <= 180:
            raise MalformedLine(f"line {number}: lon must lie within -180..180, not {lon}")
        return Line("G", _time(ts, number), text, fields)
    if head == "C":
        _, ts, precision, elapsed = _split(text, number, 4, "C,<ts>,<prec>,<elapsed>")
        fields = {
            "precision": _float(precision, number, "prec"),
            "elapsed": _float(elapsed, number, "elapsed"),
        }
        return Line("C", _time(ts, number), text, fields)
    if head == "S":
        _, ts, port, param, value, code, error = _split(
            text, number, 7, "S,<ts>,<port>,<param>,<val>,<errCode>,<err>"
        )
        fields = {"port": port, "param": param, "value": value, "error_code": code, "error": error}
        return Line("S", _time(ts, number), text, fields)
    if head in ("A", "R"):
        _, ts, port, kind, path = _split(text, number, 5, f"{head},<ts>,<port>,<type>,<path>")
        return Line(head, _time(ts, number), text, {"port": port, "type": kind, "path": path})
    match = _DETECTION.match(text)
    if match:
        port = match.group(1)
        values = text.split(",")
        if len(values) != 3 + len(DETECTION_FIELDS):
            raise MalformedLine(
                f"line {number}: expected p<port>,<ts>,<id>,{','.join(f'<{n}>' for n in DETECTION_FIELDS)}, "
                f"got {len(values)} values"
            )
        fields = {"port": port, "tag": values[2]}
        for name, value in zip(DETECTION_FIELDS, values[3:], strict=True):
            number_value = _float(value, number, name, optional=name not in ("freq", "sig"))
            if number_value is not None:
                fields[name] = number_value
        return Line(f"p{port}", _time(values[1], number), text, fields)
    return Line("", None, text, {})


def parse_message(text: str) -> list[Line]:
    """Every non-empty line of a message's text (``\\n`` or ``\\r\\n``), parsed. Raises MalformedLine
    (the first bad line) or MalformedMessage (more than MAX_LINES lines)."""
    raw = [line.rstrip("\r") for line in text.split("\n")]
    lines = [(number, line) for number, line in enumerate(raw, 1) if line.strip()]
    if len(lines) > MAX_LINES:
        raise MalformedMessage(f"more than {MAX_LINES} lines in one message")
    return [parse_line(line, number) for number, line in lines]


def points(lines: list[Line], tags: dict[str, str]) -> list[Point]:
    """The time-series points of the typed lines: ``gps`` (``lat``, ``lon``, ``alt``) per GPS
    fix, ``boot_count`` (``boot_count``) per boot count, ``detections`` (``sig``, ``freq``,
    ``noise`` where present, and ``tag``: the tag id) per tag detection, tagged ``port``.
    ``tags``: the device's series tags. Two detections on one port at the same instant are one
    point (a series holds one point per time)."""
    result = []
    for line in lines:
        if line.kind == "G":
            result.append(Point(GPS_MEASUREMENT, dict(line.fields), line.time, dict(tags)))
        elif line.kind == "M" and "boot_count" in line.fields:
            fields = {"boot_count": line.fields["boot_count"]}
            result.append(Point(BOOT_COUNT_MEASUREMENT, fields, line.time, dict(tags)))
        elif line.kind.startswith("p"):
            fields = {k: line.fields[k] for k in ("sig", "freq", "noise") if k in line.fields}
            fields["tag"] = line.fields["tag"]
            result.append(
                Point(DETECTIONS_MEASUREMENT, fields, line.time, {**tags, "port": line.fields["port"]})
            )
    return result


def series_of(points_: list[Point]) -> set[tuple[str, tuple]]:
    """``{(metric configuration, ((tag, value), …))}`` of the points: the device's metrics they
    feed (``gps``, ``boot_count``, ``detections`` with its ``port``)."""
    seen = set()
    for point in points_:
        main = (("port", point.tags["port"]),) if point.measurement == DETECTIONS_MEASUREMENT else ()
        seen.add((point.measurement, main))
    return seen
