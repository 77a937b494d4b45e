"""Web pages given malformed ids and filters: 400 or 404, never a 500; one time zone per user;
error pages, logout, preferences."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from fleetwatch.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/devices/not-a-uuid/", "/devices/12/", f"/devices/{uuid.uuid4()}/", "/devices/%00/"],
)
def test_a_device_page_of_a_malformed_or_unknown_id_is_404(client, bob, path):
    client.force_login(bob)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("query", ["org=a%20b", "org=%00", "q=ap%00", "q=%0D"])
def test_a_malformed_fleet_filter_is_400(client, bob, device_a, query):
    client.force_login(bob)
    assert client.get(f"/?{query}").status_code == 400


def test_well_formed_fleet_filters_still_filter(client, bob, device_a):
    client.force_login(bob)
    assert device_a.name.encode() in client.get("/?org=org-a&q=lobby").content
    assert device_a.name.encode() not in client.get("/?org=org-b").content


@pytest.mark.parametrize("bad_id", ["abc", "\x00", "1.5", "-1", "9" * 20, "9" * 5000])
def test_marking_a_notification_read_with_a_malformed_id_is_400(client, alice, device_a, bad_id):
    notification = Notification.objects.create(
        user=alice, organization=device_a.organization, kind="problem", title="t", time=datetime.now(UTC)
    )
    client.force_login(alice)
    assert client.post("/notifications/", {"action": "read", "id": bad_id}).status_code == 400
    assert client.post("/notifications/", {"action": "read", "id": notification.pk}).status_code == 302
    notification.refresh_from_db()
    assert notification.read_at is not None


# ----------------------------------------------------------------- one time zone per user
MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # 17:45 in Kathmandu (UTC+05:45)


@pytest.fixture
def history(device_a, alice, bob):
    """A status change, an open problem and a notification (for alice and bob), all at MOMENT."""
    from fleetwatch.monitoring.models import Metric, StatusChange
    from fleetwatch.notifications.models import OpenProblem

    StatusChange.objects.create(device=device_a, previous="ok", status="problem", time=MOMENT, reason="CPU")
    metric = Metric.objects.create(
        device=device_a, configuration="cpu", name="CPU usage", key="cpu", field_name="cpu_usage"
    )
    OpenProblem.objects.create(metric=metric, since=MOMENT)
    for user in (alice, bob):
        Notification.objects.create(
            user=user, organization=device_a.organization, kind="problem", title="ap-lobby: CPU", time=MOMENT
        )
    return device_a


@pytest.mark.parametrize("username", ["alice", "bob"])
def test_pages_show_times_in_the_users_zone_and_a_tz_link_overrides_it(client, history, username):
    from django.contrib.auth import get_user_model

    from fleetwatch.notifications.models import Preference

    user = get_user_model().objects.get(username=username)
    client.force_login(user)
    device_page = f"/devices/{history.pk}/"
    # No preference: the server's zone (UTC), for everyone alike.
    page = client.get(device_page).content.decode()
    assert "<td>2026-03-01 12:00 UTC</td>" in page
    assert "problem since 2026-03-01 12:00 UTC" in page
    assert 'data-tz="UTC"' in page

    Preference.objects.update_or_create(user=user, defaults={"timezone": "Asia/Kathmandu"})
    page = client.get(device_page).content.decode()
    assert "<td>2026-03-01 17:45 +0545</td>" in page
    assert "problem since 2026-03-01 17:45 +0545" in page
    assert 'data-tz="Asia/Kathmandu"' in page
    notifications = client.get("/notifications/").content.decode()
    assert '<time datetime="2026-03-01T12:00:00+00:00">2026-03-01 17:45 +0545</time>' in notifications
    assert "Times in Asia/Kathmandu" in notifications

    # A shared link names its zone; an unknown name falls back to the preference.
    assert "<td>2026-03-01 13:00 CET</td>" in client.get(device_page + "?tz=Europe/Rome").content.decode()
    assert 'data-tz="Asia/Kathmandu"' in client.get(device_page + "?tz=Mars/Olympus").content.decode()
    # The API is not affected by the preference: UTC as every REST time (DRF writes it "…Z"), a page.
    api = client.get(f"/api/v1/monitoring/device/{history.pk}/status-history/").json()["results"]
    assert api == [{"time": "2026-03-01T12:00:00Z", "previous": "ok", "status": "problem", "reason": "CPU"}]


def test_the_preferences_page_saves_a_zone_refuses_an_unknown_one_and_blank_resets(client, bob):
    from fleetwatch.notifications.models import Preference

    client.force_login(bob)
    page = client.get("/preferences/")
    assert page.status_code == 200
    assert b'<option value="Europe/Rome">' in page.content
    response = client.post("/preferences/", {"timezone": "Europe/Rome"})
    assert (response.status_code, response["Location"]) == (302, "/preferences/")
    assert Preference.objects.get(user=bob).timezone == "Europe/Rome"
    assert b"Times are now shown in Europe/Rome." in client.get("/preferences/").content
    refused = client.post("/preferences/", {"timezone": "Europe/Atlantis"})
    assert refused.status_code == 400
    assert b"Unknown time zone &#x27;Europe/Atlantis&#x27;" in refused.content
    assert Preference.objects.get(user=bob).timezone == "Europe/Rome"
    assert client.post("/preferences/", {"timezone": ""}).status_code == 302
    assert Preference.objects.get(user=bob).timezone == ""


def test_the_preferences_page_needs_a_login(client):
    response = client.get("/preferences/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/preferences/")


# ----------------------------------------------------------------- error pages, logout
def test_an_unknown_page_is_a_styled_404_and_the_api_keeps_json(client, bob):
    client.force_login(bob)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page
    assert "<code>/no/such/page/</code>" in page
    assert "/static/fleetwatch/fleetwatch.css" in page  # the site's look (base.html)
    assert 'id="notifications-link"' in page  # and its navigation
    api = client.get("/api/v1/no/such/")
    assert (api.status_code, api.json()) == (404, {"detail": "Not found."})


def test_403_and_500_are_styled_pages_and_json_under_the_api(rf):
    from django.core.exceptions import PermissionDenied

    from fleetwatch.core.errors import permission_denied, server_error

    denied = permission_denied(rf.get("/devices/x/"), PermissionDenied())
    assert denied.status_code == 403
    assert b"<h1>Not allowed</h1>" in denied.content
    assert b"fleetwatch.css" in denied.content
    api = permission_denied(rf.get("/api/v1/devices/"), PermissionDenied())
    assert (api.status_code, json.loads(api.content)) == (
        403,
        {"detail": "You do not have permission to perform this action."},
    )
    failed = server_error(rf.get("/devices/x/"))
    assert failed.status_code == 500
    assert b"<h1>Server error</h1>" in failed.content
    assert b"fleetwatch.css" in failed.content
    api = server_error(rf.get("/api/v1/devices/"))
    assert (api.status_code, json.loads(api.content)) == (500, {"detail": "Server error."})


def test_logout_from_a_link_asks_then_logs_out(client, bob):
    client.force_login(bob)
    page = client.get("/logout/")
    assert page.status_code == 200
    assert b'<form method="post" action="/logout/"' in page.content
    assert b"You are logged in as <strong>bob</strong>." in page.content
    assert client.get("/").status_code == 200  # a GET did not log out
    response = client.post("/logout/")
    assert (response.status_code, response["Location"]) == (302, "/login/")
    assert client.get("/")["Location"] == "/login/?next=/"
    assert client.get("/logout/")["Location"] == "/login/"  # logged out already: the login page


# ----------------------------------------------------------------- in the browser
from tests.web.test_charts_ui import SCREENSHOTS, log_in  # noqa: E402


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("username", ["alice", "bob"])
def test_the_fleet_table_fits_a_390_px_phone(browser, live_server, device_a, alice, bob, username):
    from fleetwatch.inventory.models import Device

    Device.objects.create(
        organization=device_a.organization,
        name="ap-warehouse-north-loading-dock-ceiling-2",
        mac_address="44:d1:fa:4b:38:99",
    )
    page = log_in(browser, live_server, username, viewport={"width": 390, "height": 844}, is_mobile=True)
    assert page.eval_on_selector_all("table.devices tbody tr", "rows => rows.length") == 2
    # Nothing is wider than the screen: no horizontal scrolling, every cell inside it.
    assert page.evaluate("document.documentElement.scrollWidth") == 390
    overflowing = page.eval_on_selector_all(
        "header, form.filters, table.devices td, table.devices a",
        "els => els.filter(e => e.getBoundingClientRect().right > 390).map(e => e.outerHTML.slice(0, 80))",
    )
    assert overflowing == []
    # Each cell is labelled (the column headings are hidden at this width).
    labels = page.eval_on_selector_all(
        "table.devices tbody tr:first-child td",
        "tds => tds.map(td => getComputedStyle(td, '::before').content)",
    )
    assert labels == [
        '"Device"',
        '"Organization"',
        '"Status"',
        '"Connection"',
        '"Last seen"',
        '"MAC address"',
    ]
    page.click("text=ap-warehouse-north-loading-dock-ceiling-2")
    assert page.text_content("h1").startswith("ap-warehouse-north-loading-dock-ceiling-2")
    if SCREENSHOTS and username == "bob":
        page.go_back()
        page.screenshot(path=f"{SCREENSHOTS}/fleet-390px.png")


@pytest.mark.django_db(transaction=True)
def test_mark_read_is_readable_and_marks_one_notification_read(browser, live_server, device_a, bob):
    for title in ("ap-lobby: CPU", "ap-lobby: Ping"):
        Notification.objects.create(
            user=bob, organization=device_a.organization, kind="problem", title=title, time=datetime.now(UTC)
        )
    page = log_in(browser, live_server, "bob")
    page.click("#notifications-link")
    button = "li[data-notification] button.mark-read >> nth=0"
    colors = page.eval_on_selector(
        button, "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor, b.textContent]"
    )
    # Blue on white (it was white on white): the page's accent color, 4.6:1 contrast.
    assert colors == ["rgb(31, 111, 235)", "rgb(255, 255, 255)", "Mark read"]
    assert page.is_visible(button)
    page.click(button)
    assert page.eval_on_selector_all("li.unread", "els => els.length") == 1
    assert page.text_content("#unread-count").strip() == "1"
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/notifications.png")


@pytest.mark.django_db(transaction=True)
def test_logging_out_from_the_header_and_from_a_link(browser, live_server, bob):
    page = log_in(browser, live_server, "bob")
    page.click("header button:text-is('Log out bob')")
    page.wait_for_url(f"{live_server.url}/login/")
    page = log_in(browser, live_server, "bob")
    response = page.goto(f"{live_server.url}/logout/")  # a bookmark, a typed address, a link
    assert response.status == 200
    page.click("#logout-confirm button[type=submit]")
    page.wait_for_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/login/?next=/"


@pytest.mark.django_db(transaction=True)
def test_the_404_page_looks_like_the_site(browser, live_server, bob):
    page = log_in(browser, live_server, "bob")
    response = page.goto(f"{live_server.url}/devices/{uuid.uuid4()}/")
    assert response.status == 404
    assert page.text_content("#error-page h1") == "Page not found"
    assert page.eval_on_selector("header", "h => getComputedStyle(h).backgroundColor") == "rgb(13, 27, 42)"
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/error-404.png")


def test_the_device_header_leaves_out_a_mac_address_it_does_not_have(client, bob, device_a):
    # A host enrolled without a MAC (or the demo's own host) must not show an empty item.
    client.force_login(bob)
    device_a.mac_address = ""
    device_a.save()
    html = client.get(f"/devices/{device_a.pk}/").content.decode()
    assert "<code></code>" not in html
    assert f"{device_a.organization.name} ·\n  last seen never" in html
