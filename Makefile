# The two commands of the README. Both set up .venv from requirements.lock first (idempotent).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

DEMO_DATA ?= data/sample
DEMO_OUTPUT ?= build/demo
RUNNER ?= local

.PHONY: setup demo test serve clean

setup:
	@bash scripts/setup_env.sh

demo: setup
	$(PY) -m pipeline run --runner $(RUNNER) --data $(DEMO_DATA) --output $(DEMO_OUTPUT)

test: setup
	$(PY) -m pytest -q --durations=15 tests

serve: setup
	$(PY) -m serving --model-base-path $(DEMO_OUTPUT)/serving/search_ranker --port 8501

clean:
	rm -rf build
