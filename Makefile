# The two commands of the README: `make run` (embedded default) and `make test` (everything).
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format bench venv clean

venv: $(STAMP)

# The server, then the host agent (agent/, its own package: `fleetwatch-agent`, for the demo and tests).
$(STAMP): pyproject.toml agent/pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev,postgres,influxdb,influxdb2,elasticsearch,backups]'
	$(VENV)/bin/pip install --quiet -e './agent[mqtt,amqp]'
	touch $(STAMP)

## Serve Fleetwatch on http://127.0.0.1:8000 with SQLite only (no other server), with a demo
## organization, a printed login and a simulated fleet reporting through the agent endpoint.
run: venv
	@command -v fping >/dev/null || bash scripts/services/tools.sh fping || echo "fping unavailable: ping checks are skipped"
	$(VENV)/bin/fleetwatch serve --demo

## Start the servers the suite needs, run ruff and the whole pytest suite, stop the servers.
test: venv
	bash scripts/test.sh

## OpenWISP Monitoring 1.3's own test suite (browser tests excluded): its InfluxDB client (the
## baseline), then Fleetwatch's adapter on every backend. Narrow with OPENWISP_TSDB="fleetwatch-sqlite …".
OPENWISP_TSDB ?= influxdb fleetwatch-sqlite fleetwatch-postgresql fleetwatch-influxdb fleetwatch-influxdb2 fleetwatch-elasticsearch
.PHONY: test-openwisp bench-openwisp
test-openwisp:
	bash scripts/openwisp/setup.sh && bash scripts/openwisp/run.sh $(OPENWISP_TSDB)

## The peer benchmark: OpenWISP's InfluxDB client against the adapter, side by side.
bench-openwisp:
	bash scripts/openwisp/setup.sh && bash scripts/openwisp/bench.sh

lint: venv
	$(VENV)/bin/ruff check src tests bench agent
	$(VENV)/bin/ruff format --check src tests bench agent

format: venv
	$(VENV)/bin/ruff format src tests bench agent
	$(VENV)/bin/ruff check --fix src tests bench agent

bench: venv
	bash scripts/bench.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
