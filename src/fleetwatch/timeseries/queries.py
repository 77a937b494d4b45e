"""Generic chart templates: aggregates and tag rules, made concrete for a time range.

A ``ChartTemplate`` says which aggregates a chart computes and which tag filters it needs or
accepts; ``template.query(...)`` turns it into a ``ChartQuery`` for a measurement, a window
and tag values. An aggregate may name its field as ``METRIC_FIELD`` (``"{field_name}"``): the
field is then given when the query is made, so one template serves several series.

This module knows nothing of what is charted (devices, interfaces, organizations): the chart
declarations that use it live in ``fleetwatch.metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from fleetwatch.timeseries.errors import InvalidQuery
from fleetwatch.timeseries.model import Aggregate, ChartQuery, ReadQuery, TagFilter

# The field of an aggregate that is only known when the query is made.
METRIC_FIELD = "{field_name}"


@dataclass(frozen=True)
class AggregateTemplate:
    """An ``Aggregate`` whose field may be ``METRIC_FIELD``; validated when declared.

    ``alias`` defaults to the (concrete) field name, as for ``Aggregate``.
    """

    fn: str
    field: str
    alias: str | None = None
    scale: float | None = None
    digits: int | None = None

    def __post_init__(self) -> None:
        # An Aggregate built now checks fn, names, scale and digits (InvalidQuery if wrong).
        self.concrete("field_name_checked_later" if self.field == METRIC_FIELD else None)

    def concrete(self, field_name: str | None = None) -> Aggregate:
        """The ``Aggregate`` for a field name (needed when the field is ``METRIC_FIELD``)."""
        field = self.field
        if field == METRIC_FIELD:
            if not field_name:
                raise InvalidQuery(f"aggregate {self.alias or field!r} needs the field name it stands for")
            field = field_name
        return Aggregate(self.fn, field, self.alias or field, self.scale, self.digits)


@dataclass(frozen=True)
class ChartTemplate:
    """A chart's aggregates and tag rules.

    ``required_tags`` must be given a value by every query; ``optional_tags`` may be (``None``:
    any other tag may). Each aggregate is an ``Aggregate`` or an ``AggregateTemplate``.
    """

    name: str
    aggregates: tuple[Aggregate | AggregateTemplate, ...]
    required_tags: tuple[str, ...] = ()
    optional_tags: tuple[str, ...] | None = ()
    group_by: str | None = None
    cumulative: bool = False

    def __post_init__(self) -> None:
        if not self.aggregates:
            raise InvalidQuery(f"chart {self.name!r} needs at least one aggregate")

    def query(
        self,
        measurement: str,
        start: datetime,
        end: datetime | None = None,
        interval: str = "1h",
        timezone: str = "UTC",
        tags: Mapping[str, TagFilter] | None = None,
        field_name: str | None = None,
        retention: str = "default",
    ) -> ChartQuery:
        """The ``ChartQuery`` over ``[start, end]``; InvalidQuery for a missing or unknown tag,
        or a missing ``field_name`` where an aggregate needs one."""
        tags = {k: v for k, v in (tags or {}).items() if v not in (None, "", [], ())}
        missing = [key for key in self.required_tags if key not in tags]
        if missing:
            raise InvalidQuery(f"chart {self.name!r} needs the tag(s) {', '.join(missing)}")
        if self.optional_tags is not None:
            unknown = set(tags) - set(self.required_tags) - set(self.optional_tags)
            if unknown:
                raise InvalidQuery(f"chart {self.name!r} cannot filter by {', '.join(sorted(unknown))}")
        aggregates = []
        for agg in self.aggregates:
            if isinstance(agg, AggregateTemplate):
                if agg.field == METRIC_FIELD and not field_name:
                    raise InvalidQuery(f"chart {self.name!r} needs the metric's field name")
                agg = agg.concrete(field_name)
            aggregates.append(agg)
        return ChartQuery(
            measurement=measurement,
            aggregates=aggregates,
            start=start,
            end=end,
            interval=interval,
            timezone=timezone,
            tags=tags,
            group_by=self.group_by,
            cumulative=self.cumulative,
            retention=retention,
        )


def raw_query(
    measurement: str,
    field_name: str,
    tags: Mapping[str, TagFilter] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    retention: str = "default",
) -> ReadQuery:
    """The raw values of one field, oldest first (a chart without aggregates shows these)."""
    return ReadQuery(
        measurement, fields=[field_name], tags=tags, since=since, until=until, retention=retention
    )


def latest_query(
    measurement: str, field_name: str, tags: Mapping[str, TagFilter], retention: str = "default"
) -> ReadQuery:
    """The newest point's value of one field among the series matching ``tags``."""
    return ReadQuery(measurement, fields=[field_name], tags=tags, order="desc", limit=1, retention=retention)
