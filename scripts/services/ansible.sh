#!/usr/bin/env bash
# Ansible for the role's test (tests/deploy/test_ansible.py): scripts/services/ansible.sh bin-dir
# A virtualenv of its own under .services/ansible with pinned ansible-core and ansible-lint from
# PyPI (not the project's .venv: ansible-lint brings black, yamllint and their pins, which the
# project's dev tools need not share). Installed once, then reused while this file is unchanged
# (the stamp holds the pins). Prints the venv's bin directory last.
set -euo pipefail
SERVICE_NAME=ansible
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ansible-core 2.19 is the last line whose controller runs on Python 3.11.
PINS=(ansible-core==2.19.14 ansible-lint==26.10.1)
DIR="$SERVICES_DIR/ansible"
VENV="$DIR/venv"
STAMP="$VENV/.installed-stamp"

install() {
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "${PINS[*]}" ]]; then
        echo "$VENV/bin"; return 0
    fi
    local python=${ANSIBLE_VENV_PYTHON:-python3}
    command -v "$python" >/dev/null || die "no $python to make the Ansible virtualenv with"
    log "installing ${PINS[*]} into $VENV"
    rm -rf "$VENV"
    mkdir -p "$DIR"
    "$python" -m venv "$VENV" || die "python3 -m venv failed"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" >&2 \
        || die "pip install ${PINS[*]} failed"
    echo "${PINS[*]}" > "$STAMP"
    echo "$VENV/bin"
}

case "${1:-}" in
    bin-dir) install ;;
    *) echo "usage: $0 bin-dir" >&2; exit 2 ;;
esac
