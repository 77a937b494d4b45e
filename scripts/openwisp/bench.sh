#!/usr/bin/env bash
# Peer benchmark, side by side in one run: scripts/openwisp/bench.sh [tsdb...]
# (default: influxdb fleetwatch-influxdb fleetwatch-elasticsearch). OpenWISP Monitoring 1.3's own
# device API takes 50 devices × 10 reports, then its device charts API is timed, once per
# TIMESERIES_DATABASE; prints reports/s and chart latency, and whether every configuration's
# chart answer equals the first one's. Needs scripts/openwisp/setup.sh first.
set -euo pipefail
SERVICE_NAME=openwisp-bench
source "$(dirname "${BASH_SOURCE[0]}")/../services/lib.sh"
cd "$ROOT"
PYTHON="$SERVICES_DIR/openwisp/venv/bin/python"
OUT="$SERVICES_DIR/openwisp/bench"
mkdir -p "$OUT"
tsdbs=("$@")
(( ${#tsdbs[@]} )) || tsdbs=(influxdb fleetwatch-influxdb fleetwatch-elasticsearch)
started=()
cleanup() { for s in "${started[@]}"; do bash "scripts/services/$s.sh" stop >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
service() {  # service <script> <URL variable>
    bash "scripts/services/$1.sh" status >/dev/null 2>&1 || started+=("$1")
    export "$2=$(bash "scripts/services/$1.sh" start | tail -n 1)"
}
service redis FLEETWATCH_TEST_REDIS_URL
for tsdb in "${tsdbs[@]}"; do
    case "$tsdb" in
        influxdb | fleetwatch-influxdb) service influxdb1 FLEETWATCH_TEST_INFLUXDB_URL ;;
        fleetwatch-elasticsearch) service elasticsearch FLEETWATCH_TEST_ELASTICSEARCH_URL ;;
        fleetwatch-postgresql) service postgresql FLEETWATCH_TEST_POSTGRESQL_URL ;;
        fleetwatch-influxdb2) service influxdb2 FLEETWATCH_TEST_INFLUXDB2_URL ;;
    esac
done
for tsdb in "${tsdbs[@]}"; do
    log "$tsdb"
    (cd tests/openwisp/project && OPENWISP_TSDB="$tsdb" PEER_BENCH_OUT="$OUT/$tsdb.json" \
        "$PYTHON" manage.py test openwisp2.peer_bench --noinput > "$OUT/$tsdb.log" 2>&1) \
        || { tail -n 30 "$OUT/$tsdb.log" >&2; die "the benchmark failed on $tsdb"; }
done
"$PYTHON" - "$OUT" "${tsdbs[@]}" <<'PY'
import json, sys
out, tsdbs = sys.argv[1], sys.argv[2:]
results = {t: json.load(open(f"{out}/{t}.json")) for t in tsdbs}
first = results[tsdbs[0]]
print(f"| TIMESERIES_DATABASE | reports/s | device charts p50 / p95 (ms) | charts equal to {tsdbs[0]}'s |")
print("|---|---|---|---|")
for t, r in results.items():
    same = "yes" if (r["charts"], r["x"]) == (first["charts"], first["x"]) else "NO"
    print(f"| {t} | {r['reports_per_second']:.0f} | {r['chart_p50_ms']:.1f} / {r['chart_p95_ms']:.1f} | {same} |")
PY
