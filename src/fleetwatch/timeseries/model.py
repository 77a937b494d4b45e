"""The storage layer's vocabulary: points, queries and results, all plain Python.

A chart is data (a ``ChartQuery``), never a query string: each backend compiles it into its
own language, and the conformance suite checks that every backend gives the same answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fleetwatch.timeseries.errors import InvalidPoint, InvalidQuery

# Re-exported: callers outside the package import these from the model, where they began.
from fleetwatch.timeseries.times import EPOCH as EPOCH
from fleetwatch.timeseries.times import ONE_MICROSECOND as ONE_MICROSECOND
from fleetwatch.timeseries.times import from_micros as from_micros
from fleetwatch.timeseries.times import get_zone as get_zone
from fleetwatch.timeseries.times import parse_interval
from fleetwatch.timeseries.times import require_aware as require_aware
from fleetwatch.timeseries.times import to_micros as to_micros

FieldValue = float | int | str | bool
TagFilter = str | Sequence[str]

# Names of measurements, tags and fields: what InfluxDB, Elasticsearch and SQL can all carry
# without quoting surprises. Tag *values* and string field values may be anything printable.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,199}$")
_valid_names: set[str] = set()  # names already checked; writes repeat the same few names


def check_name(name: object, what: str) -> str:
    if name in _valid_names:
        return name  # type: ignore[return-value]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidPoint(
            f"invalid {what} name {name!r}: use letters, digits, '_', '.', '-' "
            "(starting with a letter or '_', at most 200 characters)"
        )
    if len(_valid_names) < 100_000:
        _valid_names.add(name)
    return name


def check_tag_value(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidPoint(f"tag {key!r} must be a string, not {type(value).__name__}")
    if not value or "\n" in value or "\x00" in value:
        raise InvalidPoint(f"tag {key!r} has an empty value or a newline/NUL character")
    return value


class Point:
    """One sample: a measurement, string tags, typed fields and an instant (µs precision).

    Two points with the same measurement, tags and time are the same point: writing it twice
    stores it once, and a later write replaces the field values it carries.
    """

    __slots__ = ("fields", "measurement", "tags", "time")

    def __init__(
        self,
        measurement: str,
        fields: Mapping[str, FieldValue],
        time: datetime,
        tags: Mapping[str, str] | None = None,
    ):
        self.measurement = check_name(measurement, "measurement")
        self.tags = dict(tags) if tags else {}
        for key, value in self.tags.items():
            check_name(key, "tag")
            check_tag_value(key, value)
        if not fields:
            raise InvalidPoint(f"point of {measurement!r} has no fields")
        self.fields = dict(fields)
        for key, value in self.fields.items():
            check_name(key, "field")
            kind = type(value)
            if kind is float:
                if not math.isfinite(value):
                    raise InvalidPoint(f"field {key!r} of {measurement!r} is {value}: not storable")
            elif kind not in (int, str, bool):
                raise InvalidPoint(
                    f"field {key!r} of {measurement!r} must be a number, string or boolean, "
                    f"not {kind.__name__}"
                )
        if not isinstance(time, datetime) or time.tzinfo is None:
            raise InvalidPoint(f"point of {measurement!r} needs an aware datetime, got {time!r}")
        self.time = time

    def __repr__(self) -> str:
        return f"Point({self.measurement!r}, {self.fields!r}, {self.time.isoformat()}, {self.tags!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (
            self.measurement,
            self.tags,
            self.fields,
            self.time,
        ) == (other.measurement, other.tags, other.fields, other.time)

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- queries

AGGREGATES = ("mean", "sum", "count", "count_distinct", "mode", "min", "max", "last")
# Aggregates that need numbers; the others accept strings too (MAC addresses, JSON).
NUMERIC_AGGREGATES = frozenset({"mean", "sum", "min", "max"})
# Empty buckets hold 0 for counts and None for everything else.
COUNTING_AGGREGATES = frozenset({"count", "count_distinct"})

OPERATORS = ("=", "!=", "<", ">", "<=", ">=")


@dataclass(frozen=True)
class Aggregate:
    """``fn(field) * scale``, rounded to ``digits`` decimals (half away from zero), named ``alias``.

    Scale and rounding are applied by the storage layer after the backend aggregated, so every
    backend produces bit-identical values from identical aggregates.
    """

    fn: str
    field: str
    alias: str | None = None
    scale: float | None = None
    digits: int | None = None

    def __post_init__(self) -> None:
        if self.fn not in AGGREGATES:
            raise InvalidQuery(f"unknown aggregate {self.fn!r}; choose one of {', '.join(AGGREGATES)}")
        if self.field != "*":
            check_query_name(self.field, "field")
        if self.alias is None:
            object.__setattr__(self, "alias", self.field)
        if self.alias != "*":
            check_query_name(self.alias, "alias")
        if self.scale is not None and not (isinstance(self.scale, int | float) and math.isfinite(self.scale)):
            raise InvalidQuery(f"scale of {self.alias!r} must be a finite number")
        if self.digits is not None and not (isinstance(self.digits, int) and 0 <= self.digits <= 12):
            raise InvalidQuery(f"digits of {self.alias!r} must be an integer from 0 to 12")

    @property
    def fills_with_zero(self) -> bool:
        return self.fn in COUNTING_AGGREGATES

    def finish(self, value: Any) -> Any:
        """Apply scale and rounding to one aggregated value."""
        if value is None:
            return None
        if self.scale is not None and not isinstance(value, str):
            value = value * self.scale
        if self.digits is not None and not isinstance(value, str):
            value = round_half_away(value, self.digits)
        return value


def round_half_away(value: float, digits: int) -> float:
    """Round like InfluxQL's ROUND and most people by hand: 2.5 → 3, -2.5 → -3."""
    factor = 10**digits
    # "+ 0.0" turns -0.0 into 0.0, which is what a chart should show
    return math.copysign(math.floor(abs(value) * factor + 0.5) / factor, value) + 0.0


