#!/usr/bin/env bash
# Debian's nginx for the check of deploy/nginx/fleetwatch.conf: scripts/deploy/nginx.sh
# Installs the package when /usr/sbin/nginx is absent (through lib.sh's apt_install, which waits
# for apt's locks), without letting the package start a system-wide nginx on port 80 (as root,
# a policy-rc.d forbids it while installing; one started anyway is stopped). Prints the binary.
set -euo pipefail
SERVICE_NAME=nginx
source "$(dirname "${BASH_SOURCE[0]}")/../services/lib.sh"
BIN=/usr/sbin/nginx
if [[ ! -x "$BIN" ]]; then
    t0=$SECONDS made_policy="" ok=0
    if [[ $(id -u) -eq 0 && ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt_install nginx || ok=$?
    [[ -z "$made_policy" ]] || rm -f /usr/sbin/policy-rc.d
    (( ok == 0 )) || die "apt-get install nginx failed"
    [[ -x "$BIN" ]] || die "the nginx package installed no $BIN"
    if [[ -s /run/nginx.pid ]] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
        log "the package started a system-wide nginx; stopping it"
        stop_pid "$(cat /run/nginx.pid)" QUIT
    fi
    log "installed in $((SECONDS - t0))s"
fi
echo "$BIN"
