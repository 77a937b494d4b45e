#!/usr/bin/env bash
# Debian tools Fleetwatch runs (not servers): scripts/services/tools.sh <package>...
# e.g. fping for the ping check, openssh-server and iperf3 for the iperf3 check's tests.
# Installed only when absent.
set -euo pipefail
SERVICE_NAME=tools
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
(( $# )) || die "usage: $0 <package>..."
apt_install "$@"