def check_query_name(name: object, what: str) -> str:
    try:
        return check_name(name, what)
    except InvalidPoint as exc:
        raise InvalidQuery(str(exc)) from None


def normalise_tag_filters(tags: Mapping[str, TagFilter] | None) -> dict[str, tuple[str, ...]]:
    """Each tag filter becomes a tuple of accepted values (a single value or a list)."""
    result: dict[str, tuple[str, ...]] = {}
    for key, value in (tags or {}).items():
        check_query_name(key, "tag")
        values = (value,) if isinstance(value, str) else tuple(value)
        if not values:
            raise InvalidQuery(f"tag filter {key!r} has an empty list of values")
        for item in values:
            if not isinstance(item, str):
                raise InvalidQuery(f"tag filter {key!r} values must be strings, got {item!r}")
        result[key] = values
    return result


@dataclass(frozen=True)
class Where:
    """A comparison on a field's value: ``Where("loss", ">", 50)``."""

    field: str
    op: str
    value: FieldValue

    def __post_init__(self) -> None:
        check_query_name(self.field, "field")
        if self.op not in OPERATORS:
            raise InvalidQuery(f"unknown operator {self.op!r}; choose one of {' '.join(OPERATORS)}")
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise InvalidQuery(f"comparison value of {self.field!r} is not a finite number")
        if not isinstance(self.value, int | float | str | bool):
            raise InvalidQuery(f"comparison value of {self.field!r} must be a number or string")
        if isinstance(self.value, str) and self.op not in ("=", "!="):
            raise InvalidQuery(f"strings can only be compared with = or !=, not {self.op!r} ({self.field!r})")


def _where_tuple(item: Where | tuple) -> Where:
    return item if isinstance(item, Where) else Where(*item)


