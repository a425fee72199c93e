"""Benchmark: weekly scoring of many customers, with reasons (called by bench/run.py).

``run_scoring_bench(n_customers)`` builds a synthetic scoring frame of that many customers (40
numeric features), trains a LightGBM model of production size on a sample (300 trees, depth 6,
31 leaves, isotonic calibration; one thread), then times:

- ``score_listed_s``: scores for everyone + TreeSHAP reasons for the listed customers only
  (``reasons_scope: listed``), the target being under 60 s at 100k on 2 cores;
- ``score_all_reasons_s``: the same with reasons for every customer (``reasons_scope: all``,
  the default, so scores.parquet carries reasons for analysts); ``reasons_all_extra_s`` is the
  cost of those reasons;
- ``files_s``: rendering and atomically writing the week folder.

Feature building is benchmarked separately (bench/features.py). Run: ``python bench/scoring.py
--customers 10000``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FAMILIES = ("product adoption", "service experience", "sentiment", "commercial")


def _frame(n: int, n_features: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    X = pd.DataFrame(
        rng.normal(size=(n, n_features)), columns=[f"f{i:02d}" for i in range(n_features)]
    )
    X.iloc[rng.random((n, n_features)) < 0.05] = np.nan  # some missing values, as in real data
    logit = -2.2 + X.iloc[:, :8].fillna(0).to_numpy() @ np.linspace(0.8, 0.1, 8)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def run_scoring_bench(
    n_customers: int = 100_000, n_features: int = 40, seed: int = 0, num_threads: int = 1
) -> dict[str, Any]:
    """Time weekly scoring of ``n_customers`` customers; returns the figures (seconds)."""
    import lightgbm as lgb

    from churn.modeling import Calibrator, ChurnModel
    from churn.outputs import WeekData, build_week_files, write_week_atomically
    from churn.scoring import account_details, at_risk_list, compare_with_previous, score_customers
    from churn.settings import ScoringSettings

    rng = np.random.default_rng(seed)
    X_train, y_train = _frame(20_000, n_features, rng)
    X_cal, y_cal = _frame(10_000, n_features, rng)
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "max_depth": 6,
        "min_child_samples": 50,
        "num_threads": num_threads,
        "verbose": -1,
        "seed": seed,
    }
    t = time.perf_counter()
    booster = lgb.train(params, lgb.Dataset(X_train, y_train), num_boost_round=300)
    train_s = time.perf_counter() - t
    names = list(X_train.columns)
    calibrator = Calibrator("isotonic").fit(booster.predict(X_cal), y_cal)
    model = ChurnModel(booster, calibrator, names, 90, {"model_version": "bench"})
    families = {f: FAMILIES[i % 4] for i, f in enumerate(names)}

    def render(name: str, row: Any, direction: int) -> str:
        value = row[name]
        return f"{name} is {value:.2f}" if value == value else f"No {name} on record"

    X, _ = _frame(n_customers, n_features, rng)
    as_of = pd.Timestamp("2025-06-02")
    ids = [f"C{i:07d}" for i in range(n_customers)]
    frame = pd.concat([pd.DataFrame({"customer_id": ids, "as_of": as_of}), X], axis=1)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"Company {i}" for i in range(n_customers)],
            "account_owner": [f"Owner {i % 40}" for i in range(n_customers)],
            "segment": "SMB",
            "plan": "Pro",
            "arr": rng.lognormal(10, 1, n_customers),
            "contract_end_date": as_of + pd.to_timedelta(rng.integers(1, 365, n_customers), "D"),
        }
    )
    accounts = account_details(customers, as_of)

    def timed(scope: str) -> tuple[float, pd.DataFrame, pd.DataFrame]:
        settings = ScoringSettings(reasons_scope=scope)
        t0 = time.perf_counter()
        scores, contrib, _ = score_customers(
            model,
            frame,
            accounts,
            settings,
            families=families,
            render=render,
            calibrate=calibrator.transform,
        )
        return time.perf_counter() - t0, scores, contrib

    t = time.perf_counter()
    model.predict_proba(X)
    predict_s = time.perf_counter() - t
    listed_s, scores, _ = timed("listed")
    all_s, scores_all, contrib = timed("all")

    t = time.perf_counter()
    listed = compare_with_previous(at_risk_list(scores_all), None, None)
    from churn.explain import global_drivers

    week = WeekData(
        as_of=as_of,
        horizon_days=90,
        at_risk=listed,
        scores=scores_all,
        excluded=pd.DataFrame(columns=["customer_id", "reason"]),
        active=n_customers,
        drivers=global_drivers(contrib),
        families=families,
        model={"name": "churn", "version": "bench"},
        data_hash="bench",
        drivers_n=len(contrib),
    )
    with tempfile.TemporaryDirectory() as tmp:
        files = build_week_files(week)
        write_week_atomically(files, Path(tmp) / "2025-06-02")
    files_s = time.perf_counter() - t

    return {
        "n_customers": n_customers,
        "n_features": n_features,
        "trees": booster.num_trees(),
        "num_threads": num_threads,
        "listed": int(scores["listed"].sum()),
        "train_s": round(train_s, 2),
        "predict_s": round(predict_s, 2),
        "score_listed_s": round(listed_s, 2),
        "score_all_reasons_s": round(all_s, 2),
        "reasons_all_extra_s": round(all_s - listed_s, 2),
        "reasons_per_1k_rows_s": round(1000 * (all_s - listed_s) / max(1, n_customers), 3),
        "files_s": round(files_s, 2),
        "target_listed_under_60s_at_100k": None
        if n_customers != 100_000
        else bool(listed_s + files_s < 60),
        "file_bytes": int(sum(len(b) for b in files.values())),
    }


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    result = run_scoring_bench(args.customers, num_threads=args.threads)
    print(json.dumps(result, indent=2))
