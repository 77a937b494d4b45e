#!/usr/bin/env bash
# Elasticsearch for tests: scripts/services/elasticsearch.sh start|stop|status|url
# Single node on http://127.0.0.1:${FLEETWATCH_ES_PORT:-19200} (transport on
# 127.0.0.1:${FLEETWATCH_ES_TRANSPORT_PORT:-19300}), security off, data and logs under
# .services/elasticsearch.
#
# The server is the minimal distribution from Maven Central,
#   org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip
# fetched with `mvn dependency:copy` (no other download source). It has no bundled JDK, so a JDK
# from /usr/lib/jvm is used via ES_JAVA_HOME (9.x needs Java 21+: Temurin 25 here; 8.x runs on
# the default Java 17). Set ES_JAVA_HOME yourself to override the choice.
# Note: despite its name this zip DOES contain x-pack-core and x-pack-security (8.19 and 9.x), so
# security is switched off with xpack.security.enabled=false (only if that module is present).
# Its only modules are apm, transport-netty4, x-pack-core, x-pack-security. Index/get/search/
# bulk/aggregations/mappings/index templates work (server core); there is NO rest-root module, so
# `GET /` answers 405 (clients' info()/ping() fail; the version is at GET /_nodes/_local), and
# no painless, ingest pipelines, reindex, analysis-common, mapper-extras, data streams or ILM.
#
# Version (override with FLEETWATCH_ES_VERSION), tried on Maven Central, Debian 12, 2 CPUs:
#   9.5.3   served (core artifact's newest release); starts on Temurin 25.0.3  <- chosen
#   9.3.4   NOT served as integ-test-zip ("Could not find artifact" in central)
#   9.2.0, 9.1.0, 9.0.0, 8.19.21  served (downloaded, not started); 8.19.21 is the newest 8.x
#   (the integ-test-zip maven-metadata.xml lists only up to 8.19.21, yet 9.x zips are served)
#
# Cache: the unpacked distribution is kept outside the repository, in
# ${XDG_CACHE_HOME:-$HOME/.cache}/fleetwatch/elasticsearch-<version>, so later starts do not
# download. When run as root it is /var/cache/fleetwatch/elasticsearch-<version> instead: the
# server then runs as the system user fleetwatch-es (Elasticsearch refuses to run as root), which
# cannot traverse /root. Override with FLEETWATCH_ES_CACHE (the parent directory).
# The distribution's config/ is copied to .services/elasticsearch/config (ES_PATH_CONF) because
# the server writes its keystore there; the cached copy stays read-only.
set -euo pipefail
SERVICE_NAME=elasticsearch
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="${FLEETWATCH_ES_VERSION:-9.5.3}"
PORT="${FLEETWATCH_ES_PORT:-19200}"
TRANSPORT_PORT="${FLEETWATCH_ES_TRANSPORT_PORT:-19300}"
HEAP="${FLEETWATCH_ES_HEAP:-1g}"
URL="elasticsearch://127.0.0.1:$PORT/fleetwatch"
HTTP_URL="http://127.0.0.1:$PORT"
DIR="$SERVICES_DIR/elasticsearch"
PIDFILE="$DIR/elasticsearch.pid"
STARTLOG="$DIR/startup.log"
CLUSTER=fleetwatch-test
LOGFILE="$DIR/logs/$CLUSTER.log"
if [[ $(id -u) -eq 0 ]]; then
    RUN_AS=fleetwatch-es
    CACHE="${FLEETWATCH_ES_CACHE:-/var/cache/fleetwatch}"
else
    RUN_AS="$(id -un)"
    CACHE="${FLEETWATCH_ES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetwatch}"
fi
HOME_DIR="$CACHE/elasticsearch-$VERSION"

healthy() {
    curl -fsS --max-time 5 "$HTTP_URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1
}

pid() { [[ -f "$PIDFILE" ]] && tr -dc '0-9' < "$PIDFILE" || true; }

