"""Typed errors with clear messages for bad input."""

import math
from datetime import datetime

import pytest

from fleetwatch.timeseries import (
    Aggregate,
    ChartQuery,
    FieldTypeError,
    InvalidPoint,
    InvalidQuery,
    Point,
    ReadQuery,
    Where,
)
from tests.timeseries.helpers import at, point


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"measurement": "bad name"}, "invalid measurement name 'bad name'"),
        ({"measurement": ""}, "invalid measurement name ''"),
        ({"tags": {"bad tag": "x"}}, "invalid tag name 'bad tag'"),
        ({"tags": {"t": 1}}, "tag 't' must be a string, not int"),
        ({"tags": {"t": ""}}, "tag 't' has an empty value"),
        ({"fields": {}}, "has no fields"),
        ({"fields": {"v": math.nan}}, "field 'v' of 'm' is nan: not storable"),
        ({"fields": {"v": math.inf}}, "field 'v' of 'm' is inf: not storable"),
        ({"fields": {"v": None}}, "must be a number, string or boolean, not NoneType"),
        ({"fields": {"v": [1]}}, "must be a number, string or boolean, not list"),
        ({"fields": {"1v": 1}}, "invalid field name '1v'"),
        ({"time": datetime(2026, 10, 20, 10)}, "needs an aware datetime"),
        ({"time": "2026-10-20"}, "needs an aware datetime"),
    ],
)
def test_invalid_points_are_refused_with_a_clear_message(kwargs, message):
    args = {"measurement": "m", "fields": {"v": 1.0}, "time": at(10), "tags": {}}
    args.update(kwargs)
    with pytest.raises(InvalidPoint, match=message.replace("(", r"\(")):
        Point(args["measurement"], args["fields"], args["time"], args["tags"])


def test_unknown_aggregate_and_operator_are_refused():
    with pytest.raises(InvalidQuery, match="unknown aggregate 'median'"):
        Aggregate("median", "v")
    with pytest.raises(InvalidQuery, match="unknown operator '=='"):
        Where("v", "==", 1)
    with pytest.raises(InvalidQuery, match="strings can only be compared with = or !="):
        Where("s", "<", "abc")
    with pytest.raises(InvalidQuery, match="not a finite number"):
        Where("v", ">", math.nan)


def test_query_shapes_are_checked():
    agg = [Aggregate("mean", "v")]
    with pytest.raises(InvalidQuery, match="at least one aggregate"):
        ChartQuery("m", [], at(10))
    with pytest.raises(InvalidQuery, match="naive datetime"):
        ChartQuery("m", agg, datetime(2026, 10, 20))
    with pytest.raises(InvalidQuery, match="end is before start"):
        ChartQuery("m", agg, at(10), at(9))
    with pytest.raises(InvalidQuery, match="invalid bucket interval"):
        ChartQuery("m", agg, at(10), interval="ten minutes")
    with pytest.raises(InvalidQuery, match="unknown time zone 'Asia/Nowhere'"):
        ChartQuery("m", agg, at(10), timezone="Asia/Nowhere")
    with pytest.raises(InvalidQuery, match="aliases must be unique"):
        ChartQuery("m", [Aggregate("mean", "v"), Aggregate("max", "v")], at(10))
    with pytest.raises(InvalidQuery, match="invalid tag name"):
        ChartQuery("m", agg, at(10), tags={"bad key": "x"})
    with pytest.raises(InvalidQuery, match="empty list"):
        ReadQuery("m", tags={"t": []})
    with pytest.raises(InvalidQuery, match="limit must be a positive integer"):
        ReadQuery("m", limit=0)
    with pytest.raises(InvalidQuery, match="order must be"):
        ReadQuery("m", order="newest")


def test_a_numeric_aggregate_over_strings_is_a_type_error(backend):
    backend.write([point("w", at(10), clients="00:ee:ad:34:f5:3b")])
    query = ChartQuery("w", [Aggregate("mean", "clients")], at(10), at(11))
    with pytest.raises(FieldTypeError, match=r"mean\(clients\) needs numbers, but w.clients holds strings"):
        backend.chart(query)
    with pytest.raises(FieldTypeError):
        backend.summary(query)
    # Counting strings is fine.
    counted = ChartQuery("w", [Aggregate("count_distinct", "clients")], at(10), at(10, 30))
    assert backend.chart(counted).series == {"clients": [1]}
