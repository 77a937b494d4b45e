"""The collector's write path: a Clean Insights upload is checked whole, then stored once.

``parse`` refuses an upload that could never be acceptable (``PayloadError``: a 400, nothing
written) and splits the rest into one :class:`Group` per category. ``store`` writes each group as
one :class:`~fleetwatch.usage.models.Report` and, for a new one only, keeps the tables the answers
read (instances, active periods, daily tallies). A re-sent upload finds its reports already there
and changes nothing; the tables end the same whatever order reports arrive in (min/max and
"latest by content" updates only).

Validation (issue 16; reference usage-metrics C.9, C.10): ``idsite`` an integer; ``events`` a
non-empty list; per event ``category`` and ``action`` non-empty strings, ``times`` ≥ 1 (1 when
absent), ``period_start`` ≤ ``period_end`` (unix seconds, not before 2000, not more than a day
ahead of this server's clock). What is kept is low resolution by design: the UTC day, never the
second, and nothing of the request (no address, no header).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction

from fleetwatch.usage import payload
from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Period, Report

MAX_EVENTS = 1000  # an upload of ours has ~15; OpenWISP's a few more
MAX_TEXT = 255  # category, action and name
MAX_CATEGORY = 50
MAX_INSTANCE = 64
MAX_SITE = 2**31 - 1
MAX_TIMES = 2**31 - 1
EARLIEST = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
AHEAD = 86400  # a client's clock may run this far ahead of ours
# Snapshot columns read from the events: action -> column.
SNAPSHOT = {
    payload.INSTALLATION_METHOD: "install_method",
    payload.OS_VERSION: "os",
    payload.KERNEL_VERSION: "kernel",
    payload.HARDWARE_PLATFORM: "platform",
    payload.TIMESERIES_BACKEND: "backend",
}
COLUMN = 100  # the snapshot columns' length
# Report's snapshot columns, and those of them DailyTally and ActivePeriod keep (kernel and
# platform stay in Report).
SNAPSHOT_COLUMNS = ("product", "version", *SNAPSHOT.values())
SNAPSHOT_KEYS = ("product", "version", "install_method", "os", "backend")
# The columns of each table's rows (:class:`Rows`) and the unique keys a new row meets.
REPORT_COLUMNS = ("day", "category", "instance", "digest", "site", *SNAPSHOT_COLUMNS, "events")
REPORT_KEY = ("category", "digest", "day")  # a duplicate: nothing written
TALLY_KEY = ("day", "category", "anonymous", *SNAPSHOT_KEYS)  # its count goes up by one
ACTIVE_KEY = ("instance", "period", "start")
# How an Instance row takes a new report: the earlier non-null of these (installed twice, a
# database restored?: the first counts), the later non-null of those (withdrawn, given again,
# withdrawn again: the last counts); its product stays once known.
INSTANCE_EARLIEST = ("first_seen", "installed_on")
INSTANCE_LATEST = ("last_seen", "withdrawn_on")
# On one day, which report's snapshot is the latest (an Upgrade carries the day's newest versions).
RANK = {payload.INSTALL: 0, payload.HEARTBEAT: 1, payload.UPGRADE: 2}


class PayloadError(ValueError):
    """The upload can never be accepted: ``field`` (e.g. ``"events[2].times"``) and ``message``."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class Group:
    """The events of one category in one upload, checked; ``events`` as
    ``[{"action", "name", "value", "times", "period_start", "period_end"}]``."""

    site: int
    category: str
    events: list[dict] = field(default_factory=list)

    @property
    def instance(self) -> str:
        """The ``"Instance ID"`` event's name, or '' (an anonymous upload)."""
        for item in self.events:
            if item["action"] == payload.INSTANCE_ID:
                return item["name"] or ""
        return ""

    @property
    def day(self) -> date:
        """The UTC day of the group's earliest ``period_start``: the only time kept."""
        return datetime.fromtimestamp(min(e["period_start"] for e in self.events), UTC).date()

    def digest(self) -> str:
        """:func:`payload.digest` of the group, with the timestamps only when it has no
        instance id (see ``Report``)."""
        return payload.digest(self.site, self.category, self.events, timestamps=not self.instance)

    def snapshot(self) -> dict:
        """``{"product", "version", "install_method", "os", "kernel", "platform", "backend"}``
        from the events (HTML entities undone: OpenWISP escapes what it sends)."""
        found = dict.fromkeys(SNAPSHOT_COLUMNS, "")
        for item in self.events:
            text = html.unescape(item["name"] or "")[:COLUMN]
            if item["action"] in payload.PRODUCTS:
                found["product"] = payload.PRODUCTS[item["action"]]
                found["version"] = text
            elif item["action"] in SNAPSHOT:
                found[SNAPSHOT[item["action"]]] = text
        return found


def _integer(value, where: str, low: int, high: int) -> int:
    # JSON numbers: 3 and 3.0 are the same number; booleans are not numbers.
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(where, "A whole number is required.")
    if not low <= value <= high:
        raise PayloadError(where, f"Must be between {low} and {high}.")
    return value


