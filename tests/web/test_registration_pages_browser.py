"""The registrations page in headless Chromium: an administrator follows the header's link,
approves a waiting station (it appears in the fleet), rejects another, creates an enrollment
token (shown once, with the agent's configuration) and revokes it.

With FLEETWATCH_SCREENSHOTS=1 the page is saved into docs/img/registrations.png.
"""

import os
from pathlib import Path

import pytest

from fleetwatch.inventory.models import Device, Enrollment, EnrollmentToken, hash_secret
from tests.web.test_backups_browser import Watched

pytestmark = pytest.mark.django_db(transaction=True)

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture
def waiting(orgs, alice):
    token, _ = EnrollmentToken.issue(orgs[0], "Solar sites", requires_approval=True, created_by=alice)
    for serial, name in [("SG-RIDGE", "station-ridge"), ("SG-UNKNOWN", "who-is-this")]:
        Enrollment.objects.create(
            organization=orgs[0], token=token, serial=serial, name=name, facts={"model": "Raspberry Pi 3"}
        )
    return token


def test_an_admin_approves_a_station_and_finds_it_in_the_fleet(browser, live_server, waiting, alice):
    watched = Watched(browser, live_server, "alice")
    page = watched.page
    page.click("#registrations-link")
    page.wait_for_url(f"{live_server.url}/registrations/")
    assert page.locator("#pending tbody tr").count() == 2
    if os.environ.get("FLEETWATCH_SCREENSHOTS") == "1":
        page.screenshot(path=str(IMG / "registrations.png"), full_page=True)

    ridge = Enrollment.objects.get(serial="SG-RIDGE")
    page.click(f"#pending tr[data-enrollment='{ridge.pk}'] button.approve")
    page.wait_for_url(f"{live_server.url}/registrations/")
    assert page.locator("#pending tbody tr").count() == 1
    assert page.inner_text(f"#decided tr[data-enrollment='{ridge.pk}'] .enrollment-status") == "approved"
    device = Device.objects.get(serial="SG-RIDGE")

    unknown = Enrollment.objects.get(serial="SG-UNKNOWN")
    page.click(f"#pending tr[data-enrollment='{unknown.pk}'] button.reject")
    page.wait_for_url(f"{live_server.url}/registrations/")
    assert page.inner_text("#no-pending") == "No device is waiting for approval."
    assert page.inner_text(f"#decided tr[data-enrollment='{unknown.pk}'] .enrollment-status") == "rejected"

    page.click("header a:text('Fleet')")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("table.devices td[data-label=Device] a").all_inner_texts() == ["station-ridge"]
    page.click("table.devices a:text('station-ridge')")
    page.wait_for_url(f"{live_server.url}/devices/{device.pk}/")
    assert (watched.errors, watched.foreign) == ([], [])


def test_an_admin_creates_a_token_sees_it_once_and_revokes_it(browser, live_server, orgs, alice):
    watched = Watched(browser, live_server, "alice")
    page = watched.page
    page.goto(f"{live_server.url}/registrations/")
    assert page.inner_text("#no-tokens") == "No enrollment token yet."
    page.fill("#new-token input[name=name]", "Lab hosts")
    page.uncheck("#new-token input[name=requires_approval]")
    page.select_option("#new-token select[name=expires_in]", "7")
    page.dblclick("#new-token button[type=submit]")
    page.wait_for_selector("#enrollment-token")
    row = EnrollmentToken.objects.get()  # one token for the double click
    text = page.inner_text("#enrollment-token")
    assert hash_secret(text) == row.token_hash
    assert page.inner_text("#agent-configuration").splitlines()[:2] == [
        f'server = "{live_server.url}"',
        f'token = "{text}"',
    ]
    page.reload()
    assert page.locator("#enrollment-token").count() == 0
    assert page.locator("#token-hidden").count() == 1

    page.goto(f"{live_server.url}/registrations/")
    page.click(f"#tokens tr[data-token='{row.pk}'] button.revoke")
    page.wait_for_url(f"{live_server.url}/registrations/")
    assert page.inner_text(f"#tokens tr[data-token='{row.pk}'] .token-state").startswith("revoked ")
    row.refresh_from_db()
    assert row.revoked is not None
    assert (watched.errors, watched.foreign) == ([], [])
