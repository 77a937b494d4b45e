#!/usr/bin/env bash
# The whole test suite: starts the real servers the requested backends need, runs ruff and
# pytest, and stops (by PID) the servers it started. FLEETWATCH_TEST_BACKENDS narrows the
# backends on purpose (e.g. "sqlite"); by default every backend runs and a server that cannot
# be started fails the run. FLEETWATCH_TEST_BACKUP_TOOLS likewise narrows the servers the backup
# tools (mariadb-dump, mydumper, pg_dump) are tested against: set to "" for none.
set -euo pipefail
cd "$(dirname "$0")/.."

backends="${FLEETWATCH_TEST_BACKENDS:-sqlite,postgresql,influxdb,influxdb2,elasticsearch}"
export FLEETWATCH_TEST_BACKENDS="$backends"
started=()

cleanup() {
    for service in "${started[@]}"; do
        bash "scripts/services/$service.sh" stop || true
    done
}
trap cleanup EXIT

wants() { [[ ",$backends," == *",$1,"* ]]; }

start_service() {  # start_service <script name> <URL variable>
    local service=$1 variable=$2
    if ! bash "scripts/services/$service.sh" status >/dev/null 2>&1; then
        started+=("$service")
    fi
    local url
    url=$(bash "scripts/services/$service.sh" start | tail -n 1)
    export "$variable=$url"
    echo "[test] $service ready for the suite" >&2
}

if wants postgresql; then start_service postgresql FLEETWATCH_TEST_POSTGRESQL_URL; fi
if wants influxdb; then start_service influxdb1 FLEETWATCH_TEST_INFLUXDB_URL; fi
# InfluxDB 2.x is built from source the first time (a few minutes; cached outside the repo).
if wants influxdb2; then start_service influxdb2 FLEETWATCH_TEST_INFLUXDB2_URL; fi
if wants elasticsearch; then start_service elasticsearch FLEETWATCH_TEST_ELASTICSEARCH_URL; fi
# Background work: the embedded filesystem queue needs nothing; RabbitMQ is started.
brokers="${FLEETWATCH_TEST_BROKERS:-filesystem,amqp}"
export FLEETWATCH_TEST_BROKERS="$brokers"
if [[ ",$brokers," == *",amqp,"* ]]; then
    start_service rabbitmq FLEETWATCH_TEST_AMQP_URL
    # Device channels (tests/messaging): MQTT devices and the management API that provisions them.
    FLEETWATCH_TEST_MQTT_URL=$(bash scripts/services/rabbitmq.sh mqtt-url)
    FLEETWATCH_TEST_BROKER_API_URL=$(bash scripts/services/rabbitmq.sh api-url)
    export FLEETWATCH_TEST_MQTT_URL FLEETWATCH_TEST_BROKER_API_URL
fi
# Backups (tests/backups): dumps of real MariaDB and PostgreSQL servers. Set but empty means none
# (its tests are deselected), hence ${…-…}, not ${…:-…}.
backup_tools="${FLEETWATCH_TEST_BACKUP_TOOLS-mariadb,postgresql}"
export FLEETWATCH_TEST_BACKUP_TOOLS="$backup_tools"
dumps() { [[ ",$backup_tools," == *",$1,"* ]]; }
if dumps mariadb; then start_service mariadb FLEETWATCH_TEST_MARIADB_URL; fi
if dumps postgresql && ! wants postgresql; then
    start_service postgresql FLEETWATCH_TEST_POSTGRESQL_URL
fi

# Browser tests drive Debian's Chromium; the ping check runs Debian's fping; the iperf3 check's
# tests log into Debian's OpenSSH server and measure against Debian's iperf3. Install when absent.
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v fping >/dev/null || missing+=(fping)
[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
command -v iperf3 >/dev/null || missing+=(iperf3)
if (( ${#missing[@]} )); then
    SERVICE_NAME=tools
    source scripts/services/lib.sh
    apt_install "${missing[@]}"
fi

echo "[test] ruff" >&2
.venv/bin/ruff check src tests bench scripts agent
echo "[test] pytest on backends: $backends; backup tools on: ${backup_tools:-none}" >&2
.venv/bin/python -m pytest "$@"
