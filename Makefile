# The two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WEB_PORT ?= 8000
CHAIN_PORT ?= 8545
export DEBUG ?= true
export CHAIN_RPC_URL ?= http://127.0.0.1:$(CHAIN_PORT)
# The local demo chain's operator: anvil's published development key #0. It is public (anvil
# prints it at start); never use it on a real network. Set CHAIN_OPERATOR_KEY(_FILE) there.
export CHAIN_OPERATOR_KEY ?= 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80

.PHONY: run test lint bench contracts contracts-check vendor setup deps-python deps-node migrate demo clean help

help:
	@echo "make run    set up and run the portal (web, worker, beat, anvil) on embedded defaults"
	@echo "make test   set up and run lint and the whole test suite"
	@echo "make bench  run the benchmarks (prints JSON lines)"

# Installs show pip's and npm's own progress (a first run downloads a few hundred MB); once the
# stamp files exist, later runs skip them, so `make test` stays quiet.
$(BIN)/python:
	@echo "==> Creating $(VENV) and upgrading pip"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	@echo "==> Installing Python packages (the first time takes a few minutes)"
	$(BIN)/pip install --progress-bar on -r requirements-dev.txt
	$(BIN)/pip check
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> Installing Node packages (anvil, solc, OpenZeppelin, Chart.js, htmx)"
	npm ci --no-audit --no-fund
	touch $@

deps-python: $(VENV)/.installed
deps-node: node_modules/.installed
setup: deps-python deps-node

migrate: setup
	$(BIN)/python manage.py migrate --noinput

# The demo's organizations, staff and models; their chain part (offers published on the local
# anvil, a few purchases) runs in the Procfile's web process, once anvil is up and deployed.
demo: migrate
	$(BIN)/python manage.py demo --no-chain

run: demo
	@echo ""
	@echo "  Portal:     http://127.0.0.1:$(WEB_PORT)/"
	@echo "  Admin:      http://127.0.0.1:$(WEB_PORT)/admin/"
	@echo "  API docs:   http://127.0.0.1:$(WEB_PORT)/api/docs"
	@echo "  Health:     http://127.0.0.1:$(WEB_PORT)/healthz"
	@echo "  Chain RPC:  $(CHAIN_RPC_URL) (anvil)"
	@echo ""
	WEB_PORT=$(WEB_PORT) CHAIN_PORT=$(CHAIN_PORT) $(BIN)/honcho start -f Procfile

lint: deps-python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

# Solidity: compile chain/contracts with the pinned npm solc into chain/artifacts (committed);
# the check recompiles into a temporary directory and fails when the artifacts differ.
contracts: deps-node
	node chain/compile.mjs

contracts-check: deps-node
	node chain/compile.mjs --check

# Browser libraries are vendored into static/ (committed; no build step, no CDN): copied from
# the pinned npm packages. A test fails when the committed copy differs from node_modules'.
CHARTJS := static/vendor/chart.js
HTMX := static/vendor/htmx
# axe-core is for the browser tests only: it lives with them, never in static/.
AXE := portal/tests/vendor/axe-core
vendor: deps-node
	mkdir -p $(CHARTJS)
	cp node_modules/chart.js/dist/chart.umd.min.js $(CHARTJS)/chart.umd.min.js
	cp node_modules/chart.js/dist/chart.umd.min.js.map $(CHARTJS)/chart.umd.min.js.map
	cp node_modules/chart.js/LICENSE.md $(CHARTJS)/LICENSE.md
	cp node_modules/@kurkle/color/LICENSE.md $(CHARTJS)/LICENSE-kurkle-color.md
	mkdir -p $(HTMX)
	cp node_modules/htmx.org/dist/htmx.min.js $(HTMX)/htmx.min.js
	cp node_modules/htmx.org/LICENSE $(HTMX)/LICENSE
	mkdir -p $(AXE)
	cp node_modules/axe-core/axe.min.js $(AXE)/axe.min.js
	cp node_modules/axe-core/LICENSE $(AXE)/LICENSE

clean:
	rm -rf var/broker var/test-portal-*.sqlite3*
