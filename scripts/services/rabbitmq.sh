#!/usr/bin/env bash
# RabbitMQ for tests: scripts/services/rabbitmq.sh start|stop|status|url|mqtt-url|api-url
# AMQP 0-9-1 on 127.0.0.1:${FLEETWATCH_AMQP_PORT:-15682}, vhost and user fleetwatch (password
# fleetwatch, administrator). Plugins, for the device channels (fleetwatch.messaging): MQTT 3.1.1
# on 127.0.0.1:${FLEETWATCH_MQTT_PORT:-11883} (vhost fleetwatch by default), the management HTTP
# API on 127.0.0.1:${FLEETWATCH_AMQP_API_PORT:-15695} (device users and topic permissions are
# provisioned through it) and the event exchange (amq.rabbitmq.event in vhost fleetwatch:
# connection.created/closed tell which device is connected). Erlang distribution on 127.0.0.1:<port + 1>,
# rabbitmqctl's own distribution ports <port + 2>..<port + 11>, and a private epmd on
# 127.0.0.1:${FLEETWATCH_AMQP_EPMD_PORT:-14369}, so nothing collides with a system RabbitMQ
# (5672, 25672) or epmd (4369). Data, logs, config and the Erlang cookie under .services/rabbitmq.
#
# The server is Debian's rabbitmq-server package. Its /usr/sbin wrappers are bypassed (they cd to
# /var/lib/rabbitmq, su to rabbitmq and log to /var/log/rabbitmq); /usr/lib/rabbitmq/bin is used
# with every path, including the env, config and advanced config files, pointed at our directory.
#
# epmd: this script runs its own (`epmd -port <port> -address 127.0.0.1`, not daemonised, pid in
# epmd.pid) before the node, and `stop` ends it after the node. The node and rabbitmqctl would
# otherwise start one themselves (`epmd -daemon`, whose pid nobody records), so rabbitmqctl is only
# ever run while ours is up.
#
# Tried on Debian 12 (2 CPUs): rabbitmq-server 3.10.8 on Erlang/OTP 25.2.3; the install takes about
# 10 s, a first start (fresh data) about 8 s, later starts about 6 s (2 s of which are the
# rabbitmqctl calls that check the vhost, user and permissions).
set -euo pipefail
SERVICE_NAME=rabbitmq
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${FLEETWATCH_AMQP_PORT:-15682}"
MQTT_PORT="${FLEETWATCH_MQTT_PORT:-11883}"
API_PORT="${FLEETWATCH_AMQP_API_PORT:-15695}"
DIST_PORT=$((PORT + 1))
EPMD_PORT="${FLEETWATCH_AMQP_EPMD_PORT:-14369}"
NODE=fleetwatch@localhost
DIR="$SERVICES_DIR/rabbitmq"
PIDFILE="$DIR/rabbitmq.pid"
EPMD_PIDFILE="$DIR/epmd.pid"
STARTLOG="$DIR/startup.log"
LOGFILE="$DIR/log/$NODE.log"
BIN=/usr/lib/rabbitmq/bin
URL="amqp://fleetwatch:fleetwatch@127.0.0.1:$PORT/fleetwatch"
MQTT_URL="mqtt://127.0.0.1:$MQTT_PORT"
API_URL="http://fleetwatch:fleetwatch@127.0.0.1:$API_PORT/api/"
RUN_AS=rabbitmq
[[ $(id -u) -eq 0 ]] || RUN_AS="$(id -un)"

# Read by the rabbitmq scripts, the node (rabbit_env) and rabbitmqctl alike.
export RABBITMQ_NODENAME="$NODE" RABBITMQ_USE_LONGNAME=false
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$PORT" RABBITMQ_DIST_PORT="$DIST_PORT"
export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf"
export RABBITMQ_CONFIG_FILES="$DIR/conf.d/*.conf"
export RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
export RABBITMQ_MNESIA_BASE="$DIR/mnesia" RABBITMQ_LOG_BASE="$DIR/log"
export RABBITMQ_PID_FILE="$PIDFILE" RABBITMQ_MOTD_FILE="$DIR/motd"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_DIST_PORT_MIN=$((PORT + 2)) RABBITMQ_CTL_DIST_PORT_MAX=$((PORT + 11))
export ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1

# The AMQP listener accepts TCP connections (it opens last in the boot, after MQTT's). A bare connect is not
# logged, whereas sending the protocol header and hanging up logs a warning every time.
healthy() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }

