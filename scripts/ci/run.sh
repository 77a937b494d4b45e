#!/usr/bin/env bash
# The CI jobs, one entry point for GitHub's workflow and the local gate (.ci/run):
#   scripts/ci/run.sh <job>...
#
# Jobs:
#   lint           ruff check and ruff format --check
#   sqlite         the whole suite on the embedded backend, browser tests aside (with RabbitMQ,
#                  MariaDB and PostgreSQL for the broker and backup tests), then OpenWISP
#                  Monitoring's suite on Fleetwatch's adapter over SQLite
#   postgresql, influxdb, influxdb2, elasticsearch
#                  that backend's tests: the conformance suite, the integration scenario
#                  (tests/monitoring/test_every_backend.py) and every other test tagged with the
#                  backend (tests/conftest.py tags them), on its real server; then OpenWISP's
#                  suite on the adapter over it
#   browser        the browser tests (Debian's Chromium), on SQLite
#
# Several jobs given together run as ONE pytest invocation over the union of their backends and
# test selections, then ONE OpenWISP run over their backends: each test runs once. .ci/run gives
# all of them; a GitHub job gives one. Servers start the way `make test` starts them
# (scripts/test.sh and scripts/services/*.sh), and the variables it reads narrow them the same way.
# FLEETWATCH_CI_DRY_RUN=1 prints the commands (with the test variables they get) instead.
set -euo pipefail
cd "$(dirname "$0")/../.."

SERVERS=(postgresql influxdb influxdb2 elasticsearch)
(( $# )) || { echo "usage: $0 lint|sqlite|postgresql|influxdb|influxdb2|elasticsearch|browser ..." >&2; exit 2; }

lint=0 browser=0 backends=() selections=()
add_backend() { [[ " ${backends[*]} " == *" $1 "* ]] || backends+=("$1"); }
add_selection() {
    local known
    for known in "${selections[@]}"; do [[ "$known" != "$1" ]] || return 0; done
    selections+=("$1")
}
for job in "$@"; do
    case "$job" in
        lint) lint=1 ;;
        sqlite) add_backend sqlite; add_selection "not browser" ;;
        postgresql | influxdb | influxdb2 | elasticsearch) add_backend "$job"; add_selection backend ;;
        browser) browser=1; add_backend sqlite; add_selection browser ;;
        *) echo "$0: unknown job '$job'" >&2; exit 2 ;;
    esac
done

# run <command...>: run it, or print it (with the FLEETWATCH_TEST_* variables set) in a dry run.
run() {
    if [[ "${FLEETWATCH_CI_DRY_RUN:-0}" == 1 ]]; then
        local name
        for name in FLEETWATCH_TEST_BACKENDS FLEETWATCH_TEST_BROKERS FLEETWATCH_TEST_BACKUP_TOOLS; do
            [[ -z "${!name+set}" ]] || printf '%s="%s" ' "$name" "${!name}"
        done
        local argument words=()
        for argument in "$@"; do
            if [[ "$argument" == *[\ \(\)]* ]]; then words+=("\"$argument\""); else words+=("$argument"); fi
        done
        echo "${words[*]}"
    else
        "$@"
    fi
}

run make venv
t0=$SECONDS
if (( lint )); then
    echo "[ci] lint" >&2
    run .venv/bin/ruff check src tests bench scripts agent
    run .venv/bin/ruff format --check src tests bench scripts agent
fi

if (( ${#backends[@]} )); then
    joined=$(IFS=,; echo "${backends[*]}")
    export FLEETWATCH_TEST_BACKENDS="$joined"
    # A job without the sqlite one needs no broker or backup server (its tests are the tagged
    # backend tests or the browser tests): narrow them unless the caller said otherwise.
    if [[ " ${selections[*]} " != *"not browser"* ]]; then
        export FLEETWATCH_TEST_BACKUP_TOOLS="${FLEETWATCH_TEST_BACKUP_TOOLS-}"
        (( browser )) || export FLEETWATCH_TEST_BROKERS="${FLEETWATCH_TEST_BROKERS:-filesystem}"
    fi
    expression=$(printf ' or (%s)' "${selections[@]}")
    expression=${expression# or }
    echo "[ci] pytest on $joined: -m \"$expression\"" >&2
    run bash scripts/test.sh -q -m "$expression"

    tsdbs=()
    for backend in "${backends[@]}"; do
        # The browser job brings sqlite for its tests, not for OpenWISP's suite.
        if [[ $backend == sqlite && " $* " != *" sqlite "* ]]; then continue; fi
        tsdbs+=("fleetwatch-$backend")
    done
    if (( ${#tsdbs[@]} )); then
        echo "[ci] OpenWISP Monitoring's suite on ${tsdbs[*]}" >&2
        run bash scripts/openwisp/setup.sh
        run bash scripts/openwisp/run.sh "${tsdbs[@]}"
    fi
fi
echo "[ci] $* done in $((SECONDS - t0)) s" >&2
