"""The storage layer stays framework-free: no Django import anywhere below it."""

from pathlib import Path

import fleetwatch.timeseries

ROOT = Path(fleetwatch.timeseries.__file__).parent


def test_the_storage_layer_never_mentions_django():
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if "django" in path.read_text(encoding="utf-8").lower()
    ]
    assert offenders == []


def test_the_storage_layer_knows_nothing_of_devices():
    """Device and OpenWISP scopes (tags, the raw snapshot) are declared in fleetwatch.metrics."""
    words = ("content_type", "object_id", "device_data", "ifname", "organization_id")
    offenders = sorted(
        f"{path.relative_to(ROOT)}: {word}"
        for path in ROOT.rglob("*.py")
        for word in words
        if word in path.read_text(encoding="utf-8")
    )
    assert offenders == []
