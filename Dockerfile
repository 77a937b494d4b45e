# Fleetwatch's container image: one image for every process (web, worker, consumer), the role
# chosen by the command (see deploy/container/entrypoint.sh and docs/deploy-containers.md).
#
# Two stages: "build" makes a virtual environment with Fleetwatch and every backend's client;
# the final stage copies that environment alone onto a fresh base: no compiler, no pip, no
# setuptools, no source tree. BASE_IMAGE is the official Python 3.11 image (the project's
# Python); tests/deploy/ builds the same file on a stand-in made from Debian's packages, because
# Docker Hub cannot be reached there (docs/deploy-containers.md says why and how).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Optional: a CA bundle for pip behind a TLS-intercepting proxy (a path inside the build, e.g.
# lent by `podman build --volume`); a build argument, so it never stays in the image.
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/fleetwatch
WORKDIR /src
# The dependencies first, from pyproject.toml alone (with a placeholder package), so that this
# layer is rebuilt only when the dependencies change, not at every change of the code.
COPY pyproject.toml ./
RUN mkdir -p src/fleetwatch \
    && touch README.md src/fleetwatch/__init__.py \
    && /opt/fleetwatch/bin/pip install '.[postgres,influxdb,influxdb2,elasticsearch]' \
    && /opt/fleetwatch/bin/pip uninstall --yes fleetwatch \
    && rm -rf src README.md build
COPY README.md ./
COPY src ./src
# The package itself (no dependency resolution: they are all there), then pip, setuptools and
# wheel leave the environment: the final image installs nothing.
RUN /opt/fleetwatch/bin/pip install --no-deps . \
    && /opt/fleetwatch/bin/python -m compileall -q /opt/fleetwatch/lib \
    && /opt/fleetwatch/bin/pip uninstall --yes pip setuptools wheel

FROM ${BASE_IMAGE}
# fping: the ping check (the worker runs it). Debian's version of the base's release; pinning an
# exact version would break the build at the next security update of the distribution. The
# base's own pip and setuptools (the official image has them) go: nothing installs at run time.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fping \
    && rm -rf /var/lib/apt/lists/* \
    && if python3 -m pip --version >/dev/null 2>&1; then \
        python3 -m pip uninstall --yes --disable-pip-version-check pip setuptools wheel; fi \
    && groupadd --gid 10001 fleetwatch \
    && useradd --no-log-init --uid 10001 --gid fleetwatch --home-dir /var/lib/fleetwatch \
        --create-home --shell /usr/sbin/nologin fleetwatch
COPY --from=build /opt/fleetwatch /opt/fleetwatch
COPY deploy/container/entrypoint.sh /usr/local/bin/fleetwatch-entrypoint
COPY deploy/container/healthcheck.py /usr/local/bin/fleetwatch-healthcheck
ENV PATH=/opt/fleetwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FLEETWATCH_DATA_DIR=/var/lib/fleetwatch \
    FLEETWATCH_BIND=0.0.0.0:8000
# Numeric, so that a runtime can tell it is not root without reading /etc/passwd (runAsNonRoot).
USER 10001:10001
WORKDIR /var/lib/fleetwatch
EXPOSE 8000
# GET /api/v1/health/ on the web process: 200 when Fleetwatch answers and reaches its store.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["fleetwatch-healthcheck"]
ENTRYPOINT ["fleetwatch-entrypoint"]
CMD ["web"]
