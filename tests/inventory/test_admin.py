"""The Django admin's Device forms (issue 13: the add form showed an Id that was not saved)."""

import re

import pytest
from django.contrib.auth import get_user_model

from fleetwatch.inventory.models import Device

pytestmark = pytest.mark.django_db

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def superuser_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def test_the_add_form_shows_no_id_and_the_saved_device_shows_its_own(superuser_client, orgs):
    page = superuser_client.get("/admin/inventory/device/add/").content.decode()
    assert 'class="form-row field-id"' not in page
    assert UUID.findall(page) == [str(orgs[0].pk), str(orgs[1].pk)]  # only the organizations' choices
    key = re.search(r'name="key"[^>]*value="([0-9a-f]+)"', page).group(1)

    response = superuser_client.post(
        "/admin/inventory/device/add/",
        {"organization": orgs[0].pk, "name": "ap-new", "mac_address": "", "key": key, "is_active": "on"},
    )
    assert response.status_code == 302
    device = Device.objects.get(name="ap-new")
    assert device.key == key  # what the form showed is what was saved
    change = superuser_client.get(f"/admin/inventory/device/{device.pk}/change/").content.decode()
    assert 'class="form-row field-id"' in change
    assert f'<div class="readonly">{device.pk}</div>' in change
