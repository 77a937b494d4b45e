"""The usage page in headless Chromium: with the small population, every chart with data draws
(one uPlot per answer), with no console error and no request leaving the machine."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from tests.usage.population import post_population
from tests.web.test_backups_browser import Watched

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_chart_of_the_usage_page_draws(browser, live_server, settings):
    settings.FLEETWATCH_USAGE_COLLECTOR = True
    cache.clear()
    post_population()
    get_user_model().objects.create_superuser("root", password="pw")
    watched = Watched(browser, live_server, "root")
    page = watched.page
    page.goto(f"{live_server.url}/usage/?since=2025-12-29&until=2026-02-22")
    page.wait_for_selector("body[data-usage-loaded=true]")
    # active, installs, adoption and survival; the shares are of the latest complete week before
    # the real today, when the population sent nothing: "No data.", no plot.
    assert page.evaluate("window.fleetwatchUsagePlots.length") == 4
    assert page.locator('[data-chart="shares-os"]').inner_text() == "No data."
    points = page.eval_on_selector_all(".usage-answer", "boxes => boxes.map(b => [b.id, b.dataset.points])")
    assert points == [
        ["active", "8"],
        ["installs", "8"],
        ["adoption", "8"],
        ["shares-install_method", "0"],
        ["shares-os", "0"],
        ["shares-backend", "0"],
        ["survival", "3"],
    ]
    # The adoption's first week is an estimate (anonymous Heartbeats): its label is starred.
    assert page.locator("#chart-status").inner_text() == "Charts of the answers below; * marks an estimate."
    assert watched.errors == []
    assert watched.foreign == []
