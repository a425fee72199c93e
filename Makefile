# churn: `make help` lists the targets. Every target that needs the environment depends on
# `setup`, so on a fresh machine `make train` or `make test` alone is enough.

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.setup.stamp

DATA ?= data/raw/demo
DEMO := data/raw/demo
DEMO_CUSTOMERS ?= 3000
SEED ?= 7
CONFIG ?= configs/model.yaml
AS_OF ?=
WEEK_ARG := $(if $(AS_OF),--as-of $(AS_OF),)

# LightGBM and numpy spin-wait on idle cores; on 2-core machines that made training 30x slower
# when anything else ran (shared/STACK.md). Passive waiting costs nothing when the cores are free.
export OMP_WAIT_POLICY := passive
export PYTHONHASHSEED := 0

.PHONY: help setup data train tune score ui test test-fast lint format bench bench-real notebooks browser clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install churn with the dev extra (quick when nothing changed)

$(DEMO)/customers.csv: | $(STAMP)
	$(BIN)/churn simulate --customers $(DEMO_CUSTOMERS) --seed $(SEED) --out $(DEMO)

data: $(DEMO)/customers.csv ## Simulate the demo dataset into data/raw/demo/ (if absent)

train: setup $(if $(filter $(DEMO),$(DATA)),data,) ## Build the training set, train, evaluate, log to MLflow, register (DATA=... for another dataset)
	$(BIN)/churn train --data $(DATA) --config $(CONFIG)

tune: setup $(if $(filter $(DEMO),$(DATA)),data,) ## Tune LightGBM with Optuna on the out-of-time validation window
	$(BIN)/churn tune --data $(DATA) --config $(CONFIG)

score: setup $(if $(filter $(DEMO),$(DATA)),data,) ## Write the weekly at-risk list (AS_OF=YYYY-MM-DD, default: latest complete week)
	$(BIN)/churn score --data $(DATA) --config $(CONFIG) $(WEEK_ARG)

ui: setup ## Serve the MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///models/mlflow.db --host 127.0.0.1 --port 5000

browser: ## Install headless Chromium and its driver (Debian packages) for the page tests
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: setup browser ## Run the whole test suite (unit, leakage, model, notebooks, browser)
	$(BIN)/pytest

test-fast: setup ## Run the tests not marked slow
	$(BIN)/pytest -m "not slow"

lint: setup ## Check formatting and lint with ruff
	$(BIN)/ruff format --check src tests
	$(BIN)/ruff check src tests

format: setup ## Format and fix with ruff
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

bench: setup ## Benchmarks at 100k customers; writes bench/results.json
	$(PY) bench/run.py --out bench/results.json

bench-real: setup ## Real datasets against published results; writes bench/real_datasets.json
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/real_datasets.py --out bench/real_datasets.json

notebooks: setup data ## Execute the notebooks on the demo data and write HTML to notebooks/html/
	$(PY) -m churn.notebooks --data $(DEMO) --html notebooks/html

clean: ## Remove generated data, models and the environment
	rm -rf $(VENV) data/raw data/processed data/at_risk models/mlflow.db models/mlartifacts
