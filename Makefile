# Boomerang: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := build/tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
PYTEST_ARGS ?=

.PHONY: help install test test-unit bench bench-ingest bench-segmenter bench-messenger demo up down status topics clean

help:
	@echo "make demo     install, start the local stack and replay a real shop's history"
	@echo "make test     install and run every test (unit, integration, end to end)"
	@echo "make up/down  start/stop the local stack in the background (no replay)"
	@echo "make bench    install and run the benchmarks (build/bench/*.json)"
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

# Benchmarks report figures against limits measured in the same run; a missed target is
# reported, not a failure. BENCH_ARGS e.g. "--profile" (py-spy on ingest) or "--events 50000".
BENCH_ARGS ?=

bench: bench-ingest bench-segmenter bench-messenger

bench-ingest: install
	$(UV) run boomerang-bench ingest $(BENCH_ARGS)

# SEGMENTER_BENCH_ARGS e.g. "--customers 20000 --profile" (py-spy on the worker).
SEGMENTER_BENCH_ARGS ?=

bench-segmenter: install
	$(UV) run boomerang-bench segmenter $(SEGMENTER_BENCH_ARGS)

# MESSENGER_BENCH_ARGS e.g. "--orders 5000 --reliability-events 2000".
MESSENGER_BENCH_ARGS ?=

bench-messenger: install
	$(UV) run boomerang-bench messenger $(MESSENGER_BENCH_ARGS)

# HISTORY=first300 (the default: 300 customers, 1,046 orders, about two minutes) | sample
# (CDNOW's 1/10 sample, 2,357 customers) | full (23,570); the larger ones take as long as the
# messenger needs to send a receipt for every order (see README).
HISTORY ?= first300
demo: install
	$(UV) run boomerang-devstack demo --history $(HISTORY)

up: install
	$(UV) run boomerang-devstack up

down:
	$(UV) run boomerang-devstack down

status:
	$(UV) run boomerang-devstack status

clean: down
	rm -rf build

# Accuracy of the segmenter's scoring models on the CDNOW cohort (writes build/eval/):
#   make eval CAL_END=1997-09-30 HOLDOUT_END=1998-06-30   (the defaults)
CAL_END ?= 1997-09-30
HOLDOUT_END ?= 1998-06-30
.PHONY: eval
eval: install
	$(UV) run python -m boomerang.eval.cdnow --cal-end $(CAL_END) --holdout-end $(HOLDOUT_END)
