""".github/workflows/, checked by actionlint (built from the Go module proxy by
scripts/deploy/tools.sh), and its jobs against the local gate: each job calls scripts/ci/run.sh
with its own name, .ci/run calls it with all of them, and the script turns jobs into the pytest
selections and OpenWISP runs docs/ci.md describes."""

import os
import subprocess
import sys

import pytest
import yaml

from tests.deploy.conftest import ROOT
from tests.timeseries.conftest import ALL_BACKENDS

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
JOBS = ["lint", "sqlite", "postgresql", "influxdb", "influxdb2", "elasticsearch", "browser"]


def test_there_is_a_workflow():
    assert [path.name for path in WORKFLOWS] == ["ci.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actionlint_passes(actionlint, workflow):
    result = subprocess.run(
        [actionlint, "-no-color", str(workflow)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_actionlint_finds_a_broken_workflow(actionlint, tmp_path):
    """The linter really reads the files: an unknown runner label and a bad expression fail."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.nothing }}\n"
    )
    result = subprocess.run(
        [actionlint, "-no-color", str(broken)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert 'property "nothing" is not defined' in result.stdout


def ci_commands(workflow: dict) -> dict[str, list[str]]:
    """Per job (a matrix job once per value), the scripts/ci/run.sh commands of its steps."""
    commands = {}
    for job_id, job in workflow["jobs"].items():
        values = job.get("strategy", {}).get("matrix", {}).get("backend", [None])
        for value in values:
            name = value or job_id
            runs = [step["run"] for step in job["steps"] if "run" in step]
            commands[name] = [
                run.replace('"${{ matrix.backend }}"', value or "")
                for run in runs
                if "scripts/ci/run.sh" in run
            ]
    return commands


def test_every_job_calls_the_entry_point_with_its_own_name():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert ci_commands(workflow) == {job: [f"bash scripts/ci/run.sh {job}"] for job in JOBS}
    assert workflow["jobs"]["backend"]["strategy"]["matrix"]["backend"] == list(ALL_BACKENDS)
    # PyYAML reads the bare key `on` as True.
    assert workflow[True] == {"push": {"branches": ["main"]}, "pull_request": None}


def test_the_local_gate_runs_the_readmes_test_command_and_the_jobs_openwisp_runs():
    """`make test` is what every job together selects (one pytest run, every test once: the test
    below); then the lint job through the entry point, and OpenWISP's suite on two backends."""
    lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith("#") and line not in ("set -euo pipefail", 'cd "$(dirname "$0")/.."')
    ]
    assert lines == [
        "make test",
        "bash scripts/ci/run.sh lint",
        'make test-openwisp OPENWISP_TSDB="fleetwatch-sqlite fleetwatch-elasticsearch"',
    ]


def dry_run(*jobs: str) -> list[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("FLEETWATCH_TEST_BACKENDS", "FLEETWATCH_TEST_BROKERS", "FLEETWATCH_TEST_BACKUP_TOOLS")
    }
    result = subprocess.run(
        ["bash", "scripts/ci/run.sh", *jobs],
        cwd=ROOT,
        env={**env, "FLEETWATCH_CI_DRY_RUN": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_server_backend_job_runs_its_tagged_tests_and_openwisp_on_it():
    narrow = 'FLEETWATCH_TEST_BACKENDS="influxdb2" FLEETWATCH_TEST_BROKERS="filesystem" FLEETWATCH_TEST_BACKUP_TOOLS=""'
    assert dry_run("influxdb2") == [
        "make venv",
        f'{narrow} bash scripts/test.sh -q -m "(backend)"',
        f"{narrow} bash scripts/openwisp/setup.sh",
        f"{narrow} bash scripts/openwisp/run.sh fleetwatch-influxdb2",
    ]


def test_the_sqlite_job_runs_everything_but_the_browser_tests():
    assert dry_run("sqlite") == [
        "make venv",
        'FLEETWATCH_TEST_BACKENDS="sqlite" bash scripts/test.sh -q -m "(not browser)"',
        'FLEETWATCH_TEST_BACKENDS="sqlite" bash scripts/openwisp/setup.sh',
        'FLEETWATCH_TEST_BACKENDS="sqlite" bash scripts/openwisp/run.sh fleetwatch-sqlite',
    ]


def test_the_browser_and_lint_jobs():
    assert dry_run("browser") == [
        "make venv",
        'FLEETWATCH_TEST_BACKENDS="sqlite" FLEETWATCH_TEST_BACKUP_TOOLS="" bash scripts/test.sh -q -m "(browser)"',
    ]
    assert dry_run("lint") == [
        "make venv",
        ".venv/bin/ruff check src tests bench scripts agent",
        ".venv/bin/ruff format --check src tests bench scripts agent",
    ]


def test_all_jobs_together_run_each_test_once_over_every_backend():
    """.ci/run's call: one pytest run selecting everything, one OpenWISP run over five backends."""
    backends = ",".join(ALL_BACKENDS)
    assert dry_run(*JOBS) == [
        "make venv",
        ".venv/bin/ruff check src tests bench scripts agent",
        ".venv/bin/ruff format --check src tests bench scripts agent",
        f'FLEETWATCH_TEST_BACKENDS="{backends}" bash scripts/test.sh -q -m "(not browser) or (backend) or (browser)"',
        f'FLEETWATCH_TEST_BACKENDS="{backends}" bash scripts/openwisp/setup.sh',
        f'FLEETWATCH_TEST_BACKENDS="{backends}" bash scripts/openwisp/run.sh '
        + " ".join(f"fleetwatch-{name}" for name in ALL_BACKENDS),
    ]


def test_an_unknown_job_is_a_usage_error():
    result = subprocess.run(
        ["bash", "scripts/ci/run.sh", "mongodb"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (2, "scripts/ci/run.sh: unknown job 'mongodb'\n")


def collected(marker: str, backends: str, *paths: str) -> list[str]:
    env = {**os.environ, "FLEETWATCH_TEST_BACKENDS": backends}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--collect-only",
            "-q",
            "-m",
            marker,
            *paths,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_the_markers_partition_the_suite_the_way_the_jobs_need():
    """tests/conftest.py tags a backend's tests (its id or its server's own module) and the tests
    that drive the browser; untagged ones belong to the SQLite job alone."""
    paths = (
        "tests/monitoring/test_every_backend.py",
        "tests/monitoring/test_store_unavailable.py",
        "tests/timeseries/influxdb/test_influxdb.py",
        "tests/web/test_onboarding.py",
    )
    assert collected("backend", "postgresql", *paths) == [
        "tests/monitoring/test_every_backend.py::test_ingest_and_charts_answer_the_same_on_every_backend[postgresql]",
        "tests/timeseries/influxdb/test_influxdb.py::test_tag_and_string_values_round_trip_and_cannot_inject",
        "tests/timeseries/influxdb/test_influxdb.py::test_a_tag_value_line_protocol_cannot_carry_is_refused_before_writing",
        "tests/timeseries/influxdb/test_influxdb.py::test_field_types_are_kept_and_converted_only_without_loss",
        "tests/timeseries/influxdb/test_influxdb.py::test_a_delete_limited_to_one_tier_keeps_the_other_tiers",
        "tests/timeseries/influxdb/test_influxdb.py::test_tiers_are_retention_policies_with_their_durations",
        "tests/timeseries/influxdb/test_influxdb.py::test_units_are_partials_with_the_fields_types_and_tags_as_tags",
        "tests/timeseries/influxdb/test_influxdb.py::test_rollups_are_not_points",
        "tests/timeseries/influxdb/test_influxdb.py::test_a_live_write_leaves_its_units_to_the_seal_which_records_its_horizon",
        "tests/timeseries/influxdb/test_influxdb.py::test_a_unit_left_without_points_by_a_delete_goes",
        "tests/timeseries/influxdb/test_influxdb.py::test_a_delete_limited_to_one_tier_keeps_the_other_tiers_rollups",
        "tests/timeseries/influxdb/test_influxdb.py::test_purging_a_tier_rewrites_a_longer_tiers_points_of_the_same_range",
        "tests/timeseries/influxdb/test_influxdb.py::test_a_store_written_before_rollups_gets_them_built_once",
        "tests/timeseries/influxdb/test_influxdb.py::test_charts_read_rollups_for_whole_units_and_raw_points_elsewhere",
    ]
    assert collected("browser", "sqlite", *paths) == [
        "tests/web/test_onboarding.py::test_from_the_demo_login_an_admin_adds_a_device_connects_it_and_sees_its_charts",
        "tests/web/test_onboarding.py::test_a_member_sees_the_new_device_page_without_controls",
    ]
