"""The worker's ``seal-rollups`` task: InfluxDB's rollups of live reports follow the clock."""

from datetime import UTC, datetime, timedelta

from django.conf import settings as django_settings

from fleetwatch.monitoring.tasks import seal_rollups
from fleetwatch.timeseries import rollups
from fleetwatch.timeseries.times import to_micros


def test_the_schedule_runs_the_seal_every_ten_minutes():
    entry = django_settings.CELERY_BEAT_SCHEDULE["seal-rollups"]
    assert entry == {"task": "fleetwatch.monitoring.tasks.seal_rollups", "schedule": 600}
    assert seal_rollups.name == entry["task"]


def test_the_task_seals_up_to_two_hours_behind_the_clock(store):
    horizons = seal_rollups()
    if not store.features.seals_rollups:
        assert horizons == {}
        return
    limit = to_micros(datetime.now(UTC) - timedelta(hours=2))
    expected = datetime.fromtimestamp((limit - limit % rollups.HOUR) / 1e6, UTC)
    # The task may run across an hour's boundary: then one hour later.
    assert horizons["default"] in (expected.isoformat(), (expected + timedelta(hours=1)).isoformat())
    assert horizons.keys() == {"short", "default"}
