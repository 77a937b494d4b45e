"""The demo's collector (``fleetwatch serve --demo``): filled with the simulated population ending
today, replaced on a later day, untouched on a second start the same day; its login may read it."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from fleetwatch.cli import _demo_login
from fleetwatch.usage.collector import demo, simulate
from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Report
from tests.usage.test_simulate import stored_tables

END = date(2026, 11, 30)

pytestmark = pytest.mark.django_db


def expected(end: date) -> simulate.Ledger:
    ledger = simulate.Ledger()
    for upload in demo.population(end, instances=40, days=60).uploads():
        ledger.add(upload)
    return ledger


def test_the_demo_fills_the_collector_once_a_day():
    ledger = expected(END)
    assert demo.build(END, instances=40, days=60) == len(ledger.sent)
    assert Counter(Report.objects.values_list("category", flat=True)) == ledger.reports()
    assert Instance.objects.count() == len(ledger.instances())
    assert ActivePeriod.objects.count() == len(ledger.active())
    assert sum(DailyTally.objects.values_list("count", flat=True)) == len(ledger.sent)
    before = stored_tables()

    assert demo.build(END, instances=40, days=60) == 0  # a second start the same day
    assert stored_tables() == before


def test_a_later_start_replaces_the_population():
    demo.build(END, instances=40, days=60)
    later = END + timedelta(days=1)
    ledger = expected(later)
    assert demo.build(later, instances=40, days=60) == len(ledger.sent)
    assert Counter(Report.objects.values_list("category", flat=True)) == ledger.reports()
    assert Report.objects.order_by("day").values_list("day", flat=True).first() == later - timedelta(days=59)


def test_the_demo_population_is_a_few_hundred_deployments_over_six_months():
    population = demo.population(END)
    assert (len(population.deployments), population.start) == (300, END - timedelta(days=181))


def test_the_demo_login_is_a_superuser_and_keeps_its_password(orgs):
    from django.contrib.auth import get_user_model

    from fleetwatch.inventory.models import Organization

    Organization.objects.create(name="Demo", slug="demo")
    _demo_login("first")
    user = get_user_model().objects.get(username="demo")
    assert (user.is_superuser, user.check_password("first")) == (True, True)
    stored = user.password
    _demo_login("first")  # a second start: nothing changes (sessions are kept)
    assert get_user_model().objects.get(username="demo").password == stored
