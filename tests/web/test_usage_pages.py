"""The usage collector's page, ``/usage/``: the small population's numbers in its tables, the
estimates marked, the CSV links; superusers only (others 403, anonymous to the login), 404 when
this server is no collector, and the navigation's link shown to superusers of a collector only."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import get_user_model
from freezegun import freeze_time

from tests.usage.population import NOW, post_population

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="pw")


def rows(response, section: str) -> list[list[str]]:
    """The cells of the table rows in the section ``id="<section>"``, tags removed."""
    body = response.content.decode()
    start = body.index(f'id="{section}"')
    part = body[start : body.index("</section>", start)]
    tbody = part[part.index("<tbody>") : part.index("</tbody>")]
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", tbody, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        found.append([re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", c))).strip() for c in cells])
    return found


def test_a_superuser_reads_the_answers_in_the_tables(client, collector, root):
    post_population()
    client.force_login(root)
    with freeze_time(NOW):
        page = client.get("/usage/?period=week&since=2025-12-29&until=2026-02-08")
    assert page.status_code == 200
    # The numbers of tests/usage/test_answers.py, computed by hand there.
    assert rows(page, "active") == [
        ["2025-12-29", "0", "4", "7", "0.57"],
        ["2026-01-05", "3", "2", "7", "0.29"],
        ["2026-01-12", "4", "0", "7", "0.0"],
        ["2026-01-19", "4", "0", "7", "0.0"],
        ["2026-01-26", "3", "0", "7", "0.0"],
        ["2026-02-02", "4", "0", "7", "0.0"],
    ]
    assert rows(page, "installs")[1] == ["2026-01-05", "4", "0"]
    assert rows(page, "installs")[5] == ["2026-02-02", "1", "2"]
    # Versions 0.9.0, 1.0.0, 1.1.0, 24.11.0, 25.0.0; the first week is an estimate.
    adoption = rows(page, "adoption")
    assert adoption[0] == ["2025-12-29", "Heartbeats estimate", "4", "–", "–", "–", "75 %", "25 %"]
    assert adoption[4] == ["2026-01-26", "Instances", "3", "33.33 %", "66.67 %", "–", "–", "–"]
    assert 'class="estimate"' in page.content.decode()
    # Shares: the latest complete week before 2026-04-15 (04-06..04-12): D alone.
    assert rows(page, "shares-install_method") == [["ansible", "1", "100 %"]]
    assert rows(page, "survival") == [
        ["2026-01", "5", "1", "60 % (3/5)", "66.67 % (2/3)", "– (0/0)", "– (0/0)"],
        ["2026-02", "3", "1", "50 % (1/2)", "– (0/0)", "– (0/0)", "– (0/0)"],
        ["2026-03", "1", "0", "– (0/0)", "– (0/0)", "– (0/0)", "– (0/0)"],
    ]
    body = page.content.decode()
    assert 'href="/api/v1/usage/survival/?format=csv"' in body
    assert (
        'href="/api/v1/usage/active/?period=week&amp;since=2025-12-29&amp;until=2026-02-08&amp;format=csv"'
        in body
    )
    assert 'id="usage-data"' in body
    assert "fleetwatch/usage.js" in body
    assert "cdn" not in body.lower()
    with freeze_time(NOW):
        chosen = client.get("/usage/?day=2026-02-05")
    assert rows(chosen, "shares-install_method") == [
        ["pip", "2", "50 %"],
        ["ansible", "1", "25 %"],
        ["docker", "1", "25 %"],
    ]
    assert 'href="/api/v1/usage/shares/?dimension=os&amp;period=week&amp;day=2026-02-05&amp;format=csv"' in (
        chosen.content.decode()
    )
    assert 'id="usage-link"' in body


def test_others_are_refused(client, collector, alice):
    anonymous = client.get("/usage/")
    assert (anonymous.status_code, anonymous["Location"]) == (302, "/login/?next=/usage/")
    client.force_login(alice)
    refused = client.get("/usage/")
    assert refused.status_code == 403
    assert "Not allowed" in refused.content.decode()
    # No link for them either.
    assert 'id="usage-link"' not in client.get("/").content.decode()


def test_no_page_and_no_link_when_this_server_is_no_collector(client, settings, root):
    settings.FLEETWATCH_USAGE_COLLECTOR = False
    client.force_login(root)
    assert client.get("/usage/").status_code == 404
    assert 'id="usage-link"' not in client.get("/").content.decode()


def test_a_bad_parameter_is_a_400_page(client, collector, root):
    client.force_login(root)
    assert client.get("/usage/?period=day").status_code == 400
    assert client.get("/usage/?since=2026-02-01&until=2026-01-01").status_code == 400