# pid_of <pidfile> <comm>: the pid in the file, if that process is still a <comm> (pids get reused).
pid_of() {
    local p
    p=$([[ -f "$1" ]] && tr -dc '0-9' < "$1" || true)
    [[ -n "$p" && $(cat "/proc/$p/comm" 2>/dev/null) == "$2" ]] && echo "$p" || true
}
pid() { pid_of "$PIDFILE" beam.smp; }
epmd_pid() { pid_of "$EPMD_PIDFILE" epmd; }
epmd_up() { epmd -port "$EPMD_PORT" -names >/dev/null 2>&1; }

# As as_user, with HOME at our directory (the Erlang cookie is $HOME/.erlang.cookie). A command
# put in the background with "${drop[@]}" is exec'd, so $! is its pid (not a waiting subshell's).
# Set by start once the package (and its user) is installed.
drop=()
set_drop() {
    drop=(env HOME="$DIR")
    [[ $(id -u) -ne 0 ]] || drop=(setpriv --reuid="$RUN_AS" --regid="$(id -g "$RUN_AS")" \
        --init-groups -- env HOME="$DIR")
}

ctl() { "${drop[@]}" "$BIN/rabbitmqctl" -n "$NODE" --silent "$@"; }

# Debian's package starts a system-wide broker (and epmd) unless policy-rc.d forbids it.
install() {
    local made_policy="" t0=$SECONDS
    if [[ $(id -u) -eq 0 && ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    local ok=0
    apt_install rabbitmq-server || ok=$?
    [[ -z "$made_policy" ]] || rm -f /usr/sbin/policy-rc.d
    (( ok == 0 )) || die "apt-get install rabbitmq-server failed"
    log "installed in $((SECONDS - t0))s"
    stop_system_service
}

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

stop_system_service() {
    listening 5672 || listening 25672 || listening 4369 || return 0
    log "something listens on 5672/25672/4369 (the package's system-wide broker?); stopping it"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
    if [[ -d /run/systemd/system ]]; then
        $sudo systemctl stop rabbitmq-server epmd.socket epmd.service >&2 || true
    else
        $sudo service rabbitmq-server stop >&2 || true
        # The system broker's epmd (started with -daemon, port 4369) outlives it.
        $sudo env -u ERL_EPMD_PORT -u ERL_EPMD_ADDRESS epmd -kill >&2 || true
    fi
    wait_until 30 eval '! listening 5672 && ! listening 25672 && ! listening 4369' \
        || log "warning: something still listens on 5672, 25672 or 4369: $(ss -Hltnp \
            '( sport = :5672 or sport = :25672 or sport = :4369 )' | tr -s ' ' | tr '\n' ';')"
}

write_config() {
    mkdir -p "$DIR/conf.d" "$DIR/log" "$DIR/mnesia"
    : > "$RABBITMQ_CONF_ENV_FILE"
    echo '[rabbitmq_management,rabbitmq_mqtt,rabbitmq_event_exchange].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    cat > "$RABBITMQ_CONFIG_FILE" <<CONF
# Generated by scripts/services/rabbitmq.sh; rewritten on every start.
listeners.tcp.1 = 127.0.0.1:$PORT
# A fresh node creates the fleetwatch vhost and user (and no guest); start re-checks them.
default_vhost = fleetwatch
default_user = fleetwatch
default_pass = fleetwatch
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
default_user_tags.administrator = true
log.console = false
log.file.level = info
# Device channels: MQTT devices land in the fleetwatch vhost; no anonymous MQTT logins.
mqtt.listeners.tcp.1 = 127.0.0.1:$MQTT_PORT
mqtt.vhost = fleetwatch
mqtt.exchange = amq.topic
mqtt.allow_anonymous = false
management.tcp.ip = 127.0.0.1
management.tcp.port = $API_PORT
event_exchange.vhost = fleetwatch
# Ten thousand simultaneous MQTT devices (bench/channels.py) need more than the default limits.
mqtt.tcp_listen_options.backlog = 4096
CONF
    # The cookie rabbitmqctl needs to talk to the node; private to this instance.
    if [[ ! -s "$DIR/.erlang.cookie" ]]; then
        local cookie; cookie=$(head -c 2048 /dev/urandom | tr -dc 'A-Z')
        (umask 077; printf '%s' "${cookie:0:32}" > "$DIR/.erlang.cookie")
    fi
    chmod 600 "$DIR/.erlang.cookie"
    [[ $(id -u) -ne 0 ]] || chown -R "$RUN_AS:" "$DIR"
}

# Our epmd on 127.0.0.1:$EPMD_PORT, in the foreground (no -daemon) so its pid is $!.
start_epmd() {
    local p; p=$(epmd_pid)
    if [[ -n "$p" ]] && epmd_up; then return 0; fi
    [[ -z "$p" ]] || stop_pid "$p"
    rm -f "$EPMD_PIDFILE"
    if epmd_up; then
        log "warning: an epmd not started by this script already serves 127.0.0.1:$EPMD_PORT;" \
            "using it (stop will leave it running)"
        return 0
    fi
    "${drop[@]}" setsid nohup epmd -port "$EPMD_PORT" -address 127.0.0.1 \
        </dev/null >>"$DIR/epmd.log" 2>&1 &
    echo $! > "$EPMD_PIDFILE"
    wait_until 10 epmd_up || { tail -n 20 "$DIR/epmd.log" >&2; die "epmd did not start"; }
}

# Healthy, or the process we launched has exited: whichever comes first.
up_or_exited() { healthy || ! kill -0 "$1" 2>/dev/null; }

show_logs() {
    [[ -s "$STARTLOG" ]] && tail -n 20 "$STARTLOG" >&2
    [[ -f "$LOGFILE" ]] && tail -c "+$(($1 + 1))" "$LOGFILE" | tail -n 40 >&2
    return 0
}

# Idempotent: a fresh node already has them (default_* in the config); this repairs a data
# directory whose vhost, user, password or permissions were changed or removed.
ensure_vhost_and_user() {
    local vhosts users
    vhosts=$(ctl list_vhosts name) || return 1
    grep -qx fleetwatch <<<"$vhosts" || ctl add_vhost fleetwatch >&2 || return 1
    users=$(ctl list_users) || return 1
    if cut -f1 <<<"$users" | grep -qx fleetwatch; then
        ctl authenticate_user fleetwatch fleetwatch >/dev/null 2>&1 \
            || ctl change_password fleetwatch fleetwatch >&2 || return 1
    else
        ctl add_user fleetwatch fleetwatch >&2 || return 1
    fi
    ctl set_permissions -p fleetwatch fleetwatch '.*' '.*' '.*' >&2
}

start() {
    [[ -x "$BIN/rabbitmq-server" ]] || install
    [[ -x "$BIN/rabbitmq-server" ]] || die "no $BIN/rabbitmq-server after installing rabbitmq-server"
    answering_already && return 0
    mkdir -p "$DIR"
    if [[ $(id -u) -eq 0 ]]; then
        id -u "$RUN_AS" >/dev/null 2>&1 || die "no user $RUN_AS (the rabbitmq-server package creates it)"
        chown "$RUN_AS:" "$DIR"
        # The broker runs unprivileged; its user must be able to reach the data directory.
        as_user "$RUN_AS" test -w "$DIR" \
            || die "user $RUN_AS cannot reach $DIR (a parent directory is not traversable)"
    fi
    set_drop
    write_config
    # Erlang wants a readable working directory; the caller's may not be one for $RUN_AS.
    cd "$DIR"
    start_epmd
    log "starting $NODE on 127.0.0.1:$PORT (epmd 127.0.0.1:$EPMD_PORT)"
    local t0=$SECONDS log_offset=0
    [[ -f "$LOGFILE" ]] && log_offset=$(stat -c %s "$LOGFILE")
    : > "$STARTLOG"
    # Not -detached: $! is then the launcher, a sh that waits on its beam.smp child (and stops it
    # on TERM), so a node that dies during boot is noticed at once. The node writes $PIDFILE
    # itself. setsid: its own session, so the caller's job control and terminal signals leave it
    # alone.
    "${drop[@]}" setsid nohup "$BIN/rabbitmq-server" </dev/null >>"$STARTLOG" 2>&1 &
    local launched=$!
    wait_until 90 up_or_exited "$launched" || true
    if ! healthy || ! ctl await_startup --timeout 30 >&2; then
        show_logs "$log_offset"
        stop_pid "$launched"
        local p; p=$(pid)
        [[ -z "$p" ]] || stop_pid "$p"
        stop_epmd
        rm -f "$PIDFILE"
        die "RabbitMQ did not become ready on 127.0.0.1:$PORT (log: $LOGFILE)"
    fi
    ensure_vhost_and_user || { show_logs "$log_offset"; die "creating vhost/user fleetwatch failed"; }
    log "ready in $((SECONDS - t0))s (pid $(pid))"
    echo "$URL"
}

stop_epmd() {
    local p; p=$(epmd_pid)
    if [[ -n "$p" ]]; then
        log "stopping epmd pid $p"
        stop_pid "$p"
    fi
    rm -f "$EPMD_PIDFILE"
}

stop() {
    # beam.smp shuts RabbitMQ down cleanly on SIGTERM; its launcher sh then exits too.
    stop_service "$(pid)" "$PIDFILE"
    stop_epmd
}

case "${1:-}" in
    mqtt-url) echo "$MQTT_URL" ;;
    api-url) echo "$API_URL" ;;
    *) service_main "$@" ;;
esac
