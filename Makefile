# churn: `make help` lists the targets. Every target that needs the environment depends on
# `setup`, so on a fresh machine `make train` or `make test` alone is enough.

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.setup.stamp
LOCK := requirements.lock

DATA ?= data/raw/demo
DEMO := data/raw/demo
DEMO_CUSTOMERS ?= 3000
SEED ?= 7
CONFIG ?= configs/model.yaml
AS_OF ?=
WEEK_ARG := $(if $(AS_OF),--as-of $(AS_OF),)
# The demo is simulated: its ground truth gives every metric an oracle beside it. Passed in
# explicitly; a user's dataset has no oracle.
ORACLE_ARG := $(if $(filter $(DEMO),$(DATA)),--oracle $(DEMO)/ground_truth,)
# What the demo folder was simulated with; a different DEMO_CUSTOMERS or SEED simulates it anew.
DEMO_PARAMS := customers=$(DEMO_CUSTOMERS) seed=$(SEED)
DEMO_STAMP := data/raw/.demo-params

# LightGBM and numpy spin-wait on idle cores; on 2-core machines that made training 30x slower
# when anything else ran (shared/STACK.md). Passive waiting costs nothing when the cores are free.
export OMP_WAIT_POLICY := passive
export PYTHONHASHSEED := 0

.PHONY: help setup lock data train tune score monitor monitor-replay refit-policy ui test test-fast test-spark lint format bench bench-real bench-uplift notebooks browser clean clean-all

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The environment installs from the lock file: the exact versions the tests passed with, so a
# fresh machine next month resolves the same ones. `make lock` re-resolves it after a change to
# pyproject.toml's dependencies.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install churn and the dev tools from requirements.lock

lock: ## Re-resolve requirements.lock from pyproject.toml (uv; keeps current pins where it can)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-header --quiet -o $(LOCK)
	@echo "wrote $(LOCK); run make setup to install it"

data: | $(STAMP) ## Simulate the demo dataset into data/raw/demo/ (again if DEMO_CUSTOMERS or SEED changed)
	@if [ -f $(DEMO)/customers.csv ] && [ "$$(cat $(DEMO_STAMP) 2>/dev/null)" = "$(DEMO_PARAMS)" ]; then \
	  echo "demo data: $(DEMO) ($(DEMO_PARAMS))"; \
	else \
	  echo "simulating the demo ($(DEMO_PARAMS)) into $(DEMO)"; \
	  rm -f $(DEMO_STAMP); \
	  $(BIN)/churn simulate --customers $(DEMO_CUSTOMERS) --seed $(SEED) --out $(DEMO) && \
	  echo "$(DEMO_PARAMS)" > $(DEMO_STAMP); \
	fi

train: setup $(if $(filter $(DEMO),$(DATA)),data,) ## Build the training set, train, evaluate, log to MLflow, register (DATA=... for another dataset)
	$(BIN)/churn train --data $(DATA) --config $(CONFIG) $(ORACLE_ARG)

tune: setup $(if $(filter $(DEMO),$(DATA)),data,) ## Tune LightGBM with Optuna on the out-of-time validation window
	$(BIN)/churn tune --data $(DATA) --config $(CONFIG)

score: setup $(if $(filter $(DEMO),$(DATA)),data,) ## Write the weekly at-risk list (AS_OF=YYYY-MM-DD, default: latest complete week)
	$(BIN)/churn score --data $(DATA) --config $(CONFIG) $(WEEK_ARG)

monitor: setup $(if $(filter $(DEMO),$(DATA)),data,) ## Look back at the week folders: realised vs expected quality, drift, retrain? (data/monitoring/)
	$(BIN)/churn monitor --data $(DATA) --config $(CONFIG)

monitor-replay: setup data ## Train on the demo cut at 2025-07-14, score the 12 weeks after it, monitor them: estimate beside realised (data/monitor-replay/)
	$(PY) bench/monitor_replay.py --data $(DEMO) --config $(CONFIG) --work data/monitor-replay

refit-policy: setup data ## Replay weeks on the demo: validated model vs refits (ROC AUC, precision@K, calibration with intervals); writes bench/refit_policy.json
	$(PY) bench/refit_policy.py --data $(DEMO) --config $(CONFIG) --out bench/refit_policy.json

ui: setup ## Serve the MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///models/mlflow.db --host 127.0.0.1 --port 5000

browser: ## Install headless Chromium and its driver (Debian packages) for the page tests
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: setup browser ## Run the whole test suite (unit, leakage, model, notebooks, browser)
	$(BIN)/pytest

test-fast: setup ## Run the tests not marked slow
	$(BIN)/pytest -m "not slow"

# PySpark is a 434 MB source archive, so it is not in requirements.lock: this target adds the
# spark extra to .venv. Without it (or without Java) tests/spark is skipped by `make test`.
test-spark: setup ## Features and scoring on local Spark against DuckDB (installs the spark extra: PySpark 4.0; needs Java 17)
	$(PY) -m pip install --quiet -e '.[spark]'
	$(BIN)/pytest tests/spark -m spark

lint: setup ## Check formatting and lint with ruff
	$(BIN)/ruff format --check src tests
	$(BIN)/ruff check src tests

format: setup ## Format and fix with ruff
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

BENCH_SIZES ?= 10000,100000
bench: setup ## Pipeline step by step (time, peak RSS) at 10k and 100k customers, beside a SQL peer and the floor; BENCH_1M=1 adds 1M; writes bench/results.json
	BENCH_SIZES=$(BENCH_SIZES) BENCH_1M=$(BENCH_1M) $(PY) bench/run.py --out bench/results.json

bench-uplift: setup ## Rank by risk or by uplift? Both against the simulator's true effects (3 bases of 20k customers, ~10 min); writes bench/uplift.json and docs/images/uplift-qini.png
	$(PY) bench/uplift.py --out bench/uplift.json --png docs/images/uplift-qini.png

bench-real: setup ## Real datasets vs every baseline of the run and published results (CDNOW: churn train's fixed-as_of protocol, BG/NBD from the bench extra); writes bench/real_datasets.json
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/real_datasets.py --out bench/real_datasets.json

notebooks: setup data ## Execute the notebooks on the demo data and write HTML to notebooks/html/
	$(PY) -m churn.notebooks --data $(DEMO) --html notebooks/html

clean: ## Remove generated data and the environment; keeps the MLflow history in models/
	rm -rf $(VENV) data/raw data/processed data/at_risk
	@if [ -e models/mlflow.db ]; then echo "kept models/mlflow.db and models/mlartifacts (MLflow runs and the registry): make clean-all removes them"; fi

clean-all: clean ## Also delete the MLflow history: every run, registered model and champion in models/
	@echo "deleting the MLflow history: models/mlflow.db and models/mlartifacts"
	rm -rf models/mlflow.db models/mlartifacts
