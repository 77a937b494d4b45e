#!/usr/bin/env bash
# Runs OpenWISP Monitoring 1.3's own shipped test suite: scripts/openwisp/run.sh [tsdb...]
#
# tsdb (default influxdb; several may be given, each run in turn):
#   influxdb                 baseline: OpenWISP's own InfluxDB 1.x client on scripts/services/influxdb1.sh
#   fleetwatch-<backend>     Fleetwatch's adapter (fleetwatch.openwisp) on backend sqlite (no server),
#                            postgresql, influxdb or elasticsearch (started by scripts/services/*.sh)
#
# Needs scripts/openwisp/setup.sh first (make test-openwisp runs both). Starts Redis and the servers
# the requested tsdbs need, stops (by PID) those it started when it exits, and runs
#   manage.py test <label> --exclude-tag selenium_tests --noinput
# per label of the test project in tests/openwisp/project, minus the ids in
# tests/openwisp/excluded.txt. Logs: .services/openwisp/logs/<tsdb>-<label>.log.
# Prints a line per label and a summary per tsdb; exits non-zero on any failure or error.
#
# Environment: OPENWISP_LABELS (space-separated labels, to narrow a run),
# FLEETWATCH_OPENWISP_TIMEOUT (seconds per label, default 3600), FLEETWATCH_TEST_<X>_URL as set by
# the service scripts (FLEETWATCH_TEST_SQLITE_URL: default a file under .services/openwisp).
set -euo pipefail
SERVICE_NAME=openwisp
source "$(dirname "${BASH_SOURCE[0]}")/../services/lib.sh"
cd "$ROOT"

BASE="$SERVICES_DIR/openwisp"
PYTHON="$BASE/venv/bin/python"
PROJECT="$ROOT/tests/openwisp/project"
LOGS="$BASE/logs"
LIMIT="${FLEETWATCH_OPENWISP_TIMEOUT:-3600}"
read -r -a LABELS <<< "${OPENWISP_LABELS:-openwisp_monitoring.db openwisp_monitoring.monitoring openwisp_monitoring.device openwisp_monitoring.check openwisp_monitoring.tests}"

tsdbs=("$@")
(( ${#tsdbs[@]} )) || tsdbs=(influxdb)

[[ -x "$PYTHON" ]] || die "no $PYTHON: run scripts/openwisp/setup.sh first"

# Which service script each tsdb needs, and the variable its URL goes to.
services=()
need() { [[ " ${services[*]} " == *" $1 "* ]] || services+=("$1"); }
need redis
for tsdb in "${tsdbs[@]}"; do
    case "$tsdb" in
        influxdb | fleetwatch-influxdb) need influxdb1 ;;
        fleetwatch-postgresql) need postgresql ;;
        fleetwatch-elasticsearch) need elasticsearch ;;
        fleetwatch-influxdb2) need influxdb2 ;;
        fleetwatch-sqlite) ;;
        *) die "unknown tsdb '$tsdb': use influxdb or fleetwatch-<sqlite|postgresql|influxdb|influxdb2|elasticsearch>" ;;
    esac
done
url_variable() {
    case "$1" in
        redis) echo FLEETWATCH_TEST_REDIS_URL ;;
        influxdb1) echo FLEETWATCH_TEST_INFLUXDB_URL ;;
        postgresql) echo FLEETWATCH_TEST_POSTGRESQL_URL ;;
        elasticsearch) echo FLEETWATCH_TEST_ELASTICSEARCH_URL ;;
        influxdb2) echo FLEETWATCH_TEST_INFLUXDB2_URL ;;
    esac
}

