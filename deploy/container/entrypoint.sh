#!/usr/bin/env bash
# The image's entry point: fleetwatch-entrypoint <role> [arguments]
#
# Roles:
#   web        wait for the stores, then `fleetwatch serve` (migrations, static files, gunicorn on
#              FLEETWATCH_BIND, 0.0.0.0:8000 in the image)
#   worker     wait for the stores and the migrations, then `fleetwatch worker` (checks, alerts,
#              notifications and their schedule); the device channels' consumer is the consumer
#              role's job, so the worker does not start one beside it
#   consumer   wait likewise, then `fleetwatch consume` (devices' MQTT/AMQP messages)
#   urls       print the settings this script derived (passwords masked) and exit
#   anything else: `fleetwatch <arguments>` as given (e.g. `user create …`, `migrate`, `check`)
#
# Compose's one .env chooses the time-series backend with FLEETWATCH_TIMESERIES_BACKEND
# (sqlite, postgresql, timescaledb, influxdb, influxdb2, elasticsearch). Fleetwatch itself reads
# URLs (FLEETWATCH_TIMESERIES, FLEETWATCH_DATABASE, FLEETWATCH_BROKER, docs/configuration.md):
# this script builds them from the backend's name and the servers' host names and credentials
# (the same variables the servers' own images read, e.g. POSTGRES_PASSWORD). A URL set
# explicitly always wins. Unknown backend names stop it with exit status 2, like a bad setting.
set -euo pipefail

die() { echo "fleetwatch-entrypoint: configuration error: $*" >&2; exit 2; }

# quote <text>: percent-encoded for the user or password part of a URL.
quote() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

# userinfo <user> <password>: "user:password@" (encoded), "user@", or nothing.
userinfo() {
    local user=$1 password=$2
    [[ -n "$user" ]] || return 0
    if [[ -n "$password" ]]; then
        printf '%s:%s@' "$(quote "$user")" "$(quote "$password")"
    else
        printf '%s@' "$(quote "$user")"
    fi
}

backend="${FLEETWATCH_TIMESERIES_BACKEND:-sqlite}"
postgres_url() {
    local host=$1
    echo "postgresql://$(userinfo "${POSTGRES_USER:-fleetwatch}" "${POSTGRES_PASSWORD:-}")${POSTGRES_HOST:-$host}:${POSTGRES_PORT:-5432}/${POSTGRES_DB:-fleetwatch}"
}
case "$backend" in
    sqlite)
        timeseries="" database="" ;;  # Fleetwatch's defaults: files under FLEETWATCH_DATA_DIR
    postgresql | timescaledb)
        # TimescaleDB is PostgreSQL with the extension: the postgresql backend makes its samples
        # table a hypertable when the extension is installed (docs/backends.md).
        timeseries=$(postgres_url "$backend")
        database=$timeseries ;;
    influxdb)
        timeseries="influxdb://$(userinfo "${INFLUXDB_USER:-}" "${INFLUXDB_PASSWORD:-}")${INFLUXDB_HOST:-influxdb}:${INFLUXDB_PORT:-8086}/${INFLUXDB_DB:-fleetwatch}"
        database="" ;;
    influxdb2)
        [[ -n "${INFLUXDB2_TOKEN:-}" ]] || die "FLEETWATCH_TIMESERIES_BACKEND=influxdb2 needs INFLUXDB2_TOKEN (the API token)"
        timeseries="influxdb2://$(quote "$INFLUXDB2_TOKEN")@${INFLUXDB2_HOST:-influxdb2}:${INFLUXDB2_PORT:-8086}/${INFLUXDB2_BUCKET:-fleetwatch}?org=$(quote "${INFLUXDB2_ORG:-fleetwatch}")"
        database="" ;;
    elasticsearch)
        timeseries="elasticsearch://$(userinfo "${ELASTICSEARCH_USER-elastic}" "${ELASTIC_PASSWORD:-}")${ELASTICSEARCH_HOST:-elasticsearch}:${ELASTICSEARCH_PORT:-9200}/${ELASTICSEARCH_NAMESPACE:-fleetwatch}"
        database="" ;;
    *)
        die "FLEETWATCH_TIMESERIES_BACKEND must be sqlite, postgresql, timescaledb, influxdb, influxdb2 or elasticsearch, not '$backend'" ;;
esac
[[ -n "${FLEETWATCH_TIMESERIES:-}" || -z "$timeseries" ]] || export FLEETWATCH_TIMESERIES="$timeseries"
[[ -n "${FLEETWATCH_DATABASE:-}" || -z "$database" ]] || export FLEETWATCH_DATABASE="$database"

# RabbitMQ (compose's broker service): Celery's broker and the device channels.
if [[ -n "${RABBITMQ_HOST:-}" ]]; then
    amqp="amqp://$(userinfo "${RABBITMQ_USER:-fleetwatch}" "${RABBITMQ_PASSWORD:-}")$RABBITMQ_HOST:${RABBITMQ_PORT:-5672}/$(quote "${RABBITMQ_VHOST:-fleetwatch}")"
    api="http://$(userinfo "${RABBITMQ_USER:-fleetwatch}" "${RABBITMQ_PASSWORD:-}")$RABBITMQ_HOST:${RABBITMQ_API_PORT:-15672}/api/"
    export FLEETWATCH_BROKER="${FLEETWATCH_BROKER:-$amqp}"
    export FLEETWATCH_CHANNELS_BROKER_URL="${FLEETWATCH_CHANNELS_BROKER_URL:-$amqp}"
    export FLEETWATCH_CHANNELS_BROKER_API_URL="${FLEETWATCH_CHANNELS_BROKER_API_URL:-$api}"
fi

mask() { sed -E 's#(://[^:/@]*:)[^@]*@#\1***@#; s#(://)([^:/@]+)@#\1***@#'; }

# wait_for <what> <command...>: run the command every 2 s until it succeeds, at most
# FLEETWATCH_WAIT_TIMEOUT seconds (120): the servers of a compose project start side by side.
wait_for() {
    local what=$1; shift
    local deadline=$((SECONDS + ${FLEETWATCH_WAIT_TIMEOUT:-120})) output
    until output=$("$@" 2>&1); do
        if (( SECONDS >= deadline )); then
            echo "fleetwatch-entrypoint: $what: still failing after ${FLEETWATCH_WAIT_TIMEOUT:-120}s:" >&2
            echo "$output" >&2
            exit 1
        fi
        sleep 2
    done
}

role="${1:-web}"
(( $# )) && shift
case "$role" in
    urls)
        for name in FLEETWATCH_TIMESERIES FLEETWATCH_DATABASE FLEETWATCH_BROKER \
            FLEETWATCH_CHANNELS_BROKER_URL FLEETWATCH_CHANNELS_BROKER_API_URL; do
            echo "$name=${!name:-}" | mask
        done ;;
    web)
        wait_for "the stores (fleetwatch check --connect)" fleetwatch check --connect
        exec fleetwatch serve "$@" ;;
    worker)
        # The consumer runs in its own container: without these the worker starts none.
        unset FLEETWATCH_CHANNELS_BROKER_URL FLEETWATCH_CHANNELS_BROKER_API_URL
        wait_for "the migrations (fleetwatch migrate --check)" fleetwatch migrate --check
        exec fleetwatch worker "$@" ;;
    consumer)
        wait_for "the migrations (fleetwatch migrate --check)" fleetwatch migrate --check
        exec fleetwatch consume "$@" ;;
    *)
        exec fleetwatch "$role" "$@" ;;
esac