def _text(value, where: str, limit: int, required: bool) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and not required:
        value = str(value)  # a version sent as a number
    if not isinstance(value, str):
        raise PayloadError(where, "A string is required.")
    if required and not value.strip():
        raise PayloadError(where, "This field may not be blank.")
    if len(value) > limit:
        raise PayloadError(where, f"At most {limit} characters.")
    return value


def _event(item, where: str, latest: int) -> dict:
    if not isinstance(item, dict):
        raise PayloadError(where, "An event is a JSON object.")
    for name in ("category", "action", "period_start", "period_end"):
        if name not in item:
            raise PayloadError(f"{where}.{name}", "This field is required.")
    value = item.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise PayloadError(f"{where}.value", "A number is required.")
    checked = {
        "category": _text(item["category"], f"{where}.category", MAX_CATEGORY, True).strip(),
        "action": _text(item["action"], f"{where}.action", MAX_TEXT, True),
        "name": _text(item.get("name"), f"{where}.name", MAX_TEXT, False),
        "value": value,
        "times": _integer(item.get("times", 1), f"{where}.times", 1, MAX_TIMES),
        "period_start": _integer(item["period_start"], f"{where}.period_start", EARLIEST, latest),
        "period_end": _integer(item["period_end"], f"{where}.period_end", EARLIEST, latest),
    }
    if checked["period_start"] > checked["period_end"]:
        raise PayloadError(f"{where}.period_end", "Must not be before period_start.")
    return checked


def parse(data, now: datetime | None = None) -> list[Group]:
    """The upload ``data`` (decoded JSON) as one :class:`Group` per category, in first-seen
    order. Raises :class:`PayloadError` for the first problem found; ``now`` (default: the
    clock) bounds ``period_*``."""
    if not isinstance(data, dict):
        raise PayloadError("non_field_errors", 'Send a JSON object: {"idsite": …, "events": […]}.')
    if "idsite" not in data:
        raise PayloadError("idsite", "This field is required.")
    site = _integer(data["idsite"], "idsite", 0, MAX_SITE)
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise PayloadError("events", "A non-empty list of events is required.")
    if len(events) > MAX_EVENTS:
        raise PayloadError("events", f"At most {MAX_EVENTS} events in one upload.")
    latest = int((now or datetime.now(UTC)).timestamp()) + AHEAD
    groups: dict[str, Group] = {}
    for index, item in enumerate(events):
        checked = _event(item, f"events[{index}]", latest)
        group = groups.setdefault(checked["category"], Group(site, checked["category"]))
        group.events.append({k: v for k, v in checked.items() if k != "category"})
    for group in groups.values():
        ids = {e["name"] or "" for e in group.events if e["action"] == payload.INSTANCE_ID}
        if len(ids) > 1:
            raise PayloadError("events", f"One {payload.INSTANCE_ID!r} per category, not {len(ids)}.")
        if ids and not (0 < len(next(iter(ids))) <= MAX_INSTANCE):
            raise PayloadError("events", f"An {payload.INSTANCE_ID!r} of 1 to {MAX_INSTANCE} characters.")
    return list(groups.values())


def period_start(day: date, period: str) -> date:
    """The first day of ``day``'s ISO week (Monday) or month."""
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def store(groups: list[Group]) -> tuple[int, int]:
    """Store each group once; returns (stored, duplicates). Each group is its own transaction:
    a duplicate (same category, digest and day) is recognised by the unique constraint, so two
    servers receiving one re-send at once still store it once."""
    stored = duplicates = 0
    for group in groups:
        if _store(group):
            stored += 1
        else:
            duplicates += 1
    return stored, duplicates


@dataclass(frozen=True)
class Rows:
    """The rows a new report writes, each as if the tables were empty: :func:`store` merges them
    into what is stored with ``INSERT … ON CONFLICT``, ``bulk`` in memory with the same rules
    (:func:`merge_instance`, :func:`replaces`).

    - ``report``: the Report, by :data:`REPORT_COLUMNS` (in that order); ``events`` as kept,
      ``[{"action", "name", "value", "times"}]``, not yet prepared for the database.
    - ``tally``: the DailyTally's key, by :data:`TALLY_KEY` (the report adds one to its count).
    - ``instance``: the Instance row (``instance``, ``product``, ``installed_on``,
      ``first_seen``, ``last_seen``, ``withdrawn_on``); None for an anonymous report.
    - ``active``: one ActivePeriod row per period (``instance``, ``period``, ``start``,
      ``latest``, :data:`SNAPSHOT_KEYS`) for an Install, Upgrade or Heartbeat with an instance
      id; else none. ``latest`` is ``"<day>|<category rank>|<digest>"``: of two reports in one
      period, the greater is the later (:data:`RANK` orders one day's).
    """

    report: dict
    tally: tuple
    instance: dict | None
    active: tuple[dict, ...]


