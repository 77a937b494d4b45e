"""`fleetwatch timeseries copy` and `retention` as an operator runs them."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fleetwatch.timeseries import ReadQuery, load_backend
from tests.timeseries.helpers import point


def test_copy_prints_a_verified_count_per_measurement(tmp_path):
    source_url, target_url = f"sqlite:///{tmp_path}/from.db", f"sqlite:///{tmp_path}/to.db"
    source = load_backend(source_url)
    now = datetime.now(UTC).replace(microsecond=0)
    source.write(
        [
            point("cpu", now - timedelta(minutes=5 * i), {"object_id": "a"}, cpu_usage=float(i))
            for i in range(100)
        ]
    )
    source.write([point("device_data", now, {"pk": "a"}, data="{}")], retention="short")
    out = StringIO()
    state = tmp_path / "state.json"
    call_command(
        "timeseries",
        "copy",
        "--from",
        source_url,
        "--to",
        target_url,
        "--state",
        str(state),
        "--no-progress",
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["default", "cpu", "source", "100", "destination", "100", "ok"]
    assert lines[1].split() == ["short", "device_data", "source", "1", "destination", "1", "ok"]
    assert lines[-1] == "copied 101 points; every measurement verified"
    assert not state.exists()  # a finished copy leaves nothing to resume
    assert len(load_backend(target_url).read(ReadQuery("cpu"))) == 100


def test_copy_refuses_bad_input_with_a_clear_message(tmp_path):
    with pytest.raises(CommandError, match="--since takes a duration"):
        call_command("timeseries", "copy", "--from", "sqlite://", "--to", "sqlite://", "--since", "yesterday")
    with pytest.raises(CommandError, match="unreachable"):
        call_command(
            "timeseries",
            "copy",
            "--from",
            "influxdb://127.0.0.1:9/db",
            "--to",
            f"sqlite:///{tmp_path}/x.db",
            "--state",
            str(tmp_path / "s.json"),
            "--no-progress",
        )
