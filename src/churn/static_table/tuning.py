"""LightGBM settings for a static table, chosen inside the training rows only.

A small Optuna study (TPE, seeded) scores each candidate by its mean ROC AUC over stratified
*inner* folds of the training rows, each with its own early stopping inside the fold's training
part. The first two candidates are fixed: ``STATIC_LIGHTGBM`` (shallow and regularised) and plain
LightGBM defaults (31 leaves, learning rate 0.1), so the chosen settings are never worse than
either on the inner folds. Held-out rows and cross-validation test folds are never seen: the
caller passes the training rows alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn._progress import progress_bar
from churn.static_table.core import StaticDataset, fit_lightgbm

log = logging.getLogger(__name__)

#: Plain LightGBM defaults, written out (as overrides of STATIC_LIGHTGBM).
LIGHTGBM_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.1,
    "num_leaves": 31,
    "max_depth": -1,
    "min_child_samples": 20,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l2": 0.0,
    "max_cat_to_onehot": 4,
}


@dataclass(frozen=True)
class StaticTuning:
    """The chosen settings and every trial (``trials``: number, inner ROC AUC, params)."""

    params: dict[str, Any]
    inner_roc_auc: float
    trials: pd.DataFrame
    protocol: str


def _candidate(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 3, 48, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 50.0, log=True),
    }


def inner_auc(
    data: StaticDataset, params: dict[str, Any], *, folds: int, seed: int, num_threads: int
) -> float:
    """Mean ROC AUC of ``params`` over stratified inner folds of ``data`` (training rows)."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    X, y = data.features, data.label
    aucs = []
    for i, (fit_i, val_i) in enumerate(
        StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    ):
        booster = fit_lightgbm(
            X.iloc[fit_i], y[fit_i], params=params, seed=seed + i, num_threads=num_threads
        )
        aucs.append(roc_auc_score(y[val_i], booster.predict(X.iloc[val_i])))
    return float(np.mean(aucs))


def tune_static(
    data: StaticDataset,
    *,
    trials: int = 20,
    folds: int = 3,
    seed: int = 42,
    num_threads: int = 1,
    progress: bool = False,
) -> StaticTuning:
    """Choose LightGBM overrides of ``STATIC_LIGHTGBM`` on inner folds of ``data`` (module doc).

    ``trials`` counts the two fixed candidates (1: the project's settings alone, scored); the
    rest are Optuna's. Ties go to the earlier candidate (the project's settings first).
    """
    import optuna

    score = {"folds": folds, "seed": seed, "num_threads": num_threads}
    candidates: list[dict[str, Any]] = [{}, dict(LIGHTGBM_DEFAULTS)][: max(trials, 1)]
    rows = []
    with progress_bar(f"{data.name}: choosing LightGBM settings", max(trials, 1), progress) as bar:
        for params in candidates:
            rows.append({"inner_roc_auc": inner_auc(data, params, **score), **params})
            bar.advance()

        def objective(trial: Any) -> float:
            params = _candidate(trial)
            value = inner_auc(data, params, **score)
            rows.append({"inner_roc_auc": value, **params})
            candidates.append(params)
            bar.advance()
            return value

        if trials > 2:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            sampler = optuna.samplers.TPESampler(seed=seed)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(objective, n_trials=trials - 2)
    table = pd.DataFrame(rows).rename_axis("trial").reset_index()
    best = int(np.argmax(table["inner_roc_auc"].to_numpy()))
    params = candidates[best]
    log.info(
        "%s: chose %s (inner ROC AUC %.4f)",
        data.name,
        params or "the project's",
        rows[best]["inner_roc_auc"],
    )
    protocol = (
        f"{len(rows)} candidates (the project's settings, LightGBM defaults, then Optuna TPE), "
        f"each scored by mean ROC AUC over {folds} stratified inner folds of the training rows"
    )
    return StaticTuning(params, float(table["inner_roc_auc"].iloc[best]), table, protocol)
