#!/usr/bin/env bash
# Benchmarks: starts the servers they need, runs bench/*.py side by side, stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
started=()
cleanup() { for s in "${started[@]}"; do bash "scripts/services/$s.sh" stop || true; done; }
trap cleanup EXIT
backends="${BENCH_BACKENDS:-sqlite,postgresql,influxdb}"
start() {  # start <backend> <service script>
    [[ ",$backends," == *",$1,"* ]] || return 0
    if ! bash "scripts/services/$2.sh" status >/dev/null 2>&1; then started+=("$2"); fi
    export "FLEETWATCH_BENCH_${1^^}_URL=$(bash "scripts/services/$2.sh" start | tail -n 1)"
}
start postgresql postgresql
start influxdb influxdb1
start influxdb2 influxdb2
start elasticsearch elasticsearch
.venv/bin/python bench/timeseries.py --backends "$backends" "$@"
