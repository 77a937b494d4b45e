"""The backup checks as pure functions: plain values in, a status and a human message out.

Nothing here imports Django or touches a database: the caller (the backups app's check runner)
queries the runs, turns them into :class:`RunSummary` / :class:`Execution` values and stores or
notifies what comes back. Three checks, each modelled on a Wikimedia tool (reference
``shared/reference/backups.md``; the rules and the wording were read in their public sources,
the code is ours):

* :func:`check_freshness_size`: freshness and size of the latest finished run of one
  (section, type, datacenter), the ordered rules and messages of wmfbackups'
  ``check_mariadb_backups.py`` (A.4);
* :func:`long_running` / :func:`long_running_result`: runs of the last week that took (or are
  taking) longer than a threshold, as wmfbackups' ``check_dbbackup_time.py`` (A.5);
* :func:`schedule_category` / :func:`success_rates`: schedule-based freshness of a job's
  executions and its success counters, as operations-puppet's ``check_bacula.py`` (A.6).

Statuses are the Nagios plugin exit codes (``OK`` 0, ``WARNING`` 1, ``CRITICAL`` 2,
``UNKNOWN`` 3). Every datetime is timezone-aware; messages show them in UTC.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# Nagios plugin return codes, the statuses of every check here.
OK = 0
WARNING = 1
CRITICAL = 2
UNKNOWN = 3
STATUS_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

MINUTE = 60
HOUR = 3600
DAY = 86400
WEEK = 7 * DAY


@dataclass(frozen=True)
class Result:
    """The outcome of a check: ``status`` (one of ``OK``, ``WARNING``, ``CRITICAL``,
    ``UNKNOWN``) and a one-line human ``message``."""

    status: int
    message: str

    def __post_init__(self):
        if self.status not in STATUS_NAMES:
            raise ValueError(f"not a Nagios status: {self.status!r}")

    @property
    def name(self) -> str:
        """``"OK"``, ``"WARNING"``, ``"CRITICAL"`` or ``"UNKNOWN"``."""
        return STATUS_NAMES[self.status]


def unknown(message: str) -> Result:
    """An ``UNKNOWN`` result: what the caller answers when it cannot evaluate at all (A.4 rule 1:
    a section, datacenter or type that is not monitored, an unreadable database)."""
    return Result(UNKNOWN, message)


@dataclass(frozen=True)
class RunSummary:
    """What the checks need of one backup run (reference A.2 ``backups``).

    ``start_date``/``end_date`` are aware datetimes (``end_date`` is None while ongoing);
    ``total_size`` is bytes or None when never measured; ``source`` is the server backed up
    (``fqdn[:port]``, e.g. ``db1145.eqiad.wmnet:3315``) and ``host`` the machine that took the
    backup; ``status`` is ``ongoing``/``finished``/``failed``/``deleted``; ``type`` is
    ``dump``/``snapshot``/``cold``; ``datacenter`` may be ``""`` (a run tied to none)."""

    start_date: datetime
    end_date: datetime | None = None
    total_size: int | None = None
    source: str | None = None
    host: str | None = None
    status: str = "finished"
    type: str = "dump"
    section: str = ""
    datacenter: str = ""


# --- formatting ---------------------------------------------------------------------------------


def format_size(n_bytes: int) -> str:
    """``n_bytes`` as a human size in binary units, never TiB, so that large backups compare at a
    glance: ``0 B``, ``899 B``, ``0.9 KiB``, ``1.0 KiB``, ``10 KiB``, ``0.9 MiB``, ``128 MiB``,
    ``1.5 GiB``, ``7168 GiB`` (7 TiB).

    The rule is wmfbackups' ``format_size`` (``wmfbackups/check/check_mariadb_backups.py``): from
    2 GiB an integer number of GiB; from 0.9 GiB one decimal; the same two steps for MiB
    (2 MiB / 0.9 MiB) and KiB (2 KiB / 900 B); below 900 B whole bytes. Rounding is Python's
    (half to even), as there. Raises ValueError for a negative size."""
    if n_bytes < 0:
        raise ValueError(f"a size cannot be negative: {n_bytes}")
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if n_bytes >= 2 * unit:
            return f"{round(n_bytes / unit)} {name}"
        # 0.9 KiB is 921.6 B, but the original's threshold for KiB is a round 900 B.
        if n_bytes >= (900 if unit == KIB else 0.9 * unit):
            return f"{n_bytes / unit:.1f} {name}"
    return f"{n_bytes:.0f} B"


def format_percent(x: float) -> str:
    """A signed percentage with one decimal and a space before ``%`` (ISO 31-0, as wmfbackups
    writes it): ``+0.0 %``, ``+20.0 %``, ``-16.7 %``. The sign is the sign of ``x``, so a change
    that rounds to zero keeps its direction (``-0.01`` → ``-0.0 %``), as in the original."""
    sign = "+" if x >= 0 else "-"
    return f"{sign}{abs(x):.1f} %"


def humanize_duration(seconds: float | timedelta) -> str:
    """A duration as the English words of arrow's ``humanize()`` (automatic granularity), without
    "ago": ``an hour``, ``3 hours``, ``a day``, ``3 days``, ``a week``, ``2 weeks``,
    ``a month``, ``a year``.

    wmfbackups builds its freshness message with arrow (``present.humanize(present.shift(
    seconds=freshness))``), so these steps are arrow 1.x's: below 2 units the singular
    ("a day" up to 47 h 59 min), then whole units rounded down up to the next step; weeks from
    7 days (so 8 or 9 days read "a week"), months from 30.5 days, years from 365 days. Two
    differences, both ours: under 10 s arrow says "just now" (we say "N seconds"), and between
    two months and a year arrow counts calendar months between two dates where we divide by
    30.5 days (the same or one less)."""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    s = abs(round(seconds))
    if s < MINUTE:
        return "a second" if s == 1 else f"{s} seconds"
    month = 30.5 * DAY
    # (unit, its size, the singular, where the next unit takes over)
    steps = (
        ("minute", MINUTE, "a minute", HOUR),
        ("hour", HOUR, "an hour", DAY),
        ("day", DAY, "a day", WEEK),
        ("week", WEEK, "a week", month),
        ("month", month, "a month", 365 * DAY),
        ("year", 365 * DAY, "a year", float("inf")),
    )
    for unit, size, singular, until in steps:
        if s < 2 * size:
            return singular
        if s < until:
            return f"{int(s // size)} {unit}s"
    raise AssertionError("unreachable: the last step has no end")


def ago(delta: timedelta) -> str:
    """``"D days, H hours, M minutes ago"`` (always plural, units rounded down), as bernard's
    freshness API writes the age of a section's last backup (A.7,
    ``api_db/app/routes/api/v1/get_backups_data.py``). A negative delta (a clock ahead of
    ours) reads as zero."""
    if delta < timedelta(0):
        delta = timedelta(0)
    hours, rest = divmod(delta.seconds, HOUR)
    return f"{delta.days} days, {hours} hours, {rest // MINUTE} minutes ago"


def format_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC: how the A.4 messages show a run's date (wmfbackups
    prints the database's naive timestamps, which are UTC on Wikimedia's servers)."""
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S")