started=()
cleanup() {
    local i
    for (( i = ${#started[@]} - 1; i >= 0; i-- )); do
        bash "scripts/services/${started[i]}.sh" stop || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for service in "${services[@]}"; do
    # A server that was already running is left running.
    if ! bash "scripts/services/$service.sh" status >/dev/null 2>&1; then
        started+=("$service")
    fi
    url=$(bash "scripts/services/$service.sh" start | tail -n 1)
    [[ -n "$url" ]] || die "scripts/services/$service.sh start printed no URL"
    export "$(url_variable "$service")=$url"
done
export FLEETWATCH_TEST_SQLITE_URL="${FLEETWATCH_TEST_SQLITE_URL:-sqlite:///$BASE/fleetwatch-timeseries.sqlite3}"

# django_loci's test mixin uploads MEDIA_ROOT/floorplan.jpg (upstream ships one in its test project).
mkdir -p "$BASE/media" "$LOGS"
"$PYTHON" - "$BASE/media/floorplan.jpg" <<'PY'
import sys
from pathlib import Path

from PIL import Image

path = Path(sys.argv[1])
if not path.exists():
    Image.new("RGB", (400, 300), (200, 200, 200)).save(path, "JPEG")
PY

# count <log> <key>: a number from unittest's closing "OK (skipped=2)" / "FAILED (failures=1, ...)".
count() { grep -E '^(OK|FAILED)' "$1" | tail -n 1 | grep -oE "$2=[0-9]+" | cut -d= -f2 || true; }

summaries=()
status=0
total_passed=0 total_failed=0 total_skipped=0
for tsdb in "${tsdbs[@]}"; do
    export OPENWISP_TSDB="$tsdb"
    log "running OpenWISP Monitoring's tests on $tsdb (labels: ${LABELS[*]})"
    t_run=$SECONDS
    ran_sum=0 passed_sum=0 failed_sum=0 errors_sum=0 excluded_sum=0 skipped_sum=0 broken=()
    for label in "${LABELS[@]}"; do
        logfile="$LOGS/$tsdb-$label.log"
        t0=$SECONDS
        rc=0
        (cd "$PROJECT" && timeout "$LIMIT" "$PYTHON" manage.py test "$label" \
            --exclude-tag selenium_tests --noinput -v 2) > "$logfile" 2>&1 || rc=$?
        seconds=$((SECONDS - t0))
        ran=$(grep -E '^Ran [0-9]+ tests? in' "$logfile" | tail -n 1 | awk '{print $2}' || true)
        failures=$(count "$logfile" failures) errors=$(count "$logfile" errors)
        skipped=$(count "$logfile" skipped)
        xfail=$(count "$logfile" 'expected failures') xpass=$(count "$logfile" 'unexpected successes')
        excluded=$(grep -cE '^\[excluded\] [A-Za-z_][^ ]*  # ' "$logfile" || true)
        ran=${ran:-0} failures=${failures:-0} errors=${errors:-0} skipped=${skipped:-0}
        xfail=${xfail:-0} xpass=${xpass:-0} excluded=${excluded:-0}
        passed=$((ran - failures - errors - skipped - xfail - xpass))
        (( passed >= 0 )) || passed=0
        note=""
        if (( rc == 124 )); then
            note=" TIMED OUT after ${LIMIT}s"
        elif ! grep -qE '^(OK|FAILED)' "$logfile"; then
            note=" NO RESULT (rc=$rc)"
        elif (( rc != 0 && failures + errors == 0 )); then
            note=" rc=$rc"
        fi
        [[ -z "$note" ]] || broken+=("$label")
        (( rc == 0 && failures + errors == 0 )) || status=1
        printf '[openwisp] %-20s %-32s ran %4d  passed %4d  failed %3d  errors %3d  excluded %3d  skipped %3d  %5ds%s\n' \
            "$tsdb" "$label" "$ran" "$passed" "$failures" "$errors" "$excluded" "$skipped" \
            "$seconds" "$note" >&2
        grep -E '^\[excluded\] warning:' "$logfile" >&2 || true
        ran_sum=$((ran_sum + ran)) passed_sum=$((passed_sum + passed))
        failed_sum=$((failed_sum + failures)) errors_sum=$((errors_sum + errors))
        excluded_sum=$((excluded_sum + excluded)) skipped_sum=$((skipped_sum + skipped))
    done
    line="$tsdb: $ran_sum run, $passed_sum passed, $failed_sum failed, $errors_sum errors, $excluded_sum excluded, $skipped_sum skipped, $((SECONDS - t_run)) s wall"
    (( ${#broken[@]} == 0 )) || line+=" (no complete result for: ${broken[*]})"
    summaries+=("$line")
    total_passed=$((total_passed + passed_sum))
    total_failed=$((total_failed + failed_sum + errors_sum + ${#broken[@]}))
    total_skipped=$((total_skipped + skipped_sum))
done

echo "== OpenWISP Monitoring 1.3 test suite (logs: ${LOGS#"$ROOT"/})"
printf '%s\n' "${summaries[@]}"
echo "openwisp: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$status"
