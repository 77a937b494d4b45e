"""The fleet list at scale (issue 18, point 5; web/fleet.py): server-side pages, sorts, search,
the health overview and the needs-attention list, the map endpoint, the device page's opening
range and the map tiles setting. Browser tests: test_fleet_browser.py."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fleetwatch.inventory.models import Device, Location
from fleetwatch.monitoring import ingestion
from fleetwatch.monitoring.models import DeviceHealth
from fleetwatch.web.devicepage import opening_range
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # the members' overview is cached 10 s (fleet.cached_overview)
    yield
    cache.clear()


def rows(response) -> list[str]:
    """The device names of the fleet table, in order."""
    body = response.content.decode()
    table = body.split('<table class="devices">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<a href="/devices/[0-9a-f-]+/">([^<]+)</a></td>', table)


def many(org, count: int, prefix: str = "ap") -> list[Device]:
    return Device.objects.bulk_create(
        Device(
            organization=org,
            name=f"{prefix}-{i:03d}",
            mac_address=f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}",
            key=f"k-{prefix}-{i}",
        )
        for i in range(count)
    )


def test_the_fleet_is_paginated_50_to_a_page_with_links_that_keep_the_filters(client, bob, orgs):
    many(orgs[0], 120)
    client.force_login(bob)
    first = client.get("/")
    assert first.status_code == 200
    assert rows(first) == [f"ap-{i:03d}" for i in range(50)]
    html = first.content.decode()
    assert "Page 1 of 3 · devices 1–50 of 120" in html
    assert '<a href="?page=2" rel="next">' in html
    assert '<a href="?page=3" rel="last">' in html
    assert rows(client.get("/?page=3")) == [f"ap-{i:03d}" for i in range(100, 120)]
    assert rows(client.get("/?page=99")) == [f"ap-{i:03d}" for i in range(100, 120)]  # the last
    assert rows(client.get("/?page=x")) == [f"ap-{i:03d}" for i in range(50)]  # the first
    searched = client.get("/?q=ap-1&sort=-name")
    assert rows(searched) == [f"ap-{i:03d}" for i in reversed(range(100, 120))]
    assert "Page 1 of 1 · devices 1–20 of 20" in searched.content.decode()
    two_pages = client.get("/?q=ap-0&sort=-name").content.decode()
    assert "Page 1 of 2 · devices 1–50 of 100" in two_pages
    assert '<a href="?q=ap-0&amp;sort=-name&amp;page=2" rel="next">' in two_pages


def test_the_number_of_queries_does_not_grow_with_the_fleet(client, bob, orgs):
    many(orgs[0], 10)
    client.force_login(bob)
    client.get("/")
    cache.clear()
    with CaptureQueriesContext(connection) as small:
        client.get("/")
    many(orgs[0], 200, prefix="more")
    cache.clear()
    with CaptureQueriesContext(connection) as large:
        assert len(rows(client.get("/"))) == 50
    assert len(large.captured_queries) == len(small.captured_queries)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["a-critical", "b-ok", "c-never", "d-problem", "e-off"]),
        ("-name", ["e-off", "d-problem", "c-never", "b-ok", "a-critical"]),
        ("status", ["a-critical", "d-problem", "c-never", "b-ok", "e-off"]),
        ("-status", ["e-off", "b-ok", "c-never", "d-problem", "a-critical"]),
        # never seen last: SQLite sorts NULL below every time
        ("-last_seen", ["b-ok", "d-problem", "a-critical", "e-off", "c-never"]),
        ("mac", ["e-off", "d-problem", "c-never", "b-ok", "a-critical"]),
    ],
)
def test_the_fleet_sorts_by_each_column(client, bob, orgs, sort, expected):
    statuses = {"a-critical": "critical", "b-ok": "ok", "d-problem": "problem", "e-off": "ok"}
    for i, name in enumerate(["a-critical", "b-ok", "c-never", "d-problem", "e-off"]):
        device = Device.objects.create(
            organization=orgs[0],
            name=name,
            mac_address=f"02:00:00:00:00:{9 - i:02x}",
            is_active=name != "e-off",
            last_seen=None if name == "c-never" else NOW - timedelta(minutes={0: 30, 1: 1, 3: 5, 4: 60}[i]),
        )
        if name in statuses:
            DeviceHealth.objects.create(device=device, status=statuses[name], changed=NOW)
    client.force_login(bob)
    assert rows(client.get(f"/?sort={sort}")) == expected


def test_the_organization_sort_goes_organization_by_organization(client, orgs, settings):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", password="pw")
    many(orgs[1], 30, prefix="b")  # Org B
    many(orgs[0], 30, prefix="a")  # Org A
    client.force_login(root)
    first = rows(client.get("/?sort=organization"))
    assert first == [f"a-{i:03d}" for i in range(30)] + [f"b-{i:03d}" for i in range(20)]
    assert rows(client.get("/?sort=organization&page=2")) == [f"b-{i:03d}" for i in range(20, 30)]
    backwards = rows(client.get("/?sort=-organization"))
    assert backwards == [f"b-{i:03d}" for i in reversed(range(30))] + [
        f"a-{i:03d}" for i in reversed(range(10, 30))
    ]
    assert rows(client.get("/?sort=-organization&page=2")) == [f"a-{i:03d}" for i in reversed(range(10))]


@pytest.mark.parametrize("sort", ["size", "-", "--name", "name%00"])
def test_an_unknown_sort_or_status_is_400(client, bob, device_a, sort):
    client.force_login(bob)
    assert client.get(f"/?sort={sort}").status_code == 400
    assert client.get("/?status=broken").status_code == 400


def test_the_search_covers_name_mac_address_serial_and_location(client, bob, orgs):
    office = Location.objects.create(organization=orgs[0], name="Town hall", address="1 Plaça Major")
    Device.objects.create(organization=orgs[0], name="ap-roof", mac_address="44:d1:fa:00:00:01")
    Device.objects.create(organization=orgs[0], name="sw-core", management_ip="10.8.0.17", serial="SG-99")
    Device.objects.create(organization=orgs[0], name="ap-hall", location=office)
    Device.objects.create(organization=orgs[1], name="ap-roof-b", mac_address="44:d1:fa:00:00:02")
    client.force_login(bob)
    assert rows(client.get("/?q=ROOF")) == ["ap-roof"]  # not Org B's
    assert rows(client.get("/?q=44-D1-FA")) == ["ap-roof"]  # a MAC as some labels print it
    assert rows(client.get("/?q=10.8.0")) == ["sw-core"]
    assert rows(client.get("/?q=sg-99")) == ["sw-core"]
    assert rows(client.get("/?q=town")) == ["ap-hall"]
    assert rows(client.get("/?q=plaça")) == ["ap-hall"]
    assert rows(client.get("/?q=nothing")) == []


def health_fleet(org, other):
    """Org A: 2 critical (the longer first: ap-c2), 1 problem, 3 ok, 1 unknown row, 2 without a
    row, 1 inactive (ok row, so deactivated); Org B: 1 critical."""
    spec = [
        ("ap-c1", "critical", 10),
        ("ap-c2", "critical", 50),
        ("ap-p1", "problem", 90),
        ("ap-o1", "ok", 0),
        ("ap-o2", "ok", 0),
        ("ap-o3", "ok", 0),
        ("ap-u1", "unknown", 0),
        ("ap-n1", None, 0),
        ("ap-n2", None, 0),
        ("ap-off", "critical", 300),
    ]
    for name, status, minutes in spec:
        device = Device.objects.create(organization=org, name=name, is_active=name != "ap-off")
        if status:
            DeviceHealth.objects.create(
                device=device, status=status, changed=NOW - timedelta(minutes=minutes)
            )
    b = Device.objects.create(organization=other, name="b-c1")
    DeviceHealth.objects.create(device=b, status="critical", changed=NOW - timedelta(days=1))


OVERVIEW = {"critical": 2, "problem": 1, "unknown": 3, "ok": 3, "deactivated": 1}


def test_the_overview_counts_every_status_and_lists_who_needs_attention(client, bob, orgs):
    health_fleet(*orgs)
    client.force_login(bob)
    response = client.get("/")
    assert dict((s, n) for s, n, _url in response.context["overview"]) == OVERVIEW
    assert response.context["fleet_total"] == 10
    assert [d.name for d in response.context["attention"]] == ["ap-c2", "ap-c1", "ap-p1"]
    html = response.content.decode()
    assert (
        '<a href="?status=critical" class="count critical" data-status="critical"><strong>2</strong> critical</a>'
        in html
    )
    assert rows(client.get("/?status=critical")) == ["ap-c1", "ap-c2"]
    assert rows(client.get("/?status=unknown")) == ["ap-n1", "ap-n2", "ap-u1"]
    assert rows(client.get("/?status=deactivated")) == ["ap-off"]
    assert rows(client.get("/?status=ok&q=o2")) == ["ap-o2"]
    # The status filter's page count is the overview's
    assert "devices 1–3 of 3" in client.get("/?status=ok").content.decode()


def test_a_superusers_overview_covers_every_organization_and_is_never_stale(client, orgs):
    from django.contrib.auth import get_user_model

    health_fleet(*orgs)
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    counts = dict((s, n) for s, n, _ in client.get("/").context["overview"])
    assert counts == {**OVERVIEW, "critical": 3}
    DeviceHealth.objects.filter(device__name="ap-p1").update(status="critical")
    counts = dict((s, n) for s, n, _ in client.get("/").context["overview"])
    assert counts == {**OVERVIEW, "critical": 4, "problem": 0}
    narrowed = client.get("/?org=org-b").context
    assert dict((s, n) for s, n, _ in narrowed["overview"]) == {
        "critical": 1,
        "problem": 0,
        "unknown": 0,
        "ok": 0,
        "deactivated": 0,
    }
    assert [d.name for d in narrowed["attention"]] == ["b-c1"]


def test_an_outsider_sees_none_of_organization_a(client, charlie, orgs):
    health_fleet(*orgs)
    client.force_login(charlie)
    response = client.get("/")
    assert rows(response) == ["b-c1"]
    assert dict((s, n) for s, n, _ in response.context["overview"])["critical"] == 1
    assert [d.name for d in response.context["attention"]] == ["b-c1"]
    assert rows(client.get("/?org=org-a")) == []


# ---------------------------------------------------------------------------------- the map
def located(orgs):
    hall = Location.objects.create(organization=orgs[0], name="Town hall", latitude=41.3851, longitude=2.1734)
    nowhere = Location.objects.create(organization=orgs[0], name="Unsurveyed")  # no coordinates
    far = Location.objects.create(organization=orgs[1], name="Depot", latitude=-33.86, longitude=151.21)
    a = Device.objects.create(organization=orgs[0], name="ap-hall", location=hall)
    DeviceHealth.objects.create(device=a, status="problem", changed=NOW)
    Device.objects.create(organization=orgs[0], name="ap-nowhere", location=nowhere)
    Device.objects.create(organization=orgs[0], name="ap-unplaced")
    off = Device.objects.create(organization=orgs[0], name="ap-off", location=hall, is_active=False)
    b = Device.objects.create(organization=orgs[1], name="b-depot", location=far)
    return a, off, b


def test_the_map_lists_the_located_devices_of_the_users_organizations(client, bob, charlie, orgs):
    a, off, _depot = located(orgs)
    client.force_login(bob)
    body = client.get("/api/v1/inventory/device-map/").json()
    assert body == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": str(d.pk),
                "name": d.name,
                "organization": str(orgs[0].pk),
                "health_status": status,
                "location": "Town hall",
                "latitude": 41.3851,
                "longitude": 2.1734,
            }
            for d, status in sorted([(a, "problem"), (off, "deactivated")], key=lambda pair: str(pair[0].pk))
        ],
    }
    assert [
        d["name"] for d in client.get("/api/v1/inventory/device-map/?status=problem").json()["results"]
    ] == ["ap-hall"]
    assert client.get("/api/v1/inventory/device-map/?organization_slug=org-b").json()["count"] == 0
    assert client.get("/api/v1/inventory/device-map/?status=broken").status_code == 400
    client.force_login(charlie)
    assert [d["name"] for d in client.get("/api/v1/inventory/device-map/").json()["results"]] == ["b-depot"]
    client.logout()
    assert client.get("/api/v1/inventory/device-map/").status_code == 401


def test_the_map_is_paginated_by_a_thousand(client, bob, orgs):
    spot = Location.objects.create(organization=orgs[0], name="Mast", latitude=1.0, longitude=2.0)
    Device.objects.bulk_create(
        Device(organization=orgs[0], name=f"m-{i:04d}", key=f"m-{i}", location=spot) for i in range(1003)
    )
    client.force_login(bob)
    first = client.get("/api/v1/inventory/device-map/").json()
    assert (first["count"], len(first["results"])) == (1003, 1000)
    assert first["next"] == "http://testserver/api/v1/inventory/device-map/?limit=1000&offset=1000"
    assert len(client.get(first["next"]).json()["results"]) == 3
    assert len(client.get("/api/v1/inventory/device-map/?limit=9999").json()["results"]) == 1003  # ≤ 5,000


def test_the_fleet_page_carries_the_map_endpoint_and_the_tile_setting(client, bob, orgs, settings):
    client.force_login(bob)
    settings.FLEETWATCH_MAP_TILES = ""
    html = client.get("/?org=org-a&status=ok").content.decode()
    assert (
        'data-api="/api/v1/inventory/device-map/?organization_slug=org-a&amp;status=ok&amp;limit=1000"'
        in html
    )
    assert 'data-tiles=""' in html
    assert "/static/fleetwatch/vendor/leaflet/leaflet.js" in html
    assert "/static/fleetwatch/vendor/leaflet.markercluster/leaflet.markercluster.js" in html
    settings.FLEETWATCH_MAP_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    html = client.get("/").content.decode()
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in html
    assert 'data-attribution="© OpenStreetMap contributors"' in html


def test_the_tile_setting(load):
    assert load()["FLEETWATCH_MAP_TILES"] == ""
    assert load(FLEETWATCH_MAP_TILES="none")["FLEETWATCH_MAP_TILES"] == ""
    osm = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert load(FLEETWATCH_MAP_TILES=osm)["FLEETWATCH_MAP_TILES"] == osm
    own = "http://tiles.lan:8080/{z}/{x}/{y}.png"
    assert load(FLEETWATCH_MAP_TILES=own)["FLEETWATCH_MAP_TILES"] == own
    for bad in ("tiles.lan/{z}/{x}/{y}.png", "https://tiles.lan/osm.png", "ftp://t/{z}/{x}/{y}"):
        with pytest.raises(
            Exception, match="FLEETWATCH_MAP_TILES must be an http:// or https:// URL template"
        ):
            load(FLEETWATCH_MAP_TILES=bad)


# ------------------------------------------------------------------- the device page's opening range
def report_at(device, moment: datetime) -> None:
    ingestion.ingest(
        ingestion.reporting_device(device.pk),
        json.dumps(example_report()).encode(),
        moment.strftime("%d-%m-%Y_%H:%M:%S.%f"),
    )


@pytest.mark.parametrize(
    ("ages", "expected"),
    [
        ((), "1d"),  # never reported
        ((timedelta(hours=3),), "1d"),
        ((timedelta(days=2), timedelta(hours=1)), "3d"),
        ((timedelta(days=3, minutes=5),), "7d"),
        ((timedelta(days=20),), "7d"),  # silent for the last 7 days: the default
    ],
)
def test_the_device_page_opens_on_the_shortest_range_that_covers_its_data(
    device_a, timeseries, ages, expected
):
    now = datetime.now(UTC).replace(microsecond=0)
    for age in ages:
        report_at(device_a, now - age)
    assert opening_range(device_a, now) == expected


def test_the_device_page_selects_its_opening_range(client, bob, device_a, timeseries):
    report_at(device_a, datetime.now(UTC) - timedelta(days=2))
    client.force_login(bob)
    html = client.get(f"/devices/{device_a.pk}/").content.decode()
    assert '<option value="3d" selected>3 days</option>' in html
    assert '<option value="7d">7 days</option>' in html
    assert '<option value="7d" selected>7 days</option>' in client.get("/dashboard/").content.decode()


def test_the_docs_example_link_of_the_fleet_answers(client, bob, orgs):
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text()
    example = re.search(r"Every view is a link: `(/\?[^`]+)`", docs).group(1)
    assert example == "/?q=roof&status=critical&sort=-last_seen&page=2"
    roof = Device.objects.create(organization=orgs[0], name="ap-roof")
    DeviceHealth.objects.create(device=roof, status="critical", changed=NOW)
    client.force_login(bob)
    response = client.get(example)
    assert response.status_code == 200
    assert rows(response) == ["ap-roof"]  # page 2 of 1: the last page
    for image in re.findall(r"\]\((img/fleet-[a-z]+\.png|img/device-charts\.png)\)", docs):
        assert (Path(__file__).resolve().parents[2] / "docs" / image).is_file(), image