def format_elapsed(delta: timedelta) -> str:
    """A run's duration as Python prints a ``timedelta`` (``14:02:03``, ``1 day, 2:03:04``), the
    way ``check_dbbackup_time.py`` writes it, to the whole second (the original shows an ongoing
    run's microseconds). A negative delta reads as ``0:00:00``."""
    return str(timedelta(seconds=max(0, int(delta.total_seconds()))))


def short_name(address: str | None) -> str:
    """The short name of a host for messages: the first label of an FQDN, without the port
    (``db1145.eqiad.wmnet:3315`` → ``db1145``), as wmfbackups shortens a run's source. An IP
    address stays whole (without a port), as ``check_bacula.py`` does for its clients, rather
    than shortened to its first byte; an empty address reads ``unknown`` (the original prints
    ``None``)."""
    if not address:
        return "unknown"
    host = address.strip()
    if host.startswith("["):  # [IPv6]:port
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # name:port or IPv4:port (an IPv6 address has several colons)
        host = host.partition(":")[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.split(".")[0]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a naive datetime where an aware one is needed: {moment!r}")
    return moment.astimezone(UTC).replace(microsecond=0)


# --- A.4: freshness and size of the latest finished run ----------------------------------------


def check_freshness_size(
    *,
    section: str,
    type: str,
    datacenter: str,
    latest_two: Sequence[RunSummary],
    now: datetime,
    freshness: float,
    min_size: int,
    warn_percentage: float,
    crit_percentage: float,
) -> Result:
    """Judge the latest finished run of ``type`` for ``section`` at ``datacenter``, with the rules
    of wmfbackups' ``check_mariadb_backups.py`` in their order (reference A.4, first match wins).

    ``latest_two`` are the job's two newest *finished* runs with an end date, newest first (the
    caller's query: ``status='finished' AND end_date IS NOT NULL ORDER BY start_date DESC
    LIMIT 2``); ``freshness`` is seconds, ``min_size`` bytes, the percentages are of the
    previous run's size. Rule 1 (an unknown section, datacenter or type, a database error →
    UNKNOWN) is the caller's: see :func:`unknown`.

    2. no run → CRITICAL ``We could not find any completed <id>``;
    3. the latest started before ``now - freshness`` → CRITICAL
       ``<id> (<source>) taken more than <a week> ago: Most recent backup <date>``;
    4. its size (unknown counts as 0) below ``min_size`` → CRITICAL
       ``<id> (<source>, <date>): <size> is less than <min size>``;
    5. only one run → WARNING ``There is only 1 <id> (<source>) taken on <date> (<size>)``;
    6. the size changed by more than ``crit_percentage`` (CRITICAL) or ``warn_percentage``
       (WARNING) of the previous one: ``Last <id> (<source>) taken on <date> is <size>, but the
       previous one was <size>, a change of <±x.x %>``;
    7. OK ``Last <id> (<source>) taken on <date> (<size>, <±x.x %>)``.

    ``<id>`` is ``<type> for <section> at <datacenter>``, ``<source>`` the short name of the
    server backed up, ``<date>`` the run's start in UTC (``YYYY-MM-DD HH:MM:SS``); the
    comparisons are strict, as in the original (a run exactly ``freshness`` old is fresh, a
    change of exactly ``warn_percentage`` is OK).

    Ours, where the original has no answer: a previous run with no recorded size (the original
    crashes) or a size of 0 (the original divides by zero) cannot be compared against, like
    rule 5's lone run, so the answer is WARNING: ``Last <id> (<source>) taken on <date>
    (<size>), but the previous one has no recorded size: cannot compare sizes`` (or ``… the
    previous one was 0 B: …``). Comparing with 0 would make every such run CRITICAL (an
    infinite change) until the next one, though the newest run is the one that looks right.
    And a latest run with no recorded size when ``min_size`` is 0 (a job that only pings, as
    a Healthchecks cron script does) is judged on freshness alone: OK ``Last <id> (<source>)
    taken on <date> (no size reported)``."""
    identifier = f"{type} for {section}" + (f" at {datacenter}" if datacenter else "")
    if not latest_two:
        return Result(CRITICAL, f"We could not find any completed {identifier}")

    latest = latest_two[0]
    taken = format_timestamp(latest.start_date)
    source = short_name(latest.source)
    size = latest.total_size or 0
    if latest.start_date < now - timedelta(seconds=freshness):
        return Result(
            CRITICAL,
            f"{identifier} ({source}) taken more than {humanize_duration(freshness)} ago: "
            f"Most recent backup {taken}",
        )
    if size < min_size:
        return Result(
            CRITICAL,
            f"{identifier} ({source}, {taken}): {format_size(size)} is less than {format_size(min_size)}",
        )
    if latest.total_size is None and min_size == 0:
        # Ours: a job that reports no sizes (a cron script's pings) and asks for none is judged
        # on freshness alone; otherwise it could never be OK (rules 5 and 6 need sizes).
        return Result(OK, f"Last {identifier} ({source}) taken on {taken} (no size reported)")
    if len(latest_two) == 1:
        return Result(
            WARNING, f"There is only 1 {identifier} ({source}) taken on {taken} ({format_size(size)})"
        )

    previous = latest_two[1].total_size
    if not previous:
        why = "has no recorded size" if previous is None else f"was {format_size(0)}"
        return Result(
            WARNING,
            f"Last {identifier} ({source}) taken on {taken} ({format_size(size)}), "
            f"but the previous one {why}: cannot compare sizes",
        )
    change = (size - previous) / previous * 100.0
    if abs(change) > warn_percentage or abs(change) > crit_percentage:
        status = CRITICAL if abs(change) > crit_percentage else WARNING
        return Result(
            status,
            f"Last {identifier} ({source}) taken on {taken} is {format_size(size)}, "
            f"but the previous one was {format_size(previous)}, a change of {format_percent(change)}",
        )
    return Result(
        OK, f"Last {identifier} ({source}) taken on {taken} ({format_size(size)}, {format_percent(change)})"
    )


# --- A.5: long-running runs -------------------------------------------------------------------

DEFAULT_MAX_HOURS = 12.0
DEFAULT_WINDOW = timedelta(days=7)


def run_duration(run: RunSummary, now: datetime) -> timedelta:
    """How long ``run`` took, or has taken so far if it has no end date yet."""
    return (run.end_date or now) - run.start_date


def long_running(
    runs: Iterable[RunSummary],
    now: datetime,
    max_hours: float = DEFAULT_MAX_HOURS,
    window: timedelta = DEFAULT_WINDOW,
) -> list[RunSummary]:
    """The runs that started within ``window`` before ``now`` (inclusive) and took, or have
    been running for, more than ``max_hours`` (strictly), whatever their status, oldest start
    first: the selection of wmfbackups' ``check_dbbackup_time.py`` (A.5; its query orders by
    id, which follows the start). ``runs`` may include ongoing ones (``end_date`` None)."""
    since = now - window
    limit = timedelta(hours=max_hours)
    found = [run for run in runs if run.start_date >= since and run_duration(run, now) > limit]
    return sorted(found, key=lambda run: run.start_date)


def long_running_line(run: RunSummary, now: datetime) -> str:
    """One run as a line of the long-running report (A.5):
    ``<type> of <section> in <dc> started at <iso> and finished at <iso> (<duration>)``, or
    ``… started at <iso> and it is still ongoing (<duration>)`` without an end date. Dates are
    ISO 8601 in UTC to the second, durations as :func:`format_elapsed`; without a datacenter
    the ``in <dc>`` part is left out. (The e-mail of the original puts ``* `` before each line
    and ``.`` after it.)"""
    where = f" in {run.datacenter}" if run.datacenter else ""
    started = f"{run.type} of {run.section}{where} started at {_utc(run.start_date).isoformat()}"
    elapsed = format_elapsed(run_duration(run, now))
    if run.end_date is None:
        return f"{started} and it is still ongoing ({elapsed})"
    return f"{started} and finished at {_utc(run.end_date).isoformat()} ({elapsed})"


def long_running_heading(count: int, max_hours: float = DEFAULT_MAX_HOURS) -> str:
    """The report's sentence before its lines, as the original's e-mail words it:
    ``<count> backups were found in the last week that took over <max_hours> hours:``."""
    return f"{count} backups were found in the last week that took over {max_hours:.1f} hours:"


def long_running_result(
    runs: Iterable[RunSummary],
    now: datetime,
    max_hours: float = DEFAULT_MAX_HOURS,
    window: timedelta = DEFAULT_WINDOW,
) -> Result:
    """One job's long-running check as a status, which is ours: the original only e-mails a
    report. WARNING when :func:`long_running` finds any run, naming the longest (the earliest
    on a tie): ``<n> backup(s) started since <date> took over <h> hours; the longest: <line>``;
    otherwise OK ``No backup started since <date> took over <h> hours``. A long run is worth a
    look, not a page: the freshness check is what says a backup is missing."""
    found = long_running(runs, now, max_hours, window)
    since = format_timestamp(now - window)
    if not found:
        return Result(OK, f"No backup started since {since} took over {max_hours:.1f} hours")
    longest = max(found, key=lambda run: (run_duration(run, now), -run.start_date.timestamp()))
    noun = "backup" if len(found) == 1 else "backups"
    return Result(
        WARNING,
        f"{len(found)} {noun} started since {since} took over {max_hours:.1f} hours; "
        f"the longest: {long_running_line(longest, now)}",
    )


# --- A.6: schedule-based freshness and success rates --------------------------------------------


class Schedule(StrEnum):
    """How often a job runs; the values are those of the backups app's ``Schedule`` choices."""

    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


# Seconds within which the latest good backup (any level) and the latest good full backup must
# have ended, per schedule: check_bacula.py's get_expected_freshness (A.6). Hourly: fulls weekly,
# incrementals hourly; weekly and daily: only fulls; monthly: fulls monthly, differentials
# fortnightly, incrementals daily.
EXPECTED_FRESHNESS: dict[Schedule, tuple[int, int]] = {
    Schedule.HOURLY: (3 * HOUR, 8 * DAY),
    Schedule.WEEKLY: (8 * DAY, 8 * DAY),
    Schedule.DAILY: (2 * DAY, 2 * DAY),
    Schedule.MONTHLY: (2 * DAY, 36 * DAY),
}


def expected_freshness(schedule: Schedule | str) -> tuple[int, int]:
    """``(any backup, full backup)`` expected freshness in seconds for ``schedule``. Raises
    ValueError for a value that is not a :class:`Schedule`."""
    return EXPECTED_FRESHNESS[Schedule(schedule)]


def schedule_from_jobdefs(jobdefs: str) -> Schedule:
    """The schedule a Bacula ``JobDefs`` name stands for, by its prefix as ``check_bacula.py``
    reads it (``Hourly…``, ``Weekly…``, ``Daily…``; anything else is taken as monthly)."""
    for schedule in (Schedule.HOURLY, Schedule.WEEKLY, Schedule.DAILY):
        if jobdefs.startswith(schedule.value.capitalize()):
            return schedule
    return Schedule.MONTHLY


FULL_TYPES = frozenset({"dump", "snapshot", "cold"})


@dataclass(frozen=True)
class Execution:
    """One execution of a job for the schedule check: Bacula's ``llist`` row in our terms.
    ``status`` is a run status (``finished`` is Bacula's ``T``, terminated normally);
    ``full`` says whether it is a full backup (Bacula level ``F``) rather than an incremental
    or differential one; sizes are bytes."""

    start_date: datetime
    end_date: datetime | None
    status: str
    total_size: int | None
    full: bool = True

    @classmethod
    def from_run(cls, run: RunSummary) -> Execution:
        """A database backup run as an execution. wmfbackups has no incremental backups: a dump
        (mydumper), a snapshot (mariabackup) and a cold copy each hold the whole section, so
        every run of those types is full; any other type (wmfbackups' ``null`` test type) is
        not."""
        return cls(run.start_date, run.end_date, run.status, run.total_size, run.type in FULL_TYPES)

    @property
    def good(self) -> bool:
        """Terminated normally with an end date to date it by."""
        return self.status == "finished" and self.end_date is not None

    @property
    def good_full(self) -> bool:
        """A good full backup that holds something (``check_bacula.py`` means to require
        non-zero bytes; its comparison of a number with the string ``'0'`` never fails)."""
        return self.good and self.full and bool(self.total_size)


class Category(StrEnum):
    """A job's schedule-freshness category (A.6), worst first."""

    ALL_FAILURES = "all_failures"  # executions, but never a good full backup
    STALE = "stale"  # the latest good backup is older than expected
    STALE_FULL = "stale_full"  # recent backups, but the latest good full one is too old
    NO_BACKUPS = "no_backups"  # not a single execution
    FRESH = "fresh"

    @property
    def status(self) -> int:
        """The Icinga severity ``check_bacula.py`` gives it."""
        return CATEGORY_STATUS[self]

    @property
    def label(self) -> str:
        """Its name in the summary line: ``All failures``, ``Stale``, ``Stale-full only``,
        ``No backups``, ``Fresh``."""
        return CATEGORY_LABELS[self]


CATEGORY_STATUS = {
    Category.ALL_FAILURES: CRITICAL,
    Category.STALE: CRITICAL,
    Category.STALE_FULL: CRITICAL,
    Category.NO_BACKUPS: WARNING,
    Category.FRESH: OK,
}
CATEGORY_LABELS = {
    Category.ALL_FAILURES: "All failures",
    Category.STALE: "Stale",
    Category.STALE_FULL: "Stale-full only",
    Category.NO_BACKUPS: "No backups",
    Category.FRESH: "Fresh",
}


def last_good(executions: Iterable[Execution]) -> tuple[datetime | None, datetime | None]:
    """The end dates of the latest good execution and of the latest good full one (None when
    there is none)."""
    executions = list(executions)
    good = [e.end_date for e in executions if e.good]
    full = [e.end_date for e in executions if e.good_full]
    return max(good, default=None), max(full, default=None)


def schedule_category(executions: Iterable[Execution], schedule: Schedule | str, now: datetime) -> Category:
    """The category of a job from its executions (any order) and schedule, by
    ``check_bacula.py``'s rules in order (A.6):

    1. no execution at all → ``NO_BACKUPS`` (WARNING);
    2. no good full execution → ``ALL_FAILURES`` (CRITICAL);
    3. the latest good execution ended at or before ``now`` minus the schedule's freshness →
       ``STALE`` (CRITICAL);
    4. the latest good full one ended at or before ``now`` minus the full freshness →
       ``STALE_FULL`` (CRITICAL);
    5. otherwise ``FRESH`` (OK).

    Ages count from the end date (Bacula's ``endtime``), and the boundary is inclusive, as
    there. Raises ValueError for an unknown schedule."""
    executions = list(executions)
    any_limit, full_limit = expected_freshness(schedule)
    if not executions:
        return Category.NO_BACKUPS
    latest, latest_full = last_good(executions)
    if latest_full is None:
        return Category.ALL_FAILURES
    if latest <= now - timedelta(seconds=any_limit):
        return Category.STALE
    if latest_full <= now - timedelta(seconds=full_limit):
        return Category.STALE_FULL
    return Category.FRESH


def schedule_result(executions: Iterable[Execution], schedule: Schedule | str, now: datetime) -> Result:
    """One job's schedule check as a result: the severity of :func:`schedule_category` and a
    message (ours: the original only summarises many jobs, see :func:`categories_summary`):

    * ``No executions at all``;
    * ``No good full backup among <n> executions``;
    * ``Stale: the last good backup ended at <date>, more than <3 hours> ago``;
    * ``Stale-full only: the last good full backup ended at <date>, more than <8 days> ago``;
    * ``Fresh: the last good backup ended at <date>, the last good full one at <date>``."""
    executions = list(executions)
    category = schedule_category(executions, schedule, now)
    latest, latest_full = last_good(executions)
    any_limit, full_limit = expected_freshness(schedule)
    if category is Category.NO_BACKUPS:
        message = "No executions at all"
    elif category is Category.ALL_FAILURES:
        message = f"No good full backup among {len(executions)} executions"
    elif category is Category.STALE:
        message = (
            f"Stale: the last good backup ended at {format_timestamp(latest)}, "
            f"more than {humanize_duration(any_limit)} ago"
        )
    elif category is Category.STALE_FULL:
        message = (
            f"Stale-full only: the last good full backup ended at {format_timestamp(latest_full)}, "
            f"more than {humanize_duration(full_limit)} ago"
        )
    else:
        message = (
            f"Fresh: the last good backup ended at {format_timestamp(latest)}, "
            f"the last good full one at {format_timestamp(latest_full)}"
        )
    return Result(category.status, message)


def categories_summary(jobs: Iterable[tuple[Category, str]]) -> Result:
    """The one-line Icinga summary of many jobs, as ``check_bacula.py --icinga`` prints it (A.6):
    ``All failures: 1 (host), Stale: 2 (host, ...), Stale-full only: …, No backups: …, Fresh: N
    jobs``. ``jobs`` are ``(category, client)`` pairs; each non-empty category names the
    alphabetically first client (short, see :func:`short_name`), followed by ``, ...`` when there
    are more; Fresh gives only its count. The status is the worst category's; no job at all is
    UNKNOWN ``No backups configured``."""
    by_category: dict[Category, list[str]] = {category: [] for category in Category}
    for category, client in jobs:
        by_category[Category(category)].append(client or "")
    if not any(by_category.values()):
        return unknown("No backups configured")
    parts = []
    status = OK
    for category in Category:  # worst first, the original's order
        clients = by_category[category]
        if not clients:
            continue
        if category is Category.FRESH:
            parts.append(f"{category.label}: {len(clients)}")
        else:
            more = ", ..." if len(clients) > 1 else ""
            parts.append(f"{category.label}: {len(clients)} ({short_name(min(clients))}{more})")
        status = max(status, category.status)
    return Result(status, ", ".join(parts) + " jobs")


SUCCESS_WINDOWS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}


def success_rates(executions: Iterable[Execution], now: datetime) -> dict[str, tuple[int, int]]:
    """``{"day": (total, successful), "week": …, "month": …}``: the executions that started in
    the last 1, 7 and 30 days (after ``now - window``, up to ``now``), and how many succeeded,
    as ``check_bacula.py``'s success-rate gauges count them (A.6): a full execution succeeds
    when it finished with a non-zero size, any other when it finished.

    Ours: an ongoing execution is not counted (it has no outcome yet; Bacula would count a
    running job as not successful), and a deleted one counts as attempted but not successful
    (its status no longer says how it ended)."""
    executions = [e for e in executions if e.status != "ongoing"]
    rates = {}
    for name, window in SUCCESS_WINDOWS.items():
        since = now - window
        counted = [e for e in executions if since < e.start_date <= now]
        successful = sum(1 for e in counted if (e.good_full if e.full else e.status == "finished"))
        rates[name] = (len(counted), successful)
    return rates
