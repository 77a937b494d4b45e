"""Loading many uploads at once into empty collector tables (the benchmark's 10 million events,
the demo's population): the tables :func:`ingest.store` would write, in a few bulk inserts.

Each upload is checked and split by ``ingest.parse``, and each group's rows are ``ingest.rows``
(the rules are ``ingest``'s alone); this module only batches them: a report per new
``ingest.REPORT_KEY``, the instance rows merged by ``ingest.merge_instance``, each active
period's row kept by ``ingest.replaces``, the daily tallies counted, then a few bulk inserts.
``tests/usage/test_simulate.py`` proves the tables equal those of ``ingest.store`` on a
population. Unlike ``ingest.store`` this is no path for live traffic: it needs the tables empty
(it would otherwise have to merge), and holds the dedupe keys, instances and active periods in
memory (a few hundred MB for 10 million events).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from fleetwatch.usage.collector import ingest
from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Report

BATCH = 5000  # rows per INSERT


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
        self.seen: set[tuple] = set()  # ingest.REPORT_KEY of every report
        self.instances: dict[str, dict] = {}
        self.active: dict[tuple, dict] = {}  # by ingest.ACTIVE_KEY
        self.tallies: dict[tuple, int] = {}  # ingest.TALLY_KEY -> count
        self.reports: list[tuple] = []  # ingest.REPORT_COLUMNS, values prepared for the database
        self.stored = self.duplicates = 0
        self._events = Report._meta.get_field("events")

    def add(self, document) -> None:
        """Check ``document`` (``ingest.parse``: raises ``PayloadError``) and account for its groups."""
        for group in ingest.parse(document):
            new = ingest.rows(group)
            key = tuple(new.report[column] for column in ingest.REPORT_KEY)
            if key in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(key)
            self.stored += 1
            report = {
                **new.report,
                "day": connection.ops.adapt_datefield_value(new.report["day"]),
                "events": self._events.get_db_prep_save(new.report["events"], connection),
            }
            self.reports.append(tuple(report[column] for column in ingest.REPORT_COLUMNS))
            self.tallies[new.tally] = self.tallies.get(new.tally, 0) + 1
            if new.instance is not None:
                stored = self.instances.setdefault(new.instance["instance"], new.instance)
                if stored is not new.instance:
                    ingest.merge_instance(stored, new.instance)
            for row in new.active:
                key = tuple(row[column] for column in ingest.ACTIVE_KEY)
                if ingest.replaces(row, self.active.get(key)):
                    self.active[key] = row

    def write_reports(self) -> None:
        """Insert the reports added since the last call."""
        _insert_reports(self.reports)

    def write_rest(self, batch: int = BATCH) -> None:
        """Insert the instances, active periods and tallies (once, after every report)."""
        Instance.objects.bulk_create([Instance(**row) for row in self.instances.values()], batch_size=batch)
        ActivePeriod.objects.bulk_create(
            [ActivePeriod(**row) for row in self.active.values()], batch_size=batch
        )
        DailyTally.objects.bulk_create(
            [
                DailyTally(count=count, **dict(zip(ingest.TALLY_KEY, key, strict=True)))
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
    # executemany, not bulk_create: Django's spent half the load compiling the reports; each
    # value was prepared by its field as bulk_create would (Loader.add).
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(Report._meta.db_table),
        ", ".join(quote(Report._meta.get_field(name).column) for name in ingest.REPORT_COLUMNS),
        ", ".join(["%s"] * len(ingest.REPORT_COLUMNS)),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    rows.clear()
