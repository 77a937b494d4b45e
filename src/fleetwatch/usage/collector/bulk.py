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
TALLY = ("product", "version", "install_method", "os", "backend")
TALLY_KEY = ("day", "category", "anonymous", *TALLY)


class NotEmpty(RuntimeError):
    """The collector's tables already hold reports: load only into empty ones."""


def _check_empty() -> None:
    for model in (Report, Instance, ActivePeriod, DailyTally):
        if model.objects.exists():
            raise NotEmpty(f"{model._meta.db_table} is not empty")


class Loader:
    """The rows of many uploads, computed in memory by ``ingest``'s rules (:meth:`add`), then
    written (:meth:`write_reports`, :meth:`write_rest`). ``stored``/``duplicates`` count reports."""

    def __init__(self):
        self.seen: set[tuple[str, str, date]] = set()
        self.instances: dict[str, Instance] = {}
        self.active: dict[tuple[str, str, date], ActivePeriod] = {}
        self.tallies: dict[tuple, int] = {}
        self.reports: list[tuple] = []  # REPORT_COLUMNS, values prepared for the database
        self.stored = self.duplicates = 0
        self._events = Report._meta.get_field("events")

    def add(self, document) -> None:
        """Check ``document`` (``ingest.parse``: raises ``PayloadError``) and account for its groups."""
        for group in ingest.parse(document):
            day, instance, digest = group.day, group.instance, group.digest()
            if (group.category, digest, day) in self.seen:
                self.duplicates += 1
                continue
            self.seen.add((group.category, digest, day))
            self.stored += 1
            snapshot = group.snapshot()
            events = [{k: e[k] for k in ("action", "name", "value", "times")} for e in group.events]
            self.reports.append(
                (
                    connection.ops.adapt_datefield_value(day),
                    group.category,
                    instance,
                    digest,
                    group.site,
                    *(snapshot[k] for k in SNAPSHOT),
                    self._events.get_db_prep_save(events, connection),
                )
            )
            key = (day, group.category, not instance, *(snapshot[k] for k in TALLY))
            self.tallies[key] = self.tallies.get(key, 0) + 1
            if instance:
                _instance(self.instances, instance, day, group.category, snapshot["product"])
                if group.category in payload.ACTIVE:
                    latest = f"{day.isoformat()}|{ingest.RANK[group.category]}|{digest}"
                    for period in Period.values:
                        start = ingest.period_start(day, period)
                        _active(self.active, instance, period, start, latest, snapshot)

    def write_reports(self) -> None:
        """Insert the reports added since the last call."""
        _insert_reports(self.reports)

    def write_rest(self, batch: int = BATCH) -> None:
        """Insert the instances, active periods and tallies (once, after every report)."""
        Instance.objects.bulk_create(self.instances.values(), batch_size=batch)
        ActivePeriod.objects.bulk_create(self.active.values(), batch_size=batch)
        DailyTally.objects.bulk_create(
            [
                DailyTally(count=count, **dict(zip(TALLY_KEY, key, strict=True)))
                for key, count in self.tallies.items()
            ],
            batch_size=batch,
        )


def load(uploads: Iterable[dict], batch: int = BATCH) -> tuple[int, int]:
    """Store ``uploads`` (decoded Clean Insights documents) into the empty collector tables, as
    ``ingest.store(ingest.parse(upload))`` for each would; returns (stored, duplicates) reports.
    Reports are written ``batch`` at a time as they come (memory stays bounded by the dedupe keys
    and the small tables). Raises :class:`ingest.PayloadError` for an upload the endpoint would
    refuse (nothing is written then: one transaction), :class:`NotEmpty` if a table holds rows."""
    _check_empty()
    loader = Loader()
    with transaction.atomic():
        for document in uploads:
            loader.add(document)
            if len(loader.reports) >= batch:
                loader.write_reports()
        loader.write_reports()
        loader.write_rest(batch)
    return loader.stored, loader.duplicates


def prepare(uploads: Iterable[dict]) -> Loader:
    """Compute every row of ``uploads`` in memory, writing nothing (no lock held meanwhile)."""
    loader = Loader()
    for document in uploads:
        loader.add(document)
    return loader


def write(loader: Loader) -> tuple[int, int]:
    """Write a prepared :class:`Loader`'s rows into the empty tables in one transaction (short:
    plain inserts); returns (stored, duplicates). Raises :class:`NotEmpty`."""
    with transaction.atomic():
        _check_empty()
        loader.write_reports()
        loader.write_rest()
    return loader.stored, loader.duplicates


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
