#!/usr/bin/env bash
# Benchmarks: starts the servers they need, runs bench/*.py side by side, stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
started=()
cleanup() { for s in "${started[@]}"; do bash "scripts/services/$s.sh" stop || true; done; }
trap cleanup EXIT
if ! bash scripts/services/postgresql.sh status >/dev/null 2>&1; then started+=(postgresql); fi
FLEETWATCH_BENCH_POSTGRESQL_URL=$(bash scripts/services/postgresql.sh start | tail -n 1)
export FLEETWATCH_BENCH_POSTGRESQL_URL
.venv/bin/python bench/timeseries.py --backends "${BENCH_BACKENDS:-sqlite,postgresql}" "$@"
