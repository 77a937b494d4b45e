"""Every backups test gets its own empty time-series store: closing a run charts it (the
run_closed receiver), and no test may write to the data dir's store. The notification tests' SMTP
server and webhook receiver serve here too."""

import pytest

# The SMTP server and webhook receiver of the notification tests, for the backups' notifications.
from tests.notifications.conftest import allow_private_webhooks, receiver, smtp  # noqa: F401


@pytest.fixture(autouse=True)
def own_timeseries_store(settings, tmp_path):
    """A SQLite store under the test's tmp_path, created only if the test writes or reads (a test
    that wants another backend sets ``TIMESERIES_DATABASE`` itself, as the ``timeseries`` and
    ``store`` fixtures do)."""
    from fleetwatch.core.timeseries import reset_backend

    settings.TIMESERIES_DATABASE = {"BACKEND": "sqlite", "NAME": str(tmp_path / "backups-ts.db")}
    reset_backend()
    yield
    reset_backend()
