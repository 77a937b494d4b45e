# Shared helpers for scripts/services/*.sh (sourced, not run).
# Each service: install from Debian if absent, run on 127.0.0.1 with data under .services/<name>,
# wait until healthy, print its URL last, stop by PID.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES_DIR="$ROOT/.services"
SERVICE_NAME="${SERVICE_NAME:-service}"

log() { echo "[$SERVICE_NAME] $*" >&2; }
die() { log "error: $*"; exit 1; }

# wait_until <seconds> <command...>: poll every 0.5 s until the command succeeds.
wait_until() {
    local timeout=$1; shift
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if (( SECONDS >= deadline )); then
            log "not ready after ${timeout}s: $*"
            return 1
        fi
        sleep 0.5
    done
}

# stop_pid <pid> [signal]: send the signal (default TERM), wait up to 30 s, then SIGKILL.
stop_pid() {
    local pid=$1 signal=${2:-TERM}
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$signal" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        if (( SECONDS >= deadline )); then
            log "pid $pid still running 30s after SIG$signal; killing"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
}

# How long apt may wait (seconds) for another apt-get or dpkg run to finish before giving up.
APT_LOCK_TIMEOUT="${APT_LOCK_TIMEOUT:-600}"
APT_LOCKED=75  # apt_get's status when the lock was still held at the deadline

# apt_get <arguments...>: apt-get as root (sudo -n otherwise), non-interactive, waiting for the
# locks of another apt/dpkg run instead of failing. DPkg::Lock::Timeout makes apt wait for dpkg's
# frontend lock itself; the lists lock (update) and the archives lock it takes without waiting,
# so an attempt that failed on a lock held by another process is repeated every 5 s. In all, it
# waits at most APT_LOCK_TIMEOUT seconds.
apt_get() {
    local -a sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
    local deadline=$((SECONDS + APT_LOCK_TIMEOUT)) errors rc
    errors=$(mktemp)
    while true; do
        rc=0
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
            apt-get -o DPkg::Lock::Timeout="$((deadline > SECONDS ? deadline - SECONDS : 0))" "$@" \
            </dev/null >&2 2>"$errors" || rc=$?
        cat "$errors" >&2
        if (( rc == 0 )) || ! grep -q "Could not get lock" "$errors"; then
            break
        fi
        if (( SECONDS >= deadline )); then
            log "apt/dpkg still locked by another process after ${APT_LOCK_TIMEOUT}s: giving up"
            rc=$APT_LOCKED
            break
        fi
        log "apt/dpkg locked by another process; trying again in 5 s"
        sleep 5
    done
    rm -f "$errors"
    return "$rc"
}

# apt_install <packages...>: Debian packages; refresh the index only when the install failed
# (not when it only found apt locked until the deadline).
apt_install() {
    log "installing $* from Debian"
    local rc=0
    apt_get install -y -q --no-install-recommends "$@" || rc=$?
    (( rc != 0 && rc != APT_LOCKED )) || return "$rc"
    apt_get update -q && apt_get install -y -q --no-install-recommends "$@"
}

# as_user <user> <command...>: as root, drop to an unprivileged user; otherwise run as we are.
as_user() {
    local user=$1; shift
    if [[ $(id -u) -eq 0 ]]; then
        setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
    else
        "$@"
    fi
}

# stop_service <pid> <pid file or ""> [signal]: stop the service's process if it runs, and
# forget its pid file.
stop_service() {
    local p=$1 file=$2 signal=${3:-TERM}
    if [[ -z "$p" ]] || ! kill -0 "$p" 2>/dev/null; then
        log "not running"
    else
        log "stopping pid $p"
        stop_pid "$p" "$signal"
    fi
    [[ -z "$file" ]] || rm -f "$file"
}

# service_main <command>: the start|stop|status|url dispatch of a service script, which
# defines start, stop, healthy and URL.
service_main() {
    case "${1:-}" in
        start) start ;;
        stop) stop ;;
        status) if healthy; then echo running; else echo stopped; exit 1; fi ;;
        url) echo "$URL" ;;
        *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
    esac
}

# answering_already: true (printing the URL) when the service answers; otherwise stops a
# process its pid file names that does not answer, and forgets the pid file.
answering_already() {
    if healthy; then
        log "already running on 127.0.0.1:$PORT"
        echo "$URL"; return 0
    fi
    local old; old=$(pid)
    if [[ -n "$old" ]]; then
        log "pid $old from $PIDFILE is running but not answering on :$PORT; stopping it"
        stop_pid "$old"
    fi
    rm -f "$PIDFILE"
    return 1
}
