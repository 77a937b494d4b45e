#!/usr/bin/env bash
# PostgreSQL for tests and benchmarks: scripts/services/postgresql.sh start|stop|status|url
# Listens on 127.0.0.1:${FLEETWATCH_PG_PORT:-15432} (TCP only), data under .services/postgresql.
set -euo pipefail
SERVICE_NAME=postgresql
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${FLEETWATCH_PG_PORT:-15432}"
DIR="$SERVICES_DIR/postgresql"
DATA="$DIR/data"
LOGFILE="$DIR/postgres.log"
URL="postgresql://fleetwatch:fleetwatch@127.0.0.1:$PORT/fleetwatch"
RUN_AS=postgres
[[ $(id -u) -eq 0 ]] || RUN_AS="$(id -un)"

bindir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n "$found" && -x "$found/postgres" ]] && echo "$found"
}

healthy() { "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

pid() { [[ -f "$DATA/postmaster.pid" ]] && head -n 1 "$DATA/postmaster.pid" || true; }

psql_admin() {
    as_user "$RUN_AS" "$(bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
        -U postgres -d postgres "$@"
}

start() {
    [[ -n "$(bindir)" ]] || apt_install postgresql
    local bin; bin=$(bindir) || die "no PostgreSQL server binaries after install"
    if healthy; then
        log "already running on 127.0.0.1:$PORT"
        echo "$URL"; return 0
    fi
    mkdir -p "$DIR"
    if [[ $(id -u) -eq 0 ]]; then
        chown "$RUN_AS" "$DIR"
        # PostgreSQL refuses to run as root; its user must be able to reach the data directory.
        as_user "$RUN_AS" test -w "$DIR" \
            || die "user $RUN_AS cannot reach $DIR (a parent directory is not traversable)"
    fi
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        log "initdb in $DATA"
        # Local (socket) access is off; TCP from 127.0.0.1: trust for the postgres superuser
        # (bootstrap only), a password for the fleetwatch role.
        as_user "$RUN_AS" "$bin/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=reject --auth-host=scram-sha-256 >&2
        cat > "$DATA/pg_hba.conf" <<HBA
host  all  postgres    127.0.0.1/32  trust
host  all  all         127.0.0.1/32  scram-sha-256
HBA
        chown "$RUN_AS" "$DATA/pg_hba.conf"
    fi
    log "starting on 127.0.0.1:$PORT"
    as_user "$RUN_AS" "$bin/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories='' \
            -c shared_buffers=256MB -c max_connections=200 -c fsync=on" start >&2 \
        || { tail -n 20 "$LOGFILE" >&2; die "pg_ctl start failed"; }
    wait_until 60 healthy || die "not accepting connections"
    psql_admin <<'SQL'
SELECT 'CREATE ROLE fleetwatch LOGIN CREATEDB PASSWORD ''fleetwatch'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetwatch') \gexec
SELECT 'CREATE DATABASE fleetwatch OWNER fleetwatch'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'fleetwatch') \gexec
SQL
    log "ready (pid $(pid))"
    echo "$URL"
}

stop() {
    # SIGINT is PostgreSQL's fast shutdown: it ends client sessions instead of waiting for them.
    stop_service "$(pid)" "" INT
}

service_main "$@"
