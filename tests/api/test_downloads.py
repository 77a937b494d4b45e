"""CSV exports are offered under a valid file name whatever the device is called."""

import pytest

from fleetwatch.api.downloads import attachment
from fleetwatch.inventory.models import Device

NAMES = {
    'ap "lobby"': """attachment; filename="ap _lobby_-charts.csv"; filename*=UTF-8''ap%20%22lobby%22-charts.csv""",
    "ap\nlobby\r\nX-Evil: 1": (
        """attachment; filename="ap_lobby__X-Evil_ 1-charts.csv"; """
        """filename*=UTF-8''ap_lobby__X-Evil%3A%201-charts.csv"""
    ),
    "Café Zürich": (
        """attachment; filename="Cafe Zurich-charts.csv"; filename*=UTF-8''Caf%C3%A9%20Z%C3%BCrich-charts.csv"""
    ),
    "日本": """attachment; filename="__-charts.csv"; filename*=UTF-8''%E6%97%A5%E6%9C%AC-charts.csv""",
    "../../etc/passwd": """attachment; filename="_.._etc_passwd-charts.csv"; filename*=UTF-8''_.._etc_passwd-charts.csv""",
    "a\\b;c": """attachment; filename="a_b_c-charts.csv"; filename*=UTF-8''a_b%3Bc-charts.csv""",
    "": """attachment; filename="device-charts.csv"; filename*=UTF-8''device-charts.csv""",
    " . ": """attachment; filename="device-charts.csv"; filename*=UTF-8''device-charts.csv""",
    "ap-lobby": """attachment; filename="ap-lobby-charts.csv"; filename*=UTF-8''ap-lobby-charts.csv""",
}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "header"), NAMES.items(), ids=[repr(n) for n in NAMES])
def test_the_csv_export_is_named_after_the_device_whatever_its_name(
    client, alice, orgs, timeseries, name, header
):
    device = Device.objects.create(organization=orgs[0], name=name, mac_address="00:11:22:33:44:55")
    client.force_login(alice)
    response = client.get(f"/api/v1/monitoring/device/{device.pk}/?time=1d&csv=1")
    assert response.status_code == 200
    assert response["Content-Disposition"] == header
    assert response.content == b"time\r\n"


def test_the_fallback_when_nothing_is_left():
    assert attachment("\x00/") == """attachment; filename="__"; filename*=UTF-8''__"""
    assert attachment("..") == """attachment; filename="download"; filename*=UTF-8''download"""
