"""Flux text and annotated CSV for the InfluxDB 2.x backend (no server needed)."""

import pytest

pytest.importorskip("influxdb_client")

from fleetwatch.timeseries import TimeseriesError, Where
from fleetwatch.timeseries.backends.influxdb2 import flux
from fleetwatch.timeseries.model import to_micros
from tests.timeseries.helpers import at


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("${r._value}", '"\\${r._value}"'),
        ("two\nlines\ttab\r", '"two\\nlines\\ttab\\r"'),
        ("nul\x00bell\x07", '"nul\\x00bell\\x07"'),
        ("ünïcødé ✓", '"ünïcødé ✓"'),
    ],
)
def test_string_literals_are_escaped(value, literal):
    assert flux.string(value) == literal


def test_columns_use_brackets_when_not_identifiers():
    assert flux.column("object_id") == "r.object_id"
    assert flux.column("if.name") == 'r["if.name"]'
    assert flux.column("in") == 'r["in"]'  # a Flux keyword


def test_numbers_and_times():
    assert flux.number(3) == "3"
    assert flux.number(2.5) == "2.5"
    assert flux.number(1e300) == 'float(v: "1e+300")'
    assert flux.number(True) == "1.0"
    moment = at(10, 5, 7, micro=42)
    assert flux.time(to_micros(moment)) == "2026-10-20T10:05:07.000042Z"
    assert flux.micros("2026-10-20T10:05:07.000042Z") == to_micros(moment)
    assert flux.micros("2026-10-20T10:05:07Z") == to_micros(at(10, 5, 7))
    assert flux.micros("2026-10-20T10:05:07.1Z") == to_micros(at(10, 5, 7, micro=100_000))
    assert flux.micros("2026-10-20T10:05:07.123456789Z") == to_micros(at(10, 5, 7, micro=123_456))


def test_where_conditions_follow_the_stored_kind():
    assert flux.where_condition(Where("v", ">=", 40), "float") == "r.v >= 40"
    assert (
        flux.where_condition(Where("s", "=", 'x" or true or "'), "string") == 'r.s == "x\\" or true or \\""'
    )
    assert flux.where_condition(Where("s", "=", "x"), "float") == "false"
    assert flux.where_condition(Where("v", "=", 1), "string") == "false"
    assert flux.where_condition(Where("v", "=", 1), None) == "false"
    assert flux.where_condition(Where("b", "=", True), "boolean") == "r.b == true"
    assert flux.where_condition(Where("b", "<", 1), "boolean") == "r.b == false"
    assert flux.where_condition(Where("b", "!=", 0.5), "boolean") == "exists r.b"
    assert flux.where_condition(Where("b", ">", 1), "boolean") == "false"


def test_delete_predicates_quote_keys_and_values():
    assert flux.delete_predicate("m", [("object_id", 'a"b\\c')]) == (
        '"_measurement"="m" AND "object_id"="a\\"b\\\\c"'
    )
    assert flux.delete_predicate(None, []) == ""


CSV = (
    "#datatype,string,long,dateTime:RFC3339,double,string,string\r\n"
    "#group,false,false,false,false,true,true\r\n"
    "#default,c0,,,,,\r\n"
    ",result,table,_time,_value,_field,result\r\n"
    ',,0,2026-10-20T10:00:00Z,1.5,v,"a,""b"""\r\n'
    ",,1,2026-10-20T11:00:00Z,,v,x\r\n"
    "\r\n"
    "#datatype,string,long,string\r\n"
    "#group,false,false,false\r\n"
    "#default,s0,,\r\n"
    ",result,table,_value\r\n"
    ',,0,"two\nlines"\r\n'
    ",,0,\r\n"
)


def test_annotated_csv_is_split_into_typed_blocks():
    results = flux.by_result(flux.parse(CSV))
    [chart] = results["c0"]
    assert flux.values(chart, "_value") == [1.5, None]
    # A tag named like the annotation column is found by position.
    assert flux.values(chart, "result") == ['a,"b"', "x"]
    assert chart.group == {"_field", "result"}
    [summary] = results["s0"]
    assert flux.values(summary, "_value") == ["two\nlines", ""]
    assert flux.values(summary, "_value", empty_string=None) == ["two\nlines", None]
    assert flux.values(summary, "missing") == [None, None]


def test_an_error_table_raises():
    text = '#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n,"boom",\r\n'
    with pytest.raises(TimeseriesError, match="boom"):
        flux.parse(text)
