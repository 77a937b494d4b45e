#!/usr/bin/env bash
# InfluxDB OSS 2.x for tests and benchmarks: scripts/services/influxdb2.sh start|stop|status|url|build
# HTTP API (/api/v2, Flux, /health) on 127.0.0.1:${FLEETWATCH_INFLUX2_PORT:-18087}, data under
# .services/influxdb2, set up once with org/bucket/user "fleetwatch" and the operator token
# "fleetwatch-test-token". URL printed last by start:
#   influxdb2://fleetwatch-test-token@127.0.0.1:18087/fleetwatch?org=fleetwatch
#   (token as the user part, bucket as the path, org as a query parameter)
#
# The server: no registry ships an influxd 2.x binary (Debian's "influxdb" is 1.6.7), so `build`
# compiles influxd v2.9.1 from the Go module proxy (flux v0.200.0, whose Rust libflux cargo builds
# from crates.io) into a cache OUTSIDE the repository, reused by later starts:
#   ${FLEETWATCH_INFLUXD2_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetwatch/influxd-2.9.1}/influxd
# How (see shared/reference/influxdb2-build.md):
#   - a local wrapper module (`go mod init` + `go get influxd@v2.9.1 pkg-config@v0.3.0`) in
#     <cache>/build/src, because `go install …@v2.9.1` refuses modules with replace directives;
#   - `go build -tags sqlite_foreign_keys,sqlite_json` without the `assets` tag (no web UI, the API
#     and Flux are all there);
#   - PKG_CONFIG=<cache>/build/bin/pkg-config, influxdata's pkg-config wrapper: for `#cgo pkg-config:
#     flux` it runs `cargo build --release --target x86_64-unknown-linux-gnu` in a writable copy of
#     the flux module, <GOCACHE>/pkgconfig/github.com/influxdata/flux@v0.200.0, then Debian's
#     pkg-config (installed with apt if absent). This script makes that copy itself (so a copy
#     interrupted half-way is never reused); GOCACHE is <cache>/build/go-build, the cargo target
#     dir is inside the copy, the Go module cache and cargo's registry are their defaults;
#   - RUSTUP_TOOLCHAIN=<the machine's active toolchain> beats flux's rust-toolchain.toml pin (1.83,
#     which would be downloaded), and RUSTFLAGS=--cap-lints=warn keeps newer rustc lints from
#     failing flux's deny(warnings) ("strict" feature). With --target, RUSTFLAGS does not reach
#     host artifacts (build scripts), which is fine for flux v0.200.0: its build-dependency on
#     flux-core has default-features = false (no "strict").
#   - GOTOOLCHAIN=local: the machine's Go (>= 1.25.10, the go line of influxdb v2.9.1) is used,
#     nothing is downloaded as a toolchain.
# The build log is <cache>/build.log; build time is printed. Nothing of it is inside the repo.
#
# FLEETWATCH_INFLUXD2_REBUILD=1 rebuilds even if the binary is there. If a build breaks inside
# libflux, delete <cache>/build/go-build/pkgconfig/github.com/influxdata/flux@* (reused as is).
#
# BUILD NOTES (Debian 12.11, 2 cores, Go 1.26.8, rustc/cargo 1.95.0 stable via rustup):
#   - Worked on the first attempt, exactly as the reference's section 5a: influxd 2.9.1
#     (git d4fa1941fd), flux v0.200.0, pkg-config wrapper v0.3.0. No source patch, no extra flags,
#     no clang (libflux has no bindgen), no UI assets. Debian's pkg-config (1.8.1, pkgconf) was
#     already installed.
#   - Times: cold (empty Go module cache, cargo registry and GOCACHE): go get 29 s + go build
#     4 min 15 s (cargo's libflux about 2 min of it). With the module/crate downloads cached but
#     GOCACHE and the cargo target empty: 221 s. Later starts reuse the binary: start < 1 s.
#   - Cache: about 1.9 GB (influxd 148 MB, GOCACHE 1.3 GB, the flux copy with its cargo target
#     530 MB), plus the default Go module cache (1.4 GB) and cargo registry (72 MB).
#   - --cap-lints=warn turned out not to be needed for flux v0.200.0 on rustc 1.95 (a libflux
#     build without RUSTFLAGS finished with no warning); kept as a guard against future lints.
#   - RUSTUP_TOOLCHAIN is needed: without it rustup reads flux's rust-toolchain.toml (1.83).
#     With RUSTUP_AUTO_INSTALL=0 that fails ("toolchain '1.83-x86_64-unknown-linux-gnu' is not
#     installed"); WITHOUT it rustup silently DOWNLOADS 1.83 plus six targets (2.1 GB). Hence both
#     are set here.
#
# The server runs as the invoking user (root in CI/sessions: influxd does not refuse root, and the
# cache under /root would not be reachable by an unprivileged user), with the config file search
# disabled (cwd = data dir, INFLUXD_* env vars dropped), --reporting-disabled, --ui-disabled,
# logs at ${FLEETWATCH_INFLUX2_LOG_LEVEL:-info} to .services/influxdb2/influxd.log.
set -euo pipefail
SERVICE_NAME=influxdb2
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=2.9.1
PKG_CONFIG_VERSION=v0.3.0
PORT="${FLEETWATCH_INFLUX2_PORT:-18087}"
ORG=fleetwatch
BUCKET=fleetwatch
USERNAME=fleetwatch
PASSWORD=fleetwatch-password
TOKEN=fleetwatch-test-token
LOG_LEVEL="${FLEETWATCH_INFLUX2_LOG_LEVEL:-info}"
HTTP="http://127.0.0.1:$PORT"
URL="influxdb2://$TOKEN@127.0.0.1:$PORT/$BUCKET?org=$ORG"
DIR="$SERVICES_DIR/influxdb2"
PIDFILE="$DIR/influxd.pid"
LOGFILE="$DIR/influxd.log"

