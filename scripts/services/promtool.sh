#!/usr/bin/env bash
# promtool (Prometheus' own checker) for tests/protocols/test_prometheus_promtool.py, installed when
# absent into a cache OUTSIDE the repository: scripts/services/promtool.sh prints its path last.
#
# From Debian's `prometheus` package, unpacked (`apt-get download` + `dpkg-deb -x`), not installed:
# no Prometheus server is set up or started, only the static promtool binary is kept. Building it
# with `go install github.com/prometheus/prometheus/cmd/promtool@…` instead was tried: its module
# graph (cloud SDKs for service discovery) had not finished downloading after 15 minutes on this
# machine, too slow for CI; the .deb is 19 MB and unpacks in seconds.
#
# Cache: ${FLEETWATCH_PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetwatch/promtool}.
set -euo pipefail
SERVICE_NAME=promtool
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE="${FLEETWATCH_PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetwatch/promtool}"
BIN="$CACHE/root/usr/bin/promtool"

if [[ ! -x "$BIN" ]]; then
    mkdir -p "$CACHE"
    rm -rf "$CACHE/root" "$CACHE"/prometheus_*.deb
    log "apt-get download prometheus (unpacked for its promtool, not installed)"
    # apt-get download writes into the current directory; the index may be missing on a fresh machine.
    (cd "$CACHE" && { apt_get download prometheus || { apt_get update -q && apt_get download prometheus; }; }) \
        || die "apt-get download prometheus failed"
    dpkg-deb -x "$CACHE"/prometheus_*.deb "$CACHE/root" || die "dpkg-deb -x failed"
    rm -f "$CACHE"/prometheus_*.deb
    [[ -x "$BIN" ]] || die "the prometheus package has no usr/bin/promtool"
fi
"$BIN" --version >&2
echo "$BIN"
