"""The backup checks' pure rules (fleetwatch.backups.evaluation): every A.4 rule with its exact
message, the A.5 selection and lines, the A.6 categories and counters, and the formatting of
sizes, percentages and durations. Time is always an explicit datetime."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from fleetwatch.backups.evaluation import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    Category,
    Execution,
    Result,
    RunSummary,
    Schedule,
    ago,
    categories_summary,
    check_freshness_size,
    expected_freshness,
    format_elapsed,
    format_percent,
    format_size,
    format_timestamp,
    humanize_duration,
    long_running,
    long_running_heading,
    long_running_line,
    long_running_result,
    schedule_category,
    schedule_from_jobdefs,
    schedule_result,
    short_name,
    success_rates,
    unknown,
)

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4
HOUR, DAY = 3600, 86400


def run(start: datetime, size: int | None = 12000, end: datetime | None = None, **fields) -> RunSummary:
    """A finished snapshot of g1 at eqiad from db1001 (an hour long unless ``end`` is given)."""
    values = {
        "source": "db1001.eqiad.wmnet:3301",
        "host": "dbprov1001.eqiad.wmnet",
        "status": "finished",
        "type": "snapshot",
        "section": "g1",
        "datacenter": "eqiad",
    }
    values.update(fields)
    return RunSummary(start, end or start + timedelta(hours=1), size, **values)


def check(latest_two, **overrides) -> Result:
    """The A.4 check of snapshot/g1/eqiad with the thresholds of wmfbackups' own unit test."""
    arguments = {
        "section": "g1",
        "type": "snapshot",
        "datacenter": "eqiad",
        "latest_two": latest_two,
        "now": NOW,
        "freshness": 100000,
        "min_size": 10000,
        "warn_percentage": 25,
        "crit_percentage": 30,
    }
    arguments.update(overrides)
    return check_freshness_size(**arguments)


LATEST = datetime(2026, 11, 29, 12, 0, 1, tzinfo=UTC)  # 86399 s before NOW: fresh for 100000 s
PREVIOUS = datetime(2026, 11, 28, 12, 0, 1, tzinfo=UTC)
TWO = [run(LATEST, 12000), run(PREVIOUS, 10000)]


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (899, "899 B"),
        (900, "0.9 KiB"),  # the KiB step is a round 900 B, not 0.9 × 1024
        (1023, "1.0 KiB"),
        (1024, "1.0 KiB"),
        (1935, "1.9 KiB"),
        (2047, "2.0 KiB"),
        (2048, "2 KiB"),
        (10 * KIB, "10 KiB"),
        (30000, "29 KiB"),
        (943718, "922 KiB"),  # just under 0.9 MiB (943718.4 B)
        (943719, "0.9 MiB"),
        (2 * MIB - 1, "2.0 MiB"),
        (2 * MIB, "2 MiB"),
        (128 * MIB, "128 MiB"),
        (966367641, "922 MiB"),  # just under 0.9 GiB (966367641.6 B)
        (966367642, "0.9 GiB"),
        (3 * GIB // 2, "1.5 GiB"),
        (2 * GIB - 1, "2.0 GiB"),
        (2 * GIB, "2 GiB"),
        (128 * GIB, "128 GiB"),
        (7 * TIB, "7168 GiB"),  # never TiB
    ],
)
def test_format_size(n_bytes, text):
    assert format_size(n_bytes) == text


def test_format_size_refuses_a_negative_size():
    with pytest.raises(ValueError, match="negative"):
        format_size(-1)


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0, "+0.0 %"),
        (1, "+1.0 %"),
        (45, "+45.0 %"),
        (20.0, "+20.0 %"),
        (-0.11, "-0.1 %"),
        (-16.666666666666664, "-16.7 %"),
        (-0.01, "-0.0 %"),  # the sign of the change survives rounding, as in the original
        (123.456, "+123.5 %"),
    ],
)
def test_format_percent(x, text):
    assert format_percent(x) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "a second"),
        (5, "5 seconds"),
        (60, "a minute"),
        (119, "a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "an hour"),
        (7200, "2 hours"),
        (86399, "23 hours"),
        (100000, "a day"),
        (2 * DAY - 1, "a day"),
        (2 * DAY, "2 days"),
        (3 * DAY, "3 days"),
        (7 * DAY - 1, "6 days"),
        (8 * DAY, "a week"),  # check_mariadb_backups' default freshness
        (9 * DAY, "a week"),  # the production freshness of dumps
        (14 * DAY, "2 weeks"),
        (36 * DAY, "a month"),
        (61 * DAY, "2 months"),
        (365 * DAY, "a year"),
        (3 * 365 * DAY, "3 years"),
        (timedelta(hours=3), "3 hours"),
    ],
)
def test_humanize_duration(seconds, text):
    assert humanize_duration(seconds) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=1, hours=22, minutes=19, seconds=59), "1 days, 22 hours, 19 minutes ago"),
        (timedelta(days=8, hours=8, minutes=33), "8 days, 8 hours, 33 minutes ago"),
        (timedelta(minutes=1), "0 days, 0 hours, 1 minutes ago"),
        (timedelta(seconds=-30), "0 days, 0 hours, 0 minutes ago"),
    ],
)
def test_ago(delta, text):
    assert ago(delta) == text