running() { local p; p=$(pid); [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }

# show_logs <byte offset of the server log before this start>: launcher output, then what the
# server logged during this start (not the previous run's lines).
show_logs() {
    [[ -s "$STARTLOG" ]] && tail -n 30 "$STARTLOG" >&2
    [[ -f "$LOGFILE" ]] && tail -c "+$(($1 + 1))" "$LOGFILE" | tail -n 40 >&2
    return 0
}

# java_major <jdk dir>: the feature version (17, 21, 25, ...) from its release file.
java_major() {
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null
}

# pick_jdk: ES_JAVA_HOME if set, else the oldest JDK in /usr/lib/jvm that is new enough.
pick_jdk() {
    if [[ -n "${ES_JAVA_HOME:-}" ]]; then echo "$ES_JAVA_HOME"; return; fi
    local need=17 jdk major best="" best_major=999
    [[ ${VERSION%%.*} -ge 9 ]] && need=21
    for jdk in /usr/lib/jvm/*/; do
        jdk=${jdk%/}
        [[ -L "$jdk" || ! -x "$jdk/bin/java" ]] && continue
        major=$(java_major "$jdk")
        [[ -n "$major" ]] || continue
        if (( major >= need && major < best_major )); then best=$jdk; best_major=$major; fi
    done
    [[ -n "$best" ]] || die "Elasticsearch $VERSION needs Java $need+; none in /usr/lib/jvm (set ES_JAVA_HOME)"
    echo "$best"
}

install() {
    [[ -x "$HOME_DIR/bin/elasticsearch" ]] && return 0
    command -v mvn >/dev/null || apt_install maven
    command -v unzip >/dev/null || apt_install unzip
    mkdir -p "$CACHE"
    local tmp; tmp=$(mktemp -d "$CACHE/.elasticsearch-$VERSION.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    log "downloading org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip from Maven Central"
    mvn -q -B dependency:copy \
        "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" \
        "-DoutputDirectory=$tmp" >&2 </dev/null \
        || die "could not fetch Elasticsearch $VERSION from Maven Central (set FLEETWATCH_ES_VERSION)"
    log "unpacking into $HOME_DIR"
    unzip -q "$tmp/elasticsearch-$VERSION.zip" -d "$tmp" >&2
    [[ -x "$tmp/elasticsearch-$VERSION/bin/elasticsearch" ]] || die "unexpected zip layout"
    chmod -R a+rX "$tmp/elasticsearch-$VERSION"
    mv -T "$tmp/elasticsearch-$VERSION" "$HOME_DIR" 2>/dev/null \
        || [[ -x "$HOME_DIR/bin/elasticsearch" ]] || die "could not move into $HOME_DIR"
    rm -rf "$tmp"; trap - EXIT
}

ensure_user() {
    [[ $(id -u) -eq 0 ]] || return 0
    if ! id "$RUN_AS" >/dev/null 2>&1; then
        log "creating system user $RUN_AS"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$RUN_AS"
    fi
}

start() {
    install
    if healthy; then
        log "already running on 127.0.0.1:$PORT"
        echo "$URL"; return 0
    fi
    running && die "pid $(pid) is running but not healthy on $URL; run '$0 stop' first"
    if curl -s --max-time 2 -o /dev/null "$HTTP_URL/"; then
        die "port $PORT is taken by something else"
    fi
    local jdk; jdk=$(pick_jdk)
    ensure_user
    mkdir -p "$DIR/data" "$DIR/logs" "$DIR/tmp"
    rm -rf "$DIR/config"
    cp -r "$HOME_DIR/config" "$DIR/config"
    rm -f "$PIDFILE" "$STARTLOG"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$RUN_AS:" "$DIR"
        as_user "$RUN_AS" test -w "$DIR" \
            || die "user $RUN_AS cannot reach $DIR (a parent directory is not traversable)"
        as_user "$RUN_AS" test -x "$HOME_DIR/bin/elasticsearch" \
            || die "user $RUN_AS cannot run $HOME_DIR/bin/elasticsearch"
    fi
    local maps; maps=$(sysctl -n vm.max_map_count 2>/dev/null || echo 0)
    (( maps >= 262144 )) || log "warning: vm.max_map_count=$maps < 262144 (fine for tests; single-node skips the bootstrap checks)"

    local -a settings=(
        -Ecluster.name="$CLUSTER" -Enode.name=fleetwatch
        -Enetwork.host=127.0.0.1 -Ehttp.port="$PORT" -Etransport.port="$TRANSPORT_PORT"
        -Ediscovery.type=single-node
        -Epath.data="$DIR/data" -Epath.logs="$DIR/logs"
        -Ecluster.routing.allocation.disk.threshold_enabled=false
        -Eaction.destructive_requires_name=false
    )
    [[ -d "$HOME_DIR/modules/x-pack-security" ]] && settings+=(-Expack.security.enabled=false)

    log "starting $VERSION on 127.0.0.1:$PORT (JDK $jdk, heap $HEAP, user $RUN_AS)"
    local t0=$SECONDS offset=0
    [[ -f "$LOGFILE" ]] && offset=$(stat -c %s "$LOGFILE")
    if ! as_user "$RUN_AS" env ES_JAVA_HOME="$jdk" ES_PATH_CONF="$DIR/config" ES_TMPDIR="$DIR/tmp" \
            ES_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP ${FLEETWATCH_ES_JAVA_OPTS:-}" \
            "$HOME_DIR/bin/elasticsearch" -d -p "$PIDFILE" "${settings[@]}" \
            >"$STARTLOG" 2>&1 </dev/null; then
        show_logs "$offset"
        die "elasticsearch failed to start"
    fi
    local deadline=$((SECONDS + 120))
    until healthy; do
        if ! running || (( SECONDS >= deadline )); then
            show_logs "$offset"
            running && stop
            die "not healthy (cluster yellow) within 120s"
        fi
        sleep 0.5
    done
    log "ready in $((SECONDS - t0))s (pid $(pid))"
    echo "$URL"
}

stop() {
    stop_service "$(pid)" "$PIDFILE"
}

service_main "$@"