def rows(group: Group) -> Rows:
    """The :class:`Rows` of ``group`` (a group of :func:`parse`)."""
    day, instance, digest, snapshot = group.day, group.instance, group.digest(), group.snapshot()
    values = {
        "day": day,
        "category": group.category,
        "instance": instance,
        "digest": digest,
        "site": group.site,
        **snapshot,
        "events": [{k: e[k] for k in payload.CONTENT} for e in group.events],
    }
    report = {column: values[column] for column in REPORT_COLUMNS}
    kept = {k: snapshot[k] for k in SNAPSHOT_KEYS}
    tally = (day, group.category, not instance, *kept.values())
    if not instance:
        return Rows(report, tally, None, ())
    row = {
        "instance": instance,
        "product": snapshot["product"],
        "installed_on": day if group.category == payload.INSTALL else None,
        "first_seen": day,
        "last_seen": day if group.category in payload.ACTIVE else None,
        "withdrawn_on": day if group.category == payload.CONSENT_WITHDRAWN else None,
    }
    active = ()
    if group.category in payload.ACTIVE:
        latest = f"{day.isoformat()}|{RANK[group.category]}|{digest}"
        active = tuple(
            {
                "instance": instance,
                "period": period,
                "start": period_start(day, period),
                "latest": latest,
                **kept,
            }
            for period in Period.values
        )
    return Rows(report, tally, row, active)


def merge_instance(stored: dict, new: dict) -> None:
    """Update the Instance row ``stored`` with a report's ``new`` one (:attr:`Rows.instance`)
    as :func:`store`'s upsert does in SQL: :data:`INSTANCE_EARLIEST` take the earlier non-null
    value, :data:`INSTANCE_LATEST` the later, ``product`` the new one only while empty."""
    for column in INSTANCE_EARLIEST:
        if new[column] is not None and (stored[column] is None or new[column] < stored[column]):
            stored[column] = new[column]
    for column in INSTANCE_LATEST:
        if new[column] is not None and (stored[column] is None or new[column] > stored[column]):
            stored[column] = new[column]
    if not stored["product"]:
        stored["product"] = new["product"]


def replaces(new: dict, stored: dict | None) -> bool:
    """Whether the ActivePeriod row ``new`` takes the place of ``stored`` (same
    :data:`ACTIVE_KEY`; None: none stored), as :func:`store`'s upsert decides in SQL: only a
    later report's snapshot does (``latest`` greater)."""
    return stored is None or new["latest"] > stored["latest"]


def _store(group: Group) -> bool:
    new = rows(group)
    # One statement per table, each an INSERT … ON CONFLICT that SQLite and PostgreSQL read the
    # same way: a duplicate report inserts nothing (and stops here); the other tables take
    # min/max or "the later snapshot wins", so a race or any arrival order ends the same.
    with transaction.atomic(), connection.cursor() as cursor:
        report = {**new.report, "events": _EVENTS.get_db_prep_value(new.report["events"], connection)}
        cursor.execute(_insert(Report, report, _REPORT), list(report.values()))
        if cursor.rowcount != 1:
            return False
        tally = {**dict(zip(TALLY_KEY, new.tally, strict=True)), "count": 1}
        cursor.execute(_insert(DailyTally, tally, _TALLY), list(tally.values()))
        if new.instance is not None:
            cursor.execute(_insert(Instance, new.instance, _INSTANCE), list(new.instance.values()))
        for row in new.active:
            cursor.execute(_insert(ActivePeriod, row, _ACTIVE), list(row.values()))
    return True


_EVENTS = Report._meta.get_field("events")


def _insert(Model, values: dict, tail: str) -> str:
    table = Model._meta.db_table
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}) {tail}"


def _earliest(table: str, column: str) -> str:
    """``column`` becomes the earlier non-null of the stored and the new value."""
    return (
        f"{column} = CASE WHEN {table}.{column} IS NULL OR excluded.{column} < {table}.{column} "
        f"THEN COALESCE(excluded.{column}, {table}.{column}) ELSE {table}.{column} END"
    )


def _latest(table: str, column: str) -> str:
    """``column`` becomes the later non-null of the stored and the new value."""
    return (
        f"{column} = CASE WHEN {table}.{column} IS NULL OR excluded.{column} > {table}.{column} "
        f"THEN COALESCE(excluded.{column}, {table}.{column}) ELSE {table}.{column} END"
    )


_REPORT = f"ON CONFLICT ({', '.join(REPORT_KEY)}) DO NOTHING"
_TALLY = f"ON CONFLICT ({', '.join(TALLY_KEY)}) DO UPDATE SET count = {DailyTally._meta.db_table}.count + 1"
_table = Instance._meta.db_table
_INSTANCE = "ON CONFLICT (instance) DO UPDATE SET " + ", ".join(
    [
        *(_earliest(_table, column) for column in INSTANCE_EARLIEST),
        *(_latest(_table, column) for column in INSTANCE_LATEST),
        f"product = CASE WHEN {_table}.product = '' THEN excluded.product ELSE {_table}.product END",
    ]
)
_table = ActivePeriod._meta.db_table
# Only a later report's snapshot replaces the stored one.
_ACTIVE = (
    f"ON CONFLICT ({', '.join(ACTIVE_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ("latest", *SNAPSHOT_KEYS))
    + f" WHERE excluded.latest > {_table}.latest"
)
del _table
