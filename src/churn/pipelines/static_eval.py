"""Held-out evaluation of a static-table model, and its lines in the ``churn train`` summary.

The model and the logistic baseline are fitted on the training rows only; every metric of
``churn.modeling.evaluate`` is computed on the held-out rows, with 95% intervals from the
customer-level bootstrap (``churn.modeling.bootstrap_intervals``) and the paired difference
LightGBM minus baseline; both are corrected for a declared ``static.sampling`` first.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

#: Held-out metrics logged as ``holdout_<name>`` (and ``holdout_baseline_logreg_<name>``).
HOLDOUT_METRICS = (
    "roc_auc",
    "pr_auc",
    "top_decile_lift",
    "precision_at_k",
    "brier",
    "log_loss",
    "ece",
    "calibration_intercept",
    "calibration_slope",
)
MODEL, BASELINE = "lightgbm", "logistic_regression"

log = logging.getLogger(__name__)


def evaluate_holdout(
    train: Any, test: Any, model: Any, *, seed: int, tuning: Any = None
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Metrics of ``model`` (a fitted ``StaticModel``) and the baseline on ``test`` (None: no
    held-out rows, no metrics), and the run's tables (with ``tuning``: its trials).

    Returns ``(metrics, tables)``: run metrics ``holdout_*`` (``_low``/``_high`` for the
    bootstrap metrics) and ``evaluation/holdout.csv``, one row per scorer and metric.
    """
    tables = {"evaluation/tuning_trials.csv": tuning.trials} if tuning is not None else {}
    if test is None:
        return {}, tables
    metrics, tables["evaluation/holdout.csv"] = _holdout_metrics(train, test, model, seed)
    return metrics, tables


def _holdout_metrics(
    train: Any, test: Any, model: Any, seed: int, n_resamples: int = 1000
) -> tuple[dict[str, float], pd.DataFrame]:
    from churn.modeling import CI_METRICS, LogisticBaseline, bootstrap_intervals, evaluate
    from churn.static_table import odds_correct

    y = test.label
    features = list(train.features.columns)
    baseline = LogisticBaseline(features, seed=seed).fit(train.features, train.label)
    scores = {
        MODEL: model.predict_proba(test)["churn_probability"].to_numpy(),
        BASELINE: odds_correct(baseline.predict_proba(test.features), model.odds_factor),
    }
    k = max(1, math.ceil(len(y) / 10))
    point = {name: evaluate(y, p, capacity_k=k) for name, p in scores.items()}
    ci = bootstrap_intervals(
        y,
        scores,
        test.customer_id,
        capacity_k=k,
        n_resamples=n_resamples,
        seed=seed,
        reference=MODEL,
    )
    metrics: dict[str, float] = {
        "holdout_rows": float(len(y)),
        "holdout_churn_rate": float(np.mean(y)),
        "holdout_mean_probability": float(np.mean(scores[MODEL])),
        "train_rows": float(len(train.label)),
        "train_churn_rate": float(train.churn_rate),
    }
    records = []
    for name, prefix in ((MODEL, "holdout_"), (BASELINE, "holdout_baseline_logreg_")):
        for m in HOLDOUT_METRICS:
            metrics[f"{prefix}{m}"] = float(point[name][m])
            low = high = math.nan
            if m in CI_METRICS:
                low, high = ci[name][m].low, ci[name][m].high
                metrics[f"{prefix}{m}_low"], metrics[f"{prefix}{m}_high"] = low, high
            records.append(
                {"scorer": name, "metric": m, "estimate": point[name][m]}
                | {"low": low, "high": high}
            )
    for m in CI_METRICS:
        d = ci[f"{MODEL}-{BASELINE}"][m]
        records.append(
            {"scorer": f"{MODEL}-{BASELINE}", "metric": m, "estimate": d.estimate}
            | {"low": d.low, "high": d.high}
        )
    return metrics, pd.DataFrame.from_records(records)


def holdout_lines(report: Any) -> list[str]:
    """The held-out block of the ``churn train`` summary (empty without held-out rows), and
    the warning of churn rates far apart (``report``: a ``StaticTrainReport``)."""
    from churn.static_table.holdout import MISMATCH_START

    m = report.metrics
    if "holdout_roc_auc" not in m:
        return []
    lines = [
        f"held out: {m['holdout_rows']:,.0f} customers never trained on (churn rate "
        f"{m['holdout_churn_rate']:.1%}; mean predicted {m['holdout_mean_probability']:.1%})",
        f"  {'metric':<16} {'LightGBM [95% CI]':>26} {'logistic':>9} {'CV':>7}",
    ]
    for key in ("roc_auc", "pr_auc", "top_decile_lift", "precision_at_k", "brier", "log_loss"):
        ci = ""
        if f"holdout_{key}_low" in m:
            ci = f"[{m[f'holdout_{key}_low']:.3f}, {m[f'holdout_{key}_high']:.3f}]"
        # A sampled training set: its lift on the population it came from (static.sampling).
        cv = m.get(f"cv_{key}_population", m.get(f"cv_{key}", math.nan))
        lines.append(
            f"  {key:<16} {m[f'holdout_{key}']:>7.3f} {ci:>18} "
            f"{m[f'holdout_baseline_logreg_{key}']:>9.3f} {cv:>7.3f}"
        )
    return lines + [f"warning: {w}" for w in report.warnings if w.startswith(MISMATCH_START)]


def leak_probe(dataset: Any, cv_auc: float, training: Any, accepted: tuple[str, ...]) -> Any:
    """The leak probe of a static table: each column alone on every training row, and the CV
    ROC AUC."""
    from churn.modeling import check_model, probe_features

    probe = probe_features(
        dataset.features,
        dataset.label,
        threshold=training.leak_single_feature_auc,
        accepted=accepted,
        seed=training.seed,
    )
    return check_model(probe, cv_auc, training.leak_model_auc)


def tune_rows(train: Any, trials: int, seed: int, threads: int, progress: bool) -> Any:
    """LightGBM settings chosen on inner folds of the training rows (None: ``trials`` 0)."""
    from churn.static_table import tune_static

    if trials <= 0:
        return None
    return tune_static(train, trials=trials, seed=seed, num_threads=threads, progress=progress)
