"""Loading many uploads at once into empty collector tables (the benchmark's 10 million events,
the demo's population): the tables :func:`ingest.store` would write, in a few bulk inserts.

Each upload is checked and split by ``ingest.parse``, and each group reduced with ``ingest``'s
own rules (its day, digest, snapshot, the "latest" order of active periods), then the rows are
computed in memory: a report per new (category, digest, day), instances by min/max, each active
period's latest snapshot, and the daily tallies. ``tests/usage/test_simulate.py`` proves the
tables equal those of ``ingest.store`` on a population. Unlike ``ingest.store`` this is no
path for live traffic: it needs the tables empty (it would otherwise have to merge), and holds
the dedupe keys, instances and active periods in memory (a few hundred MB for 10 million events).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection, transaction

from fleetwatch.usage import payload
from fleetwatch.usage.collector import ingest
from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Period, Report

BATCH = 5000  # rows per INSERT
SNAPSHOT = ("product", "version", "install_method", "os", "kernel", "platform", "backend")
# Reports are inserted with executemany (Django's bulk_create spent half the load compiling
# them), each value prepared by its field as bulk_create would.
REPORT_COLUMNS = ("day", "category", "instance", "digest", "site", *SNAPSHOT, "events")


class NotEmpty(RuntimeError):
    """The collector's tables already hold reports: load only into empty ones."""


def load(uploads: Iterable[dict], batch: int = BATCH) -> tuple[int, int]:
    """Store ``uploads`` (decoded Clean Insights documents) into the empty collector tables, as
    ``ingest.store(ingest.parse(upload))`` for each would; returns (stored, duplicates) reports.
    Raises :class:`ingest.PayloadError` for an upload the endpoint would refuse (nothing is
    written then: one transaction), :class:`NotEmpty` if a table holds rows."""
    for model in (Report, Instance, ActivePeriod, DailyTally):
        if model.objects.exists():
            raise NotEmpty(f"{model._meta.db_table} is not empty")
    seen: set[tuple[str, str, date]] = set()
    instances: dict[str, Instance] = {}
    active: dict[tuple[str, str, date], ActivePeriod] = {}
    tallies: dict[tuple, int] = {}
    reports: list[tuple] = []
    events_field = Report._meta.get_field("events")
    adapt_day = connection.ops.adapt_datefield_value

    def adapt_events(events):
        return events_field.get_db_prep_save(events, connection)

    stored = duplicates = 0
    with transaction.atomic():
        for document in uploads:
            for group in ingest.parse(document):
                day, instance, digest = group.day, group.instance, group.digest()
                if (group.category, digest, day) in seen:
                    duplicates += 1
                    continue
                seen.add((group.category, digest, day))
                stored += 1
                snapshot = group.snapshot()
                events = [{k: e[k] for k in ("action", "name", "value", "times")} for e in group.events]
                reports.append(
                    (
                        adapt_day(day),
                        group.category,
                        instance,
                        digest,
                        group.site,
                        *(snapshot[k] for k in SNAPSHOT),
                        adapt_events(events),
                    )
                )
                if len(reports) >= batch:
                    _insert_reports(reports)
                columns = ("product", "version", "install_method", "os", "backend")
                key = (day, group.category, not instance, *(snapshot[k] for k in columns))
                tallies[key] = tallies.get(key, 0) + 1
                if instance:
                    _instance(instances, instance, day, group.category, snapshot["product"])
                    if group.category in payload.ACTIVE:
                        latest = f"{day.isoformat()}|{ingest.RANK[group.category]}|{digest}"
                        for period in Period.values:
                            _active(
                                active, instance, period, ingest.period_start(day, period), latest, snapshot
                            )
        _insert_reports(reports)
        Instance.objects.bulk_create(instances.values(), batch_size=batch)
        ActivePeriod.objects.bulk_create(active.values(), batch_size=batch)
        DailyTally.objects.bulk_create(
            [
                DailyTally(
                    day=key[0],
                    category=key[1],
                    anonymous=key[2],
                    product=key[3],
                    version=key[4],
                    install_method=key[5],
                    os=key[6],
                    backend=key[7],
                    count=count,
                )
                for key, count in tallies.items()
            ],
            batch_size=batch,
        )
    return stored, duplicates


def _insert_reports(rows: list[tuple]) -> None:
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(Report._meta.db_table),
        ", ".join(quote(Report._meta.get_field(name).column) for name in REPORT_COLUMNS),
        ", ".join(["%s"] * len(REPORT_COLUMNS)),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    rows.clear()


def _instance(found: dict, instance: str, day: date, category: str, product: str) -> None:
    # ingest._instance's min/max rules, in memory.
    row = found.get(instance)
    if row is None:
        found[instance] = Instance(
            instance=instance,
            product=product,
            first_seen=day,
            installed_on=day if category == payload.INSTALL else None,
            last_seen=day if category in payload.ACTIVE else None,
            withdrawn_on=day if category == payload.CONSENT_WITHDRAWN else None,
        )
        return
    row.first_seen = min(row.first_seen, day)
    if category == payload.INSTALL and (row.installed_on is None or day < row.installed_on):
        row.installed_on = day
    if category in payload.ACTIVE and (row.last_seen is None or day > row.last_seen):
        row.last_seen = day
    if category == payload.CONSENT_WITHDRAWN and (row.withdrawn_on is None or day > row.withdrawn_on):
        row.withdrawn_on = day
    if product and not row.product:
        row.product = product


def _active(found: dict, instance: str, period: str, start: date, latest: str, snapshot: dict) -> None:
    row = found.get((instance, period, start))
    if row is not None and latest <= row.latest:
        return
    found[(instance, period, start)] = ActivePeriod(
        instance=instance,
        period=period,
        start=start,
        latest=latest,
        product=snapshot["product"],
        version=snapshot["version"],
        install_method=snapshot["install_method"],
        os=snapshot["os"],
        backend=snapshot["backend"],
    )
