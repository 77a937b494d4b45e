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
