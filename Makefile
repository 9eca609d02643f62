# Boomerang: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := build/tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
PYTEST_ARGS ?=

.PHONY: help install test test-unit demo up down status topics clean

help:
	@echo "make demo     install, start the local stack and replay a real shop's history"
	@echo "make test     install and run every test (unit, integration, end to end)"
	@echo "make up/down  start/stop the local stack in the background (no replay)"
	@echo "make status   which parts of the stack are running"

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

# Installs Python deps from the lock file and fetches Kafka's jars from Maven Central (cached).
install: $(if $(shell command -v uv 2>/dev/null),,$(TOOLS)/bin/uv)
	scripts/ensure-system-deps.sh
	$(UV) sync --all-packages --frozen
	scripts/kafka.sh fetch

test: install
	$(UV) run pytest $(PYTEST_ARGS)

test-unit: install
	$(UV) run pytest -m "not integration and not e2e" $(PYTEST_ARGS)

demo: install
	$(UV) run boomerang-devstack demo

up: install
	$(UV) run boomerang-devstack up

down:
	$(UV) run boomerang-devstack down

status:
	$(UV) run boomerang-devstack status

clean: down
	rm -rf build
