#!/usr/bin/env bash
# Prepares the OpenWISP Monitoring 1.3 test harness (idempotent): scripts/openwisp/setup.sh
#   - Debian packages the shipped test suite needs (SpatiaLite, GDAL, fping, venv);
#   - a virtual environment at .services/openwisp/venv made from Debian's /usr/bin/python3, whose
#     sqlite3 module can load extensions (SpatiaLite needs that; the image's default Python cannot);
#   - openwisp-monitoring 1.3 with the extra packages its tests import, and Fleetwatch itself
#     (editable, from this repository) so that TIMESERIES_DATABASE can point at fleetwatch.openwisp.
# The servers (Redis, InfluxDB, ...) are started by scripts/openwisp/run.sh, not here.
# A stamp records what was installed; a later run with the same requirements and pyproject.toml
# only checks the Debian packages and the venv. FLEETWATCH_OPENWISP_REINSTALL=1 forces pip.
set -euo pipefail
SERVICE_NAME=openwisp-setup
source "$(dirname "${BASH_SOURCE[0]}")/../services/lib.sh"

BASE="$SERVICES_DIR/openwisp"
VENV="$BASE/venv"
PY=/usr/bin/python3
STAMP="$VENV/.fleetwatch-openwisp-stamp"

DEBIAN_PACKAGES=(python3-venv libsqlite3-mod-spatialite libgdal32 fping)
REQUIREMENTS=(
    "openwisp-monitoring==1.3"
    # the test project's cache and session backend (Redis)
    "django-redis>=5.4,<8"
    # imported by the shipped tests
    "freezegun>=1.5,<2"
    "mock-ssh-server>=0.9.1,<0.10"
    # test_selenium.py and openwisp_utils' selenium helpers are imported at discovery even though
    # the selenium_tests tag is excluded (no browser is driven)
    "selenium>=4.10,<5"
)

# Debian packages: install only those not yet installed.
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$package")
done
if (( ${#missing[@]} )); then
    apt_install "${missing[@]}" || die "apt-get install ${missing[*]} failed"
fi
[[ -x "$PY" ]] || die "no $PY (Debian's python3)"

# The venv, made from Debian's interpreter (recreated if it was made from another one).
if [[ -x "$VENV/bin/python" ]] \
    && ! grep -qx "home = $(dirname "$PY")" "$VENV/pyvenv.cfg" 2>/dev/null; then
    log "$VENV was not made from $PY; recreating it"
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV from $PY ($("$PY" --version))"
    mkdir -p "$BASE"
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" - <<'PY' || die "the venv's sqlite3 cannot load SpatiaLite"
import sqlite3
con = sqlite3.connect(":memory:")
con.enable_load_extension(True)
con.load_extension("mod_spatialite")
PY

# pip: only when the requirements or Fleetwatch's pyproject.toml changed since the last install.
want=$(
    printf '%s\n' "${REQUIREMENTS[@]}"
    sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1
)
if [[ "${FLEETWATCH_OPENWISP_REINSTALL:-0}" == 1 || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    t0=$SECONDS
    log "installing ${REQUIREMENTS[*]} and Fleetwatch (editable, $ROOT)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # One resolution for both, so Django satisfies OpenWISP and Fleetwatch alike.
    "$VENV/bin/python" -m pip install --quiet "${REQUIREMENTS[@]}" \
        -e "$ROOT[postgres,influxdb,influxdb2,elasticsearch,openwisp]" >&2
    "$VENV/bin/python" -m pip check >&2 || die "pip check found broken requirements"
    echo "$want" > "$STAMP"
    log "installed in $((SECONDS - t0))s"
fi

"$VENV/bin/python" - <<'PY' >&2
import django, influxdb, openwisp_monitoring
import fleetwatch
print(f"[openwisp-setup] ready: Django {django.get_version()}, openwisp-monitoring "
      f"{openwisp_monitoring.get_version()}, influxdb client {influxdb.__version__}, "
      f"fleetwatch from {fleetwatch.__path__[0]}")
PY
