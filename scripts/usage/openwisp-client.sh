#!/usr/bin/env bash
# A virtual environment with openwisp-utils from PyPI, the real client of the usage collector's
# acceptance test (tests/usage/test_openwisp_client.py): scripts/usage/openwisp-client.sh
#   - .services/usage-openwisp/venv, made from $PYTHON (default python3: the machine's Python);
#   - openwisp-utils with its metric collection (Consent Withdrawn arrived in 1.2) and what that
#     app imports without declaring it (Django, requests), nothing of Fleetwatch's.
# Idempotent: a stamp records what was installed; a later run with the same requirements and
# the same interpreter does nothing. FLEETWATCH_OPENWISP_CLIENT_REINSTALL=1 forces pip.
# Prints the venv's python last (the test runs it).
set -euo pipefail
SERVICE_NAME=usage-openwisp
source "$(dirname "${BASH_SOURCE[0]}")/../services/lib.sh"

VENV="$SERVICES_DIR/usage-openwisp/venv"
PY="${PYTHON:-python3}"
STAMP="$VENV/.fleetwatch-usage-openwisp-stamp"

REQUIREMENTS=(
    # the send task is a Celery shared task: the [celery] extra brings Celery
    "openwisp-utils[celery]>=1.3.1,<1.4"
    # imported by openwisp_utils (utils.py, the models) but not among its requirements
    "Django>=4.2,<6"
    "requests>=2.31,<3"
    "packaging>=23"
)

command -v "$PY" >/dev/null || die "no Python interpreter '$PY' (set PYTHON)"
# The venv is remade when it no longer runs (e.g. its interpreter was removed).
if [[ -e "$VENV" ]] && ! "$VENV/bin/python" -c "" 2>/dev/null; then
    log "$VENV does not run; recreating it"
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV from $PY ($("$PY" --version 2>&1))"
    mkdir -p "$(dirname "$VENV")"
    "$PY" -m venv "$VENV"
fi

want=$(
    printf '%s\n' "${REQUIREMENTS[@]}"
    "$VENV/bin/python" --version
)
if [[ "${FLEETWATCH_OPENWISP_CLIENT_REINSTALL:-0}" == 1 || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    t0=$SECONDS
    log "installing ${REQUIREMENTS[*]}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}" >&2 \
        || die "pip install ${REQUIREMENTS[*]} failed"
    "$VENV/bin/python" -m pip check --disable-pip-version-check >&2 || die "pip check found broken requirements"
    echo "$want" > "$STAMP"
    log "installed in $((SECONDS - t0))s"
fi

"$VENV/bin/python" - <<'PY' >&2 || die "openwisp_utils.metric_collection cannot be imported from $VENV"
import importlib.metadata as metadata
import openwisp_utils.metric_collection  # noqa: F401
print(f"[usage-openwisp] ready: openwisp-utils {metadata.version('openwisp-utils')}, "
      f"Django {metadata.version('Django')}, Celery {metadata.version('celery')}")
PY
echo "$VENV/bin/python"