def test_format_timestamp_is_utc_to_the_second():
    paris = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 11, 30, 13, 0, 1, 999999, tzinfo=paris)) == "2026-11-30 12:00:01"
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2026, 11, 30, 12, 0))


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(hours=14, minutes=2, seconds=3, microseconds=500000), "14:02:03"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "1 day, 2:03:04"),
        (timedelta(days=2), "2 days, 0:00:00"),
        (timedelta(seconds=-5), "0:00:00"),
    ],
)
def test_format_elapsed(delta, text):
    assert format_elapsed(delta) == text


@pytest.mark.parametrize(
    ("address", "text"),
    [
        ("db1145.eqiad.wmnet:3315", "db1145"),
        ("db1145.eqiad.wmnet", "db1145"),
        ("db1145:3306", "db1145"),
        ("10.64.0.5:3306", "10.64.0.5"),
        ("[2620:0:861::5]:3306", "2620:0:861::5"),
        ("2620:0:861::5", "2620:0:861::5"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_short_name(address, text):
    assert short_name(address) == text


def test_result_names_and_codes():
    assert [OK, WARNING, CRITICAL, UNKNOWN] == [0, 1, 2, 3]
    assert [Result(code, "").name for code in (0, 1, 2, 3)] == ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
    assert unknown("Bad or unrecognized section: t1") == Result(3, "Bad or unrecognized section: t1")
    with pytest.raises(ValueError, match="Nagios"):
        Result(4, "no such status")


# --- A.4: freshness and size, one test per rule -----------------------------------------------


def test_rule_2_no_completed_backup_is_critical():
    assert check([]) == Result(CRITICAL, "We could not find any completed snapshot for g1 at eqiad")


def test_rule_3_a_stale_backup_is_critical_with_the_humanized_freshness():
    assert check(TWO, freshness=3600) == Result(
        CRITICAL,
        "snapshot for g1 at eqiad (db1001) taken more than an hour ago: Most recent backup 2026-11-29 12:00:01",
    )
    eight_days_ago = [run(NOW - timedelta(days=8, seconds=1), 12000), run(PREVIOUS, 10000)]
    assert check(eight_days_ago, freshness=8 * DAY).message == (
        "snapshot for g1 at eqiad (db1001) taken more than a week ago: Most recent backup 2026-11-22 11:59:59"
    )


def test_rule_3_is_strict_a_backup_exactly_freshness_old_is_fresh():
    assert check(TWO, freshness=86399).status == OK
    assert check(TWO, freshness=86398).status == CRITICAL


def test_rule_3_counts_from_the_start_and_comes_before_the_size():
    # Started too long ago but ended recently, and tiny: still the freshness message.
    latest = run(NOW - timedelta(days=2), 10, end=NOW - timedelta(minutes=5))
    assert check([latest], freshness=DAY).message.startswith(
        "snapshot for g1 at eqiad (db1001) taken more than a day"
    )


def test_rule_4_a_too_small_backup_is_critical():
    assert check(TWO, min_size=30000) == Result(
        CRITICAL, "snapshot for g1 at eqiad (db1001, 2026-11-29 12:00:01): 12 KiB is less than 29 KiB"
    )


def test_rule_4_an_unknown_size_counts_as_zero():
    assert check([run(LATEST, None), run(PREVIOUS, 10000)]) == Result(
        CRITICAL, "snapshot for g1 at eqiad (db1001, 2026-11-29 12:00:01): 0 B is less than 10 KiB"
    )


def test_ours_a_job_without_sizes_that_asks_for_none_is_judged_on_freshness_alone():
    # A cron script's pings report no size: with min_size 0 the size rules (4-6) do not apply.
    expected = Result(
        OK, "Last snapshot for g1 at eqiad (db1001) taken on 2026-11-29 12:00:01 (no size reported)"
    )
    assert check([run(LATEST, None), run(PREVIOUS, None)], min_size=0) == expected
    assert check([run(LATEST, None)], min_size=0) == expected
    # Still stale when stale, and a size that is reported is judged as always.
    assert check([run(LATEST, None)], min_size=0, freshness=3600).status == CRITICAL
    assert check([run(LATEST, 12000)], min_size=0).status == WARNING


def test_rule_5_a_single_backup_cannot_be_compared_and_warns():
    assert check([TWO[0]]) == Result(
        WARNING, "There is only 1 snapshot for g1 at eqiad (db1001) taken on 2026-11-29 12:00:01 (12 KiB)"
    )


def test_rule_6_a_size_change_over_the_critical_percentage_is_critical():
    assert check(TWO, warn_percentage=15, crit_percentage=10) == Result(
        CRITICAL,
        "Last snapshot for g1 at eqiad (db1001) taken on 2026-11-29 12:00:01 is 12 KiB, "
        "but the previous one was 10 KiB, a change of +20.0 %",
    )


def test_rule_6_a_size_change_over_the_warning_percentage_warns():
    assert check(TWO, warn_percentage=15) == Result(
        WARNING,
        "Last snapshot for g1 at eqiad (db1001) taken on 2026-11-29 12:00:01 is 12 KiB, "
        "but the previous one was 10 KiB, a change of +20.0 %",
    )


def test_rule_6_a_shrinking_backup_shows_a_negative_change():
    shrunk = [run(LATEST, 10000), run(PREVIOUS, 12000)]
    assert check(shrunk, warn_percentage=5, crit_percentage=15) == Result(
        CRITICAL,
        "Last snapshot for g1 at eqiad (db1001) taken on 2026-11-29 12:00:01 is 10 KiB, "
        "but the previous one was 12 KiB, a change of -16.7 %",
    )


def test_rule_6_thresholds_are_strict():
    # +20.0 % exactly: neither over 20 (warning) nor over 20 (critical).
    assert check(TWO, warn_percentage=20, crit_percentage=20).status == OK


def test_rule_7_ok_shows_size_and_signed_change():
    assert check(TWO) == Result(
        OK, "Last snapshot for g1 at eqiad (db1001) taken on 2026-11-29 12:00:01 (12 KiB, +20.0 %)"
    )
    same = [run(LATEST, 12000), run(PREVIOUS, 12000)]
    assert check(same).message.endswith("(12 KiB, +0.0 %)")


def test_previous_size_unknown_warns_instead_of_crashing():
    assert check([run(LATEST, 12000), run(PREVIOUS, None)]) == Result(
        WARNING,
        "Last snapshot for g1 at eqiad (db1001) taken on 2026-11-29 12:00:01 (12 KiB), "
        "but the previous one has no recorded size: cannot compare sizes",
    )


def test_previous_size_zero_warns_instead_of_dividing_by_zero():
    assert check([run(LATEST, 12000), run(PREVIOUS, 0)]) == Result(
        WARNING,
        "Last snapshot for g1 at eqiad (db1001) taken on 2026-11-29 12:00:01 (12 KiB), "
        "but the previous one was 0 B: cannot compare sizes",
    )
    # Both empty (reachable only with a minimum size of 0): the same answer.
    assert check([run(LATEST, 0), run(PREVIOUS, 0)], min_size=0).status == WARNING


def test_an_unknown_source_reads_unknown():
    assert check([run(LATEST, 12000, source=None)]).message == (
        "There is only 1 snapshot for g1 at eqiad (unknown) taken on 2026-11-29 12:00:01 (12 KiB)"
    )


def test_production_thresholds_on_a_large_dump():
    dumps = [
        run(NOW - timedelta(days=2), 1900 * GIB, type="dump", source="db1150.eqiad.wmnet:3314", section="s4"),
        run(NOW - timedelta(days=9), 1890 * GIB, type="dump", source="db1150.eqiad.wmnet:3314", section="s4"),
    ]
    result = check_freshness_size(
        section="s4",
        type="dump",
        datacenter="eqiad",
        latest_two=dumps,
        now=NOW,
        freshness=777600,
        min_size=50000,
        warn_percentage=5.0,
        crit_percentage=15.0,
    )
    assert result == Result(
        OK, "Last dump for s4 at eqiad (db1150) taken on 2026-11-28 12:00:00 (1900 GiB, +0.5 %)"
    )


# --- A.5: long-running runs -------------------------------------------------------------------


def test_long_running_selects_by_window_and_duration_any_status():
    finished = run(NOW - timedelta(days=2), end=NOW - timedelta(days=2) + timedelta(hours=13), type="dump")
    failed = run(
        NOW - timedelta(days=3), end=NOW - timedelta(days=3) + timedelta(hours=12, seconds=1), status="failed"
    )
    ongoing = RunSummary(NOW - timedelta(hours=12, seconds=1), None, None, status="ongoing", section="s1")
    exactly_12h = run(NOW - timedelta(days=1), end=NOW - timedelta(days=1) + timedelta(hours=12))
    short = run(NOW - timedelta(hours=5), end=NOW - timedelta(hours=4))
    too_old = run(NOW - timedelta(days=7, seconds=1), end=NOW - timedelta(days=5))
    on_the_edge = run(NOW - timedelta(days=7), end=NOW - timedelta(days=6))
    runs = [ongoing, short, finished, too_old, exactly_12h, failed, on_the_edge]
    assert long_running(runs, NOW) == [on_the_edge, failed, finished, ongoing]
    assert long_running(runs, NOW, max_hours=20.0) == [on_the_edge]
    assert long_running(runs, NOW, window=timedelta(days=1)) == [ongoing]


def test_long_running_line_finished():
    start = datetime(2026, 11, 26, 1, 0, 0, tzinfo=UTC)
    finished = run(
        start, end=start + timedelta(days=1, hours=2, minutes=3, seconds=4), type="dump", section="es4"
    )
    assert long_running_line(finished, NOW) == (
        "dump of es4 in eqiad started at 2026-11-26T01:00:00+00:00 and finished at "
        "2026-11-27T03:03:04+00:00 (1 day, 2:03:04)"
    )


def test_long_running_line_ongoing_and_without_datacenter():
    ongoing = RunSummary(
        NOW - timedelta(hours=14, minutes=2, seconds=3, microseconds=250),
        None,
        status="ongoing",
        type="snapshot",
        section="s1",
        datacenter="codfw",
    )
    assert long_running_line(ongoing, NOW) == (
        "snapshot of s1 in codfw started at 2026-11-29T21:57:56+00:00 and it is still ongoing (14:02:03)"
    )
    nowhere = RunSummary(NOW - timedelta(hours=13), None, status="ongoing", section="gitlab")
    assert long_running_line(nowhere, NOW) == (
        "dump of gitlab started at 2026-11-29T23:00:00+00:00 and it is still ongoing (13:00:00)"
    )


def test_long_running_heading():
    assert long_running_heading(2) == "2 backups were found in the last week that took over 12.0 hours:"
    assert long_running_heading(1, 6.5) == "1 backups were found in the last week that took over 6.5 hours:"


def test_long_running_result_warns_naming_the_longest():
    start = datetime(2026, 11, 28, 0, 0, 0, tzinfo=UTC)
    thirteen = run(start, end=start + timedelta(hours=13), type="dump", section="s1")
    twenty = run(start + timedelta(hours=1), end=start + timedelta(hours=21), type="dump", section="s1")
    assert long_running_result([thirteen, twenty], NOW) == Result(
        WARNING,
        "2 backups started since 2026-11-23 12:00:00 took over 12.0 hours; the longest: dump of s1 in eqiad "
        "started at 2026-11-28T01:00:00+00:00 and finished at 2026-11-28T21:00:00+00:00 (20:00:00)",
    )
    assert long_running_result([thirteen], NOW).message.startswith(
        "1 backup started since 2026-11-23 12:00:00 took over 12.0 hours; the longest: dump of s1"
    )


def test_long_running_result_tie_names_the_earliest():
    first = run(NOW - timedelta(days=2), end=NOW - timedelta(days=2) + timedelta(hours=13), section="a")
    second = run(NOW - timedelta(days=1), end=NOW - timedelta(days=1) + timedelta(hours=13), section="b")
    assert "the longest: snapshot of a in eqiad" in long_running_result([second, first], NOW).message


def test_long_running_result_ok_without_long_runs():
    assert long_running_result([run(NOW - timedelta(hours=3))], NOW) == Result(
        OK, "No backup started since 2026-11-23 12:00:00 took over 12.0 hours"
    )


# --- A.6: schedule-based freshness ---------------------------------------------------------------


def execution(ended_ago: timedelta, *, status="finished", size=1000, full=True, took=timedelta(hours=1)):
    end = NOW - ended_ago
    return Execution(end - took, end if status != "ongoing" else None, status, size, full)


def test_expected_freshness_per_schedule():
    assert expected_freshness(Schedule.HOURLY) == (3 * HOUR, 8 * DAY)
    assert expected_freshness("weekly") == (8 * DAY, 8 * DAY)
    assert expected_freshness("daily") == (2 * DAY, 2 * DAY)
    assert expected_freshness(Schedule.MONTHLY) == (2 * DAY, 36 * DAY)
    with pytest.raises(ValueError, match="yearly"):
        expected_freshness("yearly")


@pytest.mark.parametrize(
    ("jobdefs", "schedule"),
    [
        ("Hourly-Sun-production-Working", Schedule.HOURLY),
        ("Weekly-Mon-productionEqiad", Schedule.WEEKLY),
        ("Daily-production", Schedule.DAILY),
        ("Monthly-1st-Wed-production", Schedule.MONTHLY),
        ("Something-else", Schedule.MONTHLY),
    ],
)
def test_schedule_from_jobdefs(jobdefs, schedule):
    assert schedule_from_jobdefs(jobdefs) == schedule


def test_category_no_executions_warns():
    assert schedule_category([], "daily", NOW) == Category.NO_BACKUPS
    assert Category.NO_BACKUPS.status == WARNING
    assert schedule_result([], "daily", NOW) == Result(WARNING, "No executions at all")


def test_category_all_failures_without_a_good_full_backup():
    executions = [
        execution(timedelta(hours=1), status="failed"),
        execution(timedelta(hours=2), full=False),  # a good incremental is not enough
        execution(timedelta(hours=3), size=0),  # an empty full backup is not good
        execution(timedelta(hours=4), size=None),
    ]
    assert schedule_category(executions, "hourly", NOW) == Category.ALL_FAILURES
    assert schedule_result(executions, "hourly", NOW) == Result(
        CRITICAL, "No good full backup among 4 executions"
    )


def test_category_stale_when_the_last_good_backup_is_too_old():
    executions = [execution(timedelta(hours=3)), execution(timedelta(hours=1), status="failed")]
    assert schedule_category(executions, "hourly", NOW) == Category.STALE  # exactly 3 h: stale
    assert schedule_result(executions, "hourly", NOW) == Result(
        CRITICAL, "Stale: the last good backup ended at 2026-11-30 09:00:00, more than 3 hours ago"
    )
    fresher = [execution(timedelta(hours=3) - timedelta(seconds=1))]
    assert schedule_category(fresher, "hourly", NOW) == Category.FRESH


def test_category_stale_full_only():
    executions = [execution(timedelta(hours=1), full=False), execution(timedelta(days=8))]
    assert schedule_category(executions, "hourly", NOW) == Category.STALE_FULL
    assert schedule_result(executions, "hourly", NOW) == Result(
        CRITICAL,
        "Stale-full only: the last good full backup ended at 2026-11-22 12:00:00, more than a week ago",
    )


def test_category_fresh():
    executions = [execution(timedelta(days=30)), execution(timedelta(days=1), full=False)]
    assert schedule_category(executions, Schedule.MONTHLY, NOW) == Category.FRESH
    assert schedule_result(executions, Schedule.MONTHLY, NOW) == Result(
        OK,
        "Fresh: the last good backup ended at 2026-11-29 12:00:00, the last good full one at 2026-10-31 12:00:00",
    )


def test_category_ignores_the_order_of_executions():
    executions = [execution(timedelta(days=1)), execution(timedelta(days=3))]
    assert schedule_category(executions, "daily", NOW) == Category.FRESH
    assert schedule_category(list(reversed(executions)), "daily", NOW) == Category.FRESH


def test_execution_from_a_database_run_is_full():
    dump = run(NOW - timedelta(hours=2), 5000, type="dump")
    assert Execution.from_run(dump) == Execution(dump.start_date, dump.end_date, "finished", 5000, True)
    assert Execution.from_run(run(NOW, type="snapshot")).full
    assert not Execution.from_run(run(NOW, type="null")).full


def test_categories_summary_line():
    jobs = [
        (Category.FRESH, "backup1001.eqiad.wmnet-fd"),
        (Category.STALE, "ms-be2040.codfw.wmnet-fd"),
        (Category.ALL_FAILURES, "10.64.0.5"),
        (Category.STALE, "gerrit1003.wikimedia.org-fd"),
        (Category.FRESH, "db1001.eqiad.wmnet-fd"),
        (Category.NO_BACKUPS, "an-launcher1002.eqiad.wmnet-fd"),
    ]
    assert categories_summary(jobs) == Result(
        CRITICAL,
        "All failures: 1 (10.64.0.5), Stale: 2 (gerrit1003, ...), No backups: 1 (an-launcher1002), Fresh: 2 jobs",
    )
    assert categories_summary([(Category.FRESH, "a"), (Category.NO_BACKUPS, "b")]) == Result(
        WARNING, "No backups: 1 (b), Fresh: 1 jobs"
    )
    assert categories_summary([(Category.FRESH, "a")]) == Result(OK, "Fresh: 1 jobs")
    assert categories_summary([]) == Result(UNKNOWN, "No backups configured")


def test_success_rates_over_a_day_a_week_and_a_month():
    def started(ago_: timedelta, **fields):
        return execution(ago_ - timedelta(hours=1), took=timedelta(hours=1), **fields)

    executions = [
        started(timedelta(hours=2)),  # day: good full
        started(timedelta(hours=3), size=0),  # day: a full backup of nothing fails
        started(timedelta(hours=4), full=False, size=0),  # day: an incremental needs only to finish
        started(timedelta(hours=5), status="failed"),  # day: failed
        started(timedelta(hours=6), status="ongoing"),  # not counted yet
        started(timedelta(days=1)),  # exactly a day ago: week only
        started(timedelta(days=3), status="deleted"),  # week: attempted, not successful
        started(timedelta(days=7) - timedelta(seconds=1)),  # week
        started(timedelta(days=20)),  # month
        started(timedelta(days=30)),  # exactly 30 days ago: outside every window
        Execution(NOW + timedelta(hours=1), None, "finished", 10, True),  # in the future: outside
    ]
    assert success_rates(executions, NOW) == {"day": (4, 2), "week": (7, 4), "month": (8, 5)}
    assert success_rates([], NOW) == {"day": (0, 0), "week": (0, 0), "month": (0, 0)}


# --- the module stays pure, and the docs' examples are what it answers -------------------------


def test_evaluation_imports_no_framework_and_no_app():
    """The checks take plain values: no Django, DRF or Celery, and nothing of Fleetwatch's apps."""
    import ast

    import fleetwatch.backups.evaluation as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    roots = {name.split(".")[0] for name in imported}
    assert roots == {"__future__", "collections", "dataclasses", "datetime", "enum", "ipaddress"}


DOCS = Path(__file__).resolve().parents[2] / "docs" / "backups.md"


def test_docs_examples_are_the_checks_answers():
    text = DOCS.read_text(encoding="utf-8")
    start = datetime(2026, 11, 26, 1, 0, 0, tzinfo=UTC)
    es4 = run(start, end=start + timedelta(days=1, hours=2, minutes=3, seconds=4), type="dump", section="es4")
    s1 = RunSummary(
        NOW - timedelta(hours=14, minutes=2, seconds=3),
        None,
        status="ongoing",
        type="snapshot",
        section="s1",
        datacenter="codfw",
    )
    summary = categories_summary(
        [
            (Category.FRESH, "backup1001.eqiad.wmnet-fd"),
            (Category.STALE, "ms-be2040.codfw.wmnet-fd"),
            (Category.ALL_FAILURES, "10.64.0.5"),
            (Category.STALE, "gerrit1003.wikimedia.org-fd"),
            (Category.FRESH, "db1001.eqiad.wmnet-fd"),
            (Category.NO_BACKUPS, "an-launcher1002.eqiad.wmnet-fd"),
        ]
    )
    examples = [
        f"OK `{check(TWO).message}`",
        f"WARNING `{check(TWO, warn_percentage=15).message}`",
        f"CRITICAL `{check(TWO, freshness=3600).message}`",
        f"CRITICAL `{check(TWO, min_size=30000).message}`",
        f"`{long_running_line(es4, NOW)}`",
        f"`{long_running_line(s1, NOW)}`",
        f"`{ago(timedelta(days=1, hours=22, minutes=19))}`",
        f"`{format_size(7 * TIB)}`",
        f"`{format_percent(-16.66)}`",
    ]
    flat = " ".join(text.split())  # the summary line is wrapped in the docs
    examples.append(f"`{summary.message}`")
    for example in examples:
        assert example in flat, example