@dataclass(frozen=True)
class ReadQuery:
    """Raw points: fields (or all) of one or several measurements, filtered and ordered."""

    measurement: str | Sequence[str]
    fields: Sequence[str] | Literal["*"] = "*"
    tags: Mapping[str, TagFilter] | None = None
    since: datetime | None = None
    until: datetime | None = None
    where: Sequence[Where | tuple] = ()
    order: Literal["asc", "desc"] = "asc"
    limit: int | None = None
    retention: str = "default"
    # See every write any process had acknowledged before the read began. Backends that make
    # writes visible later (Elasticsearch's refresh interval) pay for it; others ignore it.
    consistent: bool = False

    def __post_init__(self) -> None:
        measurements = (self.measurement,) if isinstance(self.measurement, str) else tuple(self.measurement)
        if not measurements:
            raise InvalidQuery("read needs at least one measurement")
        for name in measurements:
            check_query_name(name, "measurement")
        object.__setattr__(self, "measurement", measurements)
        if self.fields != "*":
            fields = (self.fields,) if isinstance(self.fields, str) else tuple(self.fields)
            if not fields:
                raise InvalidQuery("read needs at least one field, or '*' for all")
            for name in fields:
                check_query_name(name, "field")
            object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "tags", normalise_tag_filters(self.tags))
        object.__setattr__(self, "where", tuple(_where_tuple(w) for w in self.where))
        for moment, what in ((self.since, "since"), (self.until, "until")):
            if moment is not None:
                require_aware(moment, what)
        if self.order not in ("asc", "desc"):
            raise InvalidQuery(f"order must be 'asc' or 'desc', not {self.order!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise InvalidQuery(f"limit must be a positive integer, not {self.limit!r}")
        check_query_name(self.retention, "retention tier")

    @property
    def measurements(self) -> tuple[str, ...]:
        return self.measurement  # type: ignore[return-value]


@dataclass(frozen=True)
class TopFields:
    """Chart only the ``n`` fields with the largest sum over the query's range."""

    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise InvalidQuery(f"top fields needs a positive count, not {self.n!r}")


@dataclass(frozen=True)
class ChartQuery:
    """Aggregates of one measurement in time buckets, from ``start`` to ``end`` (or now).

    ``interval`` is a bucket interval such as ``"10m"``, ``"1h"``, ``"1d"`` (see ``buckets``);
    day multiples follow the calendar of ``timezone`` (23 or 25 hours across DST changes).
    With ``group_by`` each aggregate is computed per value of that tag (one series per
    value, optionally as a running total). With ``top_fields`` the single aggregate whose
    field is ``"*"`` is applied to the n fields with the largest sums.
    """

    measurement: str
    aggregates: Sequence[Aggregate]
    start: datetime
    end: datetime | None = None
    interval: str = "1h"
    timezone: str = "UTC"
    tags: Mapping[str, TagFilter] | None = None
    group_by: str | None = None
    cumulative: bool = False
    top_fields: TopFields | None = None
    retention: str = "default"

    def __post_init__(self) -> None:
        check_query_name(self.measurement, "measurement")
        aggregates = tuple(self.aggregates)
        if not aggregates:
            raise InvalidQuery("a chart needs at least one aggregate")
        for agg in aggregates:
            if not isinstance(agg, Aggregate):
                raise InvalidQuery(f"aggregates must be Aggregate objects, got {agg!r}")
        aliases = [a.alias for a in aggregates]
        if len(set(aliases)) != len(aliases):
            raise InvalidQuery(f"aggregate aliases must be unique, got {aliases}")
        object.__setattr__(self, "aggregates", aggregates)
        require_aware(self.start, "start")
        if self.end is not None:
            require_aware(self.end, "end")
            if self.end < self.start:
                raise InvalidQuery("end is before start")
        parse_interval(self.interval)
        get_zone(self.timezone)
        object.__setattr__(self, "tags", normalise_tag_filters(self.tags))
        if self.group_by is not None:
            check_query_name(self.group_by, "group-by tag")
            if len(aggregates) != 1:
                raise InvalidQuery("grouping by a tag needs exactly one aggregate")
        elif self.cumulative:
            raise InvalidQuery("a cumulative sum needs a group-by tag")
        stars = [a for a in aggregates if a.field == "*"]
        if self.top_fields is not None:
            if len(aggregates) != 1 or not stars:
                raise InvalidQuery("top fields needs exactly one aggregate over field '*'")
            if self.group_by is not None:
                raise InvalidQuery("top fields cannot be combined with a group-by tag")
        elif stars:
            raise InvalidQuery("field '*' is only allowed together with top fields")
        check_query_name(self.retention, "retention tier")

    @property
    def zone(self) -> ZoneInfo:
        return get_zone(self.timezone)

    def with_fields(self, fields: Iterable[str]) -> ChartQuery:
        """The top-fields query made concrete: one aggregate per chosen field."""
        template = self.aggregates[0]
        aggregates = [Aggregate(template.fn, name, name, template.scale, template.digits) for name in fields]
        return ChartQuery(
            measurement=self.measurement,
            aggregates=aggregates,
            start=self.start,
            end=self.end,
            interval=self.interval,
            timezone=self.timezone,
            tags=self.tags,
            retention=self.retention,
        )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Row:
    """One stored point as ``read`` returns it."""

    time: datetime
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]

    def __getitem__(self, name: str) -> Any:
        if name == "time":
            return self.time
        return self.fields[name]


@dataclass
class Result:
    """A chart: bucket start times (in the query's zone) and one list of values per series."""

    times: list[datetime] = field(default_factory=list)
    series: dict[str, list[Any]] = field(default_factory=dict)
    # False when the backend found no point at all in the range (the API skips such charts).
    has_data: bool = False

    def as_rows(self) -> list[dict[str, Any]]:
        return [
            {"time": moment, **{name: values[i] for name, values in self.series.items()}}
            for i, moment in enumerate(self.times)
        ]
