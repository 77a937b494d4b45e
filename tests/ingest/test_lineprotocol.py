"""The line protocol parser (fleetwatch.ingest.lineprotocol): InfluxDB's rules, exact values and
InfluxDB's reasons with the line number; generated lines: the fast path agrees with the scanner
and whatever is parsed survives a round trip through its own escaping."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwatch.ingest import lineprotocol as lp
from fleetwatch.ingest.lineprotocol import Line, LineError, parse


def test_a_telegraf_batch():
    text = (
        "# telegraf\n"
        "cpu,cpu=cpu-total,host=web1 usage_user=1.5,usage_idle=97 1700000000000000000\n"
        "\n"
        "mem,host=web1 used_percent=42.25,total=8000000000i,active=1u 1700000000000000000\r\n"
        'system,host=web1 uptime_format="1 day,  2:03",ok=true,bad=F\n'
    )
    assert parse(text) == [
        Line(
            2,
            "cpu",
            {"cpu": "cpu-total", "host": "web1"},
            {"usage_user": 1.5, "usage_idle": 97.0},
            1_700_000_000_000_000,
        ),
        Line(
            4,
            "mem",
            {"host": "web1"},
            {"used_percent": 42.25, "total": 8_000_000_000, "active": 1},
            1_700_000_000_000_000,
        ),
        Line(
            5, "system", {"host": "web1"}, {"uptime_format": "1 day,  2:03", "ok": True, "bad": False}, None
        ),
    ]
    assert type(parse("m v=97")[0].fields["v"]) is float
    assert type(parse("m v=97i")[0].fields["v"]) is int


def test_escapes():
    (line,) = parse(r'my\ cpu\,x,tag\ key=va\,l\=ue\ x,path=C:\dir f\ k\=y="say \"hi\" \\ \n" 5')
    assert line.measurement == "my cpu,x"
    assert line.tags == {"tag key": "va,l=ue x", "path": "C:\\dir"}
    assert line.fields == {"f k=y": 'say "hi" \\ \\n'}
    assert line.time == 0  # 5 ns floored to µs
    # "=" needs no escape in a measurement; commas and spaces inside a string need none
    assert parse('a=b s="x, y=z" 1')[0] == Line(1, "a=b", {}, {"s": "x, y=z"}, 0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("t", True),
        ("T", True),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("f", False),
        ("F", False),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("-1.5e3", -1500.0),
        (".5", 0.5),
        ("1.", 1.0),
        ("-0", 0.0),
        ("-9223372036854775808i", -(2**63)),
        ("9223372036854775807u", 2**63 - 1),
    ],
)
def test_field_values(text, value):
    parsed = parse(f"m v={text}")[0].fields["v"]
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("precision", "stamp", "micros"),
    [("ns", "1500", 1), ("ns", "-1500", -2), ("us", "7", 7), ("ms", "7", 7000), ("s", "7", 7_000_000)],
)
def test_precisions(precision, stamp, micros):
    assert parse(f"m v=1 {stamp}", precision)[0].time == micros


def test_v1_precisions():
    assert parse("m v=1 2", "m", lp.PRECISIONS_V1)[0].time == 120_000_000
    assert parse("m v=1 2", "h", lp.PRECISIONS_V1)[0].time == 7_200_000_000
    assert parse("m v=1 2000", "n", lp.PRECISIONS_V1)[0].time == 2
    assert parse("m v=1 2", "u", lp.PRECISIONS_V1)[0].time == 2
    with pytest.raises(ValueError, match=r"^invalid precision 'h': use one of ns, us, ms, s$"):
        parse("m v=1 2", "h")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cpu", "line 2: missing fields ('cpu')"),
        ("cpu ", "line 2: missing fields ('cpu')"),
        ("cpu,host=a", "line 2: missing fields ('cpu,host=a')"),
        (",host=a v=1", "line 2: missing measurement (',host=a v=1')"),
        ("cpu,=a v=1", "line 2: missing tag key ('cpu,=a v=1')"),
        ("cpu,host v=1", "line 2: missing tag value ('cpu,host v=1')"),
        ("cpu,host= v=1", "line 2: missing tag value ('cpu,host= v=1')"),
        ("cpu,host=a=b v=1", "line 2: invalid tag format ('cpu,host=a=b v=1')"),
        ("cpu,a=1,a=2 v=1", "line 2: duplicate tags ('cpu,a=1,a=2 v=1')"),
        ("cpu value", "line 2: missing field value ('cpu value')"),
        ("cpu value=", "line 2: missing field value ('cpu value=')"),
        ("cpu =1", "line 2: missing fields ('cpu =1')"),
        ("cpu v=1,", "line 2: missing field key ('cpu v=1,')"),
        ("cpu v=abc", "line 2: invalid number ('cpu v=abc')"),
        ("cpu v=1_000", "line 2: invalid number ('cpu v=1_000')"),
        ("cpu v=nan", "line 2: invalid number ('cpu v=nan')"),
        ("cpu v=tru", "line 2: invalid boolean ('cpu v=tru')"),
        ("cpu v=1e999", "line 2: value out of range ('cpu v=1e999')"),
        ("cpu v=9223372036854775808i", "line 2: value out of range ('cpu v=9223372036854775808i')"),
        (
            "cpu v=9223372036854775808u",
            "line 2: value out of range (unsigned integers above 9223372036854775807 cannot be stored) "
            "('cpu v=9223372036854775808u')",
        ),
        ('cpu v="open', "line 2: unbalanced quotes ('cpu v=\"open')"),
        ('cpu v="a"x', "line 2: invalid field format ('cpu v=\"a\"x')"),
        ("cpu v=1 12ab", "line 2: bad timestamp ('cpu v=1 12ab')"),
        ("cpu v=1 1 2", "line 2: bad timestamp ('cpu v=1 1 2')"),
        ("cpu v=1 9223372036854775808", "line 2: bad timestamp ('cpu v=1 9223372036854775808')"),
    ],
)
def test_errors_name_the_line_and_the_reason(text, message):
    with pytest.raises(LineError) as caught:
        parse("ok v=1\n" + text + "\nalso_ok v=2")
    assert str(caught.value) == message
    assert caught.value.line == 2


def test_a_long_line_is_shortened_in_the_message():
    with pytest.raises(LineError) as caught:
        parse("m v=x" + "y" * 200)
    assert str(caught.value) == "line 1: invalid number ('m v=x" + "y" * 75 + "…')"


def test_a_timestamp_beyond_what_a_datetime_holds():
    with pytest.raises(LineError, match=r"^line 1: bad timestamp"):
        parse("m v=1 300000000000", "s")


# --------------------------------------------------------------------------- generated lines

NAME = st.text(st.characters(codec="utf-8", exclude_characters="\n\r\\"), min_size=1, max_size=8)
VALUE = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=10),
)


def escape_key(text):
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def render(measurement, tags, fields, stamp):
    head = measurement.replace(",", "\\,").replace(" ", "\\ ")
    head += "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in tags.items())
    parts = []
    for key, value in fields.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = f"{value}i"
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{escape_key(key)}={text}")
    return f"{head} {','.join(parts)}" + ("" if stamp is None else f" {stamp}")


@settings(max_examples=300, deadline=None)
@given(
    NAME.filter(lambda s: s.strip(" \t") == s and s[0] != "#"),
    st.dictionaries(NAME, NAME, max_size=3),
    st.dictionaries(NAME, VALUE, min_size=1, max_size=3),
    st.one_of(st.none(), st.integers(-(2**62), 2**62)),
)
def test_what_is_written_is_parsed_back(measurement, tags, fields, stamp):
    text = render(measurement, tags, fields, stamp)
    (line,) = parse(text)
    assert line.measurement == measurement
    assert line.tags == tags
    assert line.fields == fields
    assert [type(v) for v in line.fields.values()] == [type(v) for v in fields.values()]
    assert line.time == (None if stamp is None else stamp // 1000)


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from([*'ab=, 1i."\\tfu-#e', "\t"]), max_size=24))
def test_the_fast_path_agrees_with_the_scanner_and_nothing_else_escapes(text):
    line = text.strip(" \t\r")
    fast = lp._fast(line) if line and "\\" not in line and '"' not in line else None
    try:
        scanned = lp._scan(line) if line else None
    except lp._Bad:
        scanned = "bad"
    if fast is not None:
        assert fast == scanned
    error = None
    try:
        parse(text)
    except LineError as exc:
        error = str(exc)
    assert error is None or error.startswith("line 1: ")