CACHE="${FLEETWATCH_INFLUXD2_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetwatch/influxd-$VERSION}"
BIN="$CACHE/influxd"
BUILD="$CACHE/build"
BUILD_LOG="$CACHE/build.log"

# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------

# version_ge A B: A >= B for dotted numbers.
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]; }

build_prereqs() {
    command -v go >/dev/null || die "go is needed to build influxd (Go >= 1.25.10)"
    command -v cargo >/dev/null || die "cargo is needed to build flux's libflux (Rust >= 1.83)"
    local gov; gov=$(GOTOOLCHAIN=local go env GOVERSION); gov=${gov#go}
    version_ge "$gov" 1.25.10 || die "Go $gov is too old for influxd $VERSION (needs >= 1.25.10)"
    # The wrapper execs the real pkg-config found on PATH; gcc/libc6-dev for cgo.
    local need=()
    command -v pkg-config >/dev/null || need+=(pkg-config)
    command -v gcc >/dev/null || need+=(gcc)
    [[ -e /usr/include/stdlib.h ]] || need+=(libc6-dev)
    (( ${#need[@]} == 0 )) || apt_install "${need[@]}" || die "apt-get install ${need[*]} failed"
}

# The environment of every build step.
build_env() {
    export GOTOOLCHAIN=local CGO_ENABLED=1
    export GOCACHE="$BUILD/go-build"
    export GOFLAGS="-buildvcs=false"
    export PKG_CONFIG_LOG="$BUILD/pkg-config.log"
    if command -v rustup >/dev/null; then
        # From /, so no rust-toolchain.toml is in the way: the toolchain rustup would use anyway.
        RUSTUP_TOOLCHAIN="$(cd / && rustup show active-toolchain 2>/dev/null | awk 'NR==1{print $1}')"
        [[ -n "$RUSTUP_TOOLCHAIN" ]] || die "rustup has no active toolchain"
        export RUSTUP_TOOLCHAIN RUSTUP_AUTO_INSTALL=0
    fi
    export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cap-lints=warn"
    unset CARGO_ENCODED_RUSTFLAGS PKG_CONFIG
}

# run_logged <description> <command...>: append the command's output to the build log.
run_logged() {
    local what=$1; shift
    log "$what"
    { echo; echo "### $(date -u +%FT%TZ) $what"; echo "\$ $*"; } >>"$BUILD_LOG"
    if ! "$@" >>"$BUILD_LOG" 2>&1 </dev/null; then
        tail -n 40 "$BUILD_LOG" >&2
        die "$what failed (full log: $BUILD_LOG)"
    fi
}

do_build() {
    local t0=$SECONDS
    build_prereqs
    mkdir -p "$BUILD/src" "$BUILD/bin"
    build_env
    {
        echo "=== influxd $VERSION build, $(date -u +%FT%TZ)"
        echo "$(go version); $(rustc --version 2>/dev/null); $(cargo --version 2>/dev/null)"
        echo "RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-} RUSTFLAGS=$RUSTFLAGS GOCACHE=$GOCACHE"
    } >>"$BUILD_LOG"
    log "building influxd $VERSION into $BIN (log: $BUILD_LOG); this takes a while on first run"
    cd "$BUILD/src"
    [[ -f go.mod ]] || run_logged "go mod init" go mod init local/fleetwatch-influxd-build
    if ! grep -q "github.com/influxdata/influxdb/v2 v$VERSION" go.mod \
            || ! grep -q "github.com/influxdata/pkg-config $PKG_CONFIG_VERSION" go.mod; then
        run_logged "go get influxd@v$VERSION pkg-config@$PKG_CONFIG_VERSION" \
            go get "github.com/influxdata/influxdb/v2/cmd/influxd@v$VERSION" \
                   "github.com/influxdata/pkg-config@$PKG_CONFIG_VERSION"
    fi
    run_logged "go mod download flux" go mod download github.com/influxdata/flux
    # The proxy records the tag's commit: `influxd version` shows it as upstream builds do.
    local commit
    commit=$(go mod download -json "github.com/influxdata/influxdb/v2@v$VERSION" 2>>"$BUILD_LOG" \
        | sed -n 's/.*"Hash": *"\([0-9a-f]\{10\}\).*/\1/p' | head -n 1)

    # The writable copy of flux that the pkg-config wrapper builds libflux in. The wrapper copies
    # it itself when absent but reuses any existing directory, even one it copied half-way:
    # make it here, atomically, so only a complete copy is ever there.
    local fluxdir fluxver copy
    fluxdir=$(go list -m -f '{{.Dir}}' github.com/influxdata/flux)
    fluxver=$(go list -m -f '{{.Version}}' github.com/influxdata/flux)
    copy="$GOCACHE/pkgconfig/github.com/influxdata/flux@$fluxver"
    if [[ ! -f "$copy/libflux/Cargo.toml" ]]; then
        log "copying flux $fluxver to $copy"
        mkdir -p "$(dirname "$copy")"
        rm -rf "$copy" "$copy.tmp"
        cp -r "$fluxdir" "$copy.tmp"
        chmod -R u+w "$copy.tmp"
        mv -T "$copy.tmp" "$copy"
    fi

    run_logged "go build pkg-config wrapper" \
        go build -o "$BUILD/bin/pkg-config" "github.com/influxdata/pkg-config"
    # Not on PATH: the wrapper looks up the real pkg-config there.
    export PKG_CONFIG="$BUILD/bin/pkg-config"
    run_logged "go build influxd (cargo builds libflux first: many minutes on 2 cores)" \
        go build -tags sqlite_foreign_keys,sqlite_json \
            -ldflags "-X main.version=$VERSION -X main.commit=${commit:-none} -X main.date=$(date -u +%FT%TZ)" \
            -o "$BUILD/bin/influxd.new" github.com/influxdata/influxdb/v2/cmd/influxd
    run_logged "influxd version" "$BUILD/bin/influxd.new" version
    mv -f "$BUILD/bin/influxd.new" "$BIN"
    local took=$((SECONDS - t0))
    echo "=== built $BIN in ${took}s" >>"$BUILD_LOG"
    log "built $("$BIN" version) in ${took}s ($(du -sh "$CACHE" | cut -f1) in $CACHE)"
}

build() {
    if [[ -x "$BIN" && -z "${FLEETWATCH_INFLUXD2_REBUILD:-}" ]]; then
        log "using $BIN ($("$BIN" version 2>/dev/null || echo '?'))"
        return 0
    fi
    mkdir -p "$CACHE"
    # One build at a time; a second caller waits and then finds the binary.
    exec 9>"$CACHE/.build.lock"
    flock 9
    if [[ -x "$BIN" && -z "${FLEETWATCH_INFLUXD2_REBUILD:-}" ]]; then
        exec 9>&-; return 0
    fi
    ( do_build )
    exec 9>&-
    [[ -x "$BIN" ]] || die "no $BIN after the build"
}

# ---------------------------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------------------------

health() { curl -s --max-time 2 "$HTTP/health" 2>/dev/null || true; }

healthy() { [[ $(health | tr -d ' \n\t') == *'"status":"pass"'* ]]; }

# The pid in $PIDFILE, if that process is still an influxd (a stale file's pid may be reused).
pid() {
    local p
    p=$([[ -f "$PIDFILE" ]] && head -n 1 "$PIDFILE" | tr -dc '0-9' || true)
    [[ -n "$p" && $(cat "/proc/$p/comm" 2>/dev/null) == influxd ]] && echo "$p" || true
}

# Healthy, or the process we launched has exited: whichever comes first.
up_or_exited() { healthy || ! kill -0 "$1" 2>/dev/null; }

# api <method> <path> [json body]: with the operator token; prints the body, then the status code
# on the last line.
api() {
    local method=$1 path=$2 body=${3:-}
    local args=(-sS --max-time 30 -X "$method" -H "Authorization: Token $TOKEN" -w '\n%{http_code}')
    [[ -z "$body" ]] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
    curl "${args[@]}" "$HTTP$path"
}

code_of() { tail -n 1 <<<"$1"; }
# The body without whitespace, for matching '"key":"value"'.
body_of() { sed '$d' <<<"$1" | tr -d ' \n\t'; }

# POST /api/v2/setup once; on later starts check that the token, org and bucket are there
# (recreating the bucket if a test deleted it).
setup() {
    local out
    out=$(curl -sS --max-time 10 "$HTTP/api/v2/setup" | tr -d ' \n\t')
    if [[ $out == *'"allowed":true'* ]]; then
        log "initial setup: org $ORG, bucket $BUCKET, user $USERNAME, operator token"
        out=$(curl -sS --max-time 30 -X POST "$HTTP/api/v2/setup" -w '\n%{http_code}' \
            -H 'Content-Type: application/json' --data-binary "$(printf \
            '{"username":"%s","password":"%s","org":"%s","bucket":"%s","token":"%s","retentionPeriodSeconds":0}' \
            "$USERNAME" "$PASSWORD" "$ORG" "$BUCKET" "$TOKEN")")
        [[ $(code_of "$out") == 201 ]] || die "POST /api/v2/setup failed: $out"
        return 0
    fi
    out=$(api GET "/api/v2/orgs?org=$ORG")
    [[ $(code_of "$out") == 200 && $(body_of "$out") == *"\"name\":\"$ORG\""* ]] || die \
        "already set up, but token $TOKEN cannot see org $ORG ($out); remove $DIR to start afresh"
    out=$(api GET "/api/v2/buckets?org=$ORG&name=$BUCKET")
    # 404 when no bucket has that name.
    [[ $(code_of "$out") == 200 || $(code_of "$out") == 404 ]] || die "GET /api/v2/buckets failed: $out"
    if [[ $(code_of "$out") == 404 || $(body_of "$out") != *"\"name\":\"$BUCKET\""* ]]; then
        local org_id
        org_id=$(body_of "$(api GET "/api/v2/orgs?org=$ORG")" \
            | sed -n 's|.*"self":"/api/v2/orgs/\([0-9a-f]*\)".*|\1|p')
        [[ -n "$org_id" ]] || die "cannot find the id of org $ORG"
        log "bucket $BUCKET is missing; creating it"
        out=$(api POST /api/v2/buckets "{\"orgID\":\"$org_id\",\"name\":\"$BUCKET\",\"retentionRules\":[]}")
        [[ $(code_of "$out") == 201 ]] || die "creating bucket $BUCKET failed: $out"
    fi
    log "already set up"
}

start() {
    build
    if healthy; then
        log "already running on 127.0.0.1:$PORT"
        setup
        echo "$URL"; return 0
    fi
    local old; old=$(pid)
    if [[ -n "$old" ]]; then
        log "pid $old from $PIDFILE is running but not healthy on :$PORT; stopping it"
        stop_pid "$old"
    fi
    rm -f "$PIDFILE"
    if curl -s --max-time 2 -o /dev/null "$HTTP/"; then
        die "port $PORT is taken by something else"
    fi
    mkdir -p "$DIR/engine"
    log "starting influxd $VERSION on 127.0.0.1:$PORT (as $(id -un))"
    local t0=$SECONDS
    : > "$LOGFILE"
    # Flags beat env vars beat a config file; drop INFLUXD_* env vars and run in $DIR, which has
    # no config.{json,toml,yaml,yml}, so only these flags count.
    local unset_env=()
    local v
    for v in $(compgen -e); do [[ $v != INFLUXD_* ]] || unset_env+=(-u "$v"); done
    # setsid: own session, away from the caller's job control; exec'd, so $! is influxd's pid.
    (cd "$DIR" && exec env "${unset_env[@]}" setsid nohup "$BIN" \
        --http-bind-address "127.0.0.1:$PORT" \
        --bolt-path "$DIR/influxd.bolt" \
        --engine-path "$DIR/engine" \
        --sqlite-path "$DIR/influxd.sqlite" \
        --pid-file "$PIDFILE" --overwrite-pid-file \
        --reporting-disabled --ui-disabled \
        --log-level "$LOG_LEVEL" \
        </dev/null >>"$LOGFILE" 2>&1) &
    local launched=$!
    wait_until 60 up_or_exited "$launched" || true
    if ! healthy; then
        tail -n 30 "$LOGFILE" >&2
        stop_pid "$(pid)"
        stop_pid "$launched"
        rm -f "$PIDFILE"
        die "influxd did not become healthy on 127.0.0.1:$PORT (log: $LOGFILE)"
    fi
    [[ -n "$(pid)" ]] || die "influxd is healthy but $PIDFILE names no influxd"
    setup
    log "ready in $((SECONDS - t0))s (pid $(pid))"
    echo "$URL"
}

stop() {
    stop_service "$(pid)" "$PIDFILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    build) build; echo "$BIN" ;;
    status) if healthy; then echo running; else echo stopped; exit 1; fi ;;
    url) echo "$URL" ;;
    *) echo "usage: $0 start|stop|status|url|build" >&2; exit 2 ;;
esac
