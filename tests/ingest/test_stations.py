"""Sensor stations' envelope and typed lines (sensor-stations.md B.1, B.2) → records and points."""

from datetime import UTC, datetime

import pytest

from fleetwatch.ingest.stations import (
    MalformedLine,
    MalformedMessage,
    parse_envelope,
    parse_line,
    parse_message,
    points,
    series_of,
)

TS = "1764547200.25"  # 2025-12-01 00:00:00.25 UTC
AT = datetime(2025, 12, 1, 0, 0, 0, 250000, tzinfo=UTC)
TAGS = {"object_id": "d1"}


def test_the_envelope_gives_the_serial_the_text_and_the_rest():
    envelope = parse_envelope(b'{"id": "SG-1234RPI3ABCD", "message": "G,1,2,3,4", "port": 3}')
    assert (envelope.serial, envelope.text, envelope.extra) == ("SG-1234RPI3ABCD", "G,1,2,3,4", {"port": 3})


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b"[]", "the envelope must be a JSON object with id and message"),
        (b'{"message": "x"}', "the envelope's id (the station's serial) must be a non-empty string"),
        (b'{"id": 5, "message": "x"}', "the envelope's id (the station's serial) must be a non-empty string"),
        (b'{"id": "s"}', "the envelope's message must be a string"),
    ],
)
def test_a_malformed_envelope_says_why(body, error):
    with pytest.raises(MalformedMessage) as refused:
        parse_envelope(body)
    assert str(refused.value) == error


def test_every_typed_line_parses():
    lines = parse_message(
        f"M,{TS},machineID,0000000012345678\n"
        f"M,{TS},bootCount,17\r\n"
        f"G,{TS},45.5,-63.25,12.5\n"
        f"C,{TS},0.001,2.5\n"
        "\n"
        f"S,{TS},3,frequency,166.376,0,\n"
        f"A,{TS},3,funcubeProPlus,/dev/sdr3\n"
        f"R,{TS},3,funcubeProPlus,/dev/sdr3,old\n"
        f"p3,{TS},TestTags#412:6.1@166.38,4.2,0.1,-52.5,0.4,-96.1,0.01,0.002,166.376\n"
        f"pL,{TS},Lotek#12,0.5,NA,-40,NA,NA,,NA,NA\n"
        "ntpd: clock stepped"
    )
    assert [(line.kind, line.time, line.fields) for line in lines] == [
        ("M", AT, {"param": "machineID", "value": "0000000012345678", "machine_id": "0000000012345678"}),
        ("M", AT, {"param": "bootCount", "value": "17", "boot_count": 17}),
        ("G", AT, {"lat": 45.5, "lon": -63.25, "alt": 12.5}),
        ("C", AT, {"precision": 0.001, "elapsed": 2.5}),
        ("S", AT, {"port": "3", "param": "frequency", "value": "166.376", "error_code": "0", "error": ""}),
        ("A", AT, {"port": "3", "type": "funcubeProPlus", "path": "/dev/sdr3"}),
        ("R", AT, {"port": "3", "type": "funcubeProPlus", "path": "/dev/sdr3,old"}),
        (
            "p3",
            AT,
            {
                "port": "3",
                "tag": "TestTags#412:6.1@166.38",
                "freq": 4.2,
                "freqsd": 0.1,
                "sig": -52.5,
                "sigsd": 0.4,
                "noise": -96.1,
                "slop": 0.01,
                "burstslop": 0.002,
                "antfreq": 166.376,
            },
        ),
        ("pL", AT, {"port": "L", "tag": "Lotek#12", "freq": 0.5, "sig": -40.0}),
        ("", None, {}),
    ]
    assert lines[1].text == f"M,{TS},bootCount,17"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("G,1,2,3", "line 1: expected G,<ts>,<lat>,<lon>,<alt>, got 4 values"),
        ("G,x,2,3,4", "line 1: ts must be a number, not 'x'"),
        ("G,-5,2,3,4", "line 1: ts must be Unix seconds, not '-5'"),
        ("G,1,91,3,4", "line 1: lat must lie within -90..90, not 91"),
        ("G,1,9,-181,4", "line 1: lon must lie within -180..180, not -181"),
        ("G,1,9,9,inf", "line 1: alt must be a finite number, not 'inf'"),
        ("M,1,bootCount,many", "line 1: bootCount must be an integer, not 'many'"),
        ("M,1,bootCount", "line 1: expected M,<ts>,<param>,<value>, got 3 values"),
        ("C,1,x,2", "line 1: prec must be a number, not 'x'"),
        ("S,1,3,frequency", "line 1: expected S,<ts>,<port>,<param>,<val>,<errCode>,<err>, got 4 values"),
        ("A,1,3", "line 1: expected A,<ts>,<port>,<type>,<path>, got 3 values"),
        (
            "p1,1,tag,1,2,3",
            "line 1: expected p<port>,<ts>,<id>,<freq>,<freqsd>,<sig>,<sigsd>,<noise>,<slop>,<burstslop>,"
            "<antfreq>, got 6 values",
        ),
        ("p1,1,tag,NA,1,-50,1,1,1,1,1", "line 1: freq must be a number, not 'NA'"),
    ],
)
def test_a_malformed_typed_line_says_which_and_why(line, error):
    with pytest.raises(MalformedLine) as refused:
        parse_line(line)
    assert str(refused.value) == error


def test_the_first_bad_line_of_a_message_is_named_by_its_number():
    with pytest.raises(MalformedLine) as refused:
        parse_message("hello\n\nG,1,2,3,4\nG,1,2,3")
    assert str(refused.value) == "line 4: expected G,<ts>,<lat>,<lon>,<alt>, got 4 values"


def test_points_of_gps_boot_count_and_detections():
    lines = parse_message(
        f"G,{TS},45.5,-63.25,12.5\nM,{TS},bootCount,17\nM,{TS},machineID,abc\n"
        f"p3,{TS},T#1,4.2,0.1,-52.5,0.4,-96.1,0.01,0.002,166.376\nfree text"
    )
    result = [(p.measurement, p.fields, p.time, p.tags) for p in points(lines, TAGS)]
    assert result == [
        ("gps", {"lat": 45.5, "lon": -63.25, "alt": 12.5}, AT, TAGS),
        ("boot_count", {"boot_count": 17}, AT, TAGS),
        ("detections", {"sig": -52.5, "freq": 4.2, "noise": -96.1, "tag": "T#1"}, AT, {**TAGS, "port": "3"}),
    ]
    assert series_of(points(lines, TAGS)) == {
        ("gps", ()),
        ("boot_count", ()),
        ("detections", (("port", "3"),)),
    }


def test_the_digest_is_the_same_for_the_same_line_and_time():
    received = datetime(2026, 1, 1, tzinfo=UTC)
    typed, free = parse_message(f"G,{TS},1,2,3\nfree")
    assert typed.digest(received) == typed.digest(datetime(2027, 1, 1, tzinfo=UTC))
    assert free.digest(received) != free.digest(datetime(2027, 1, 1, tzinfo=UTC))
    assert len(typed.digest(received)) == 40
