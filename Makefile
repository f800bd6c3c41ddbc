# The two commands: `make run` (the server, on the embedded database unless MONGODB_URI is set)
# and `make test`. Both create the virtualenv and install what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast bench lint format install install-dev browser-deps nginx-deps static clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# socket.io-client for the demo page comes from npm (package-lock.json pins it), and so does
# axe-core, the accessibility audit the browser tests inject into the page (a devDependency).
# npm ci writes node_modules/.package-lock.json: a new lock file installs again.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

static/vendor/socket.io.min.js: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js static/vendor/socket.io.min.js

static: static/vendor/socket.io.min.js

run: $(VENV)/.installed static
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev static browser-deps nginx-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit loop: services, selectors, serializers, in-process API tests; no server process,
# browser, Redis, fault drill or contract run (those are marked; `make test` runs everything).
FAST_MARKERS := not live and not browser and not faults and not redis and not contract
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# Debian's nginx for the test of the shipped configuration (deploy/nginx/). Installing the
# package would start a system nginx on port 80 (and fail where that port is taken): a
# policy-rc.d that refuses (what container images have) keeps it from starting, and where
# systemd runs, the service is disabled. Only the binary is used, by the tests, as this user.
nginx-deps:
	@PATH="$$PATH:/usr/sbin:/sbin"; command -v nginx >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  POLICY=/usr/sbin/policy-rc.d; ADDED=; \
	  if [ ! -e $$POLICY ]; then \
	    printf '#!/bin/sh\nexit 101\n' | $$SUDO tee $$POLICY >/dev/null && $$SUDO chmod 755 $$POLICY && ADDED=1; \
	  fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nginx >/dev/null; STATUS=$$?; \
	  if [ -n "$$ADDED" ]; then $$SUDO rm -f $$POLICY; fi; \
	  if [ -d /run/systemd/system ]; then $$SUDO systemctl disable --now --quiet nginx; fi; \
	  exit $$STATUS; }

# The benchmark suite (not a test): writes docs/benchmarks.md and docs/benchmarks-latency.png.
# BENCH_ARGS=--quick for the ~30 min run; see bench/README.md.
bench: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules static/vendor test-artifacts
