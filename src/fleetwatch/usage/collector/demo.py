"""The demo's usage-metrics collector (``fleetwatch serve --demo``, ``make run``): a simulated
population of :data:`INSTANCES` deployments over the :data:`DAYS` days ending today
(``collector.simulate``, seed :data:`SEED`), so that the collector's pages have six months of
installs, upgrades, heartbeats, churn and opt-outs to show.

**Idempotent**: the collector's tables are replaced by the population ending today on every
start (as the backups demo replaces its runs), so a second ``make run`` never duplicates
anything; on the same day, when they already hold that population (same number of reports,
same last day), nothing is written at all.

**Fast**: the uploads go through ``collector.bulk`` (the tables ``ingest.store`` would write,
proven in tests/usage/test_simulate.py): its ~19,000 uploads are computed without holding
any lock (several seconds: ``fleetwatch serve --demo`` does it in a background thread while the
server starts), then written in one short transaction.

It only fills tables: the demo sends no usage metrics of its own anywhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import transaction

from fleetwatch.usage.collector import bulk, simulate
from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Report

INSTANCES = 300
DAYS = 182
SEED = 2026
ANONYMOUS_SHARE = 0.15


def population(end: date | None = None, instances: int = INSTANCES, days: int = DAYS) -> simulate.Population:
    """The demo's population ending on ``end`` (default today, UTC)."""
    return simulate.Population(instances, days, seed=SEED, anonymous_share=ANONYMOUS_SHARE, end=end)


def build(end: date | None = None, instances: int = INSTANCES, days: int = DAYS) -> int:
    """Make the collector's tables hold the demo population ending on ``end`` (default today);
    returns the number of reports written (0 when they already held it)."""
    end = end or datetime.now(UTC).date()
    # Computed before any write: the tables are locked only for the short inserts (SQLite has
    # one writer, and the demo's server is serving meanwhile).
    rows = bulk.prepare(upload.body for upload in population(end, instances, days).uploads())
    latest = Report.objects.order_by("-day").values_list("day", flat=True).first()
    if latest == end and Report.objects.count() == rows.stored:
        return 0  # this population, already (a re-send of it would store nothing)
    with transaction.atomic():
        for model in (Report, Instance, ActivePeriod, DailyTally):
            model.objects.all().delete()
        stored, _ = bulk.write(rows)
    return stored
