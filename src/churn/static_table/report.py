"""What a static-table run reports: the dataset in words, and the cross-validation's metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

from churn.static_table.core import CrossValidation, StaticDataset

#: CV metrics logged as ``cv_<name>`` (LightGBM) and ``baseline_logreg_<name>``.
STATIC_METRICS = ("roc_auc", "pr_auc", "top_decile_lift", "brier", "log_loss")


def describe_static(data: StaticDataset) -> str:
    """A short summary of a prepared static table: size, churn rate, features, warnings."""
    X = data.features
    n_cat = len(data.categorical)
    shown = ", ".join(map(str, X.columns[:12])) + (
        f", ... ({X.shape[1] - 12} more)" if X.shape[1] > 12 else ""
    )
    lines = [
        f"Dataset {data.name!r}: static customer table (churn.definition: flag), no time axis",
        f"  customers: {len(data.label):,}; left: {int(np.nansum(data.label)):,} "
        f"(churn rate {data.churn_rate:.1%})",
        f"  features: {X.shape[1]} ({X.shape[1] - n_cat} numeric, {n_cat} categorical): {shown}",
    ]
    if data.duplicates_dropped:
        lines.append(f"  exact duplicates dropped before any split: {data.duplicates_dropped:,}")
    if data.warnings:
        lines.append(f"Warnings ({len(data.warnings)}):")
        lines.extend(f"  - {w}" for w in data.warnings)
    else:
        lines.append("No warnings.")
    return "\n".join(lines)


def cv_metrics(cv: CrossValidation, odds_factor: float = 1.0) -> tuple[dict[str, float], int]:
    """Run metrics of a cross-validation, and the final model's tree count.

    ``cv_<m>`` and ``cv_<m>_std`` for LightGBM, ``baseline_logreg_<m>`` for the baseline, and
    ``cv_mean_trees``. The final model has no held-out rows left to early-stop on: it takes the
    tree count that early stopping chose, on average, inside the training folds. With a
    sampled training set (``odds_factor`` != 1), ``cv_top_decile_lift_population`` is the lift
    of the first repeat's out-of-fold scores on the population the rows were sampled from.
    """
    from churn.static_table.holdout import population_lift

    s = cv.summary
    metrics: dict[str, float] = {}
    for m in STATIC_METRICS:
        metrics[f"cv_{m}"] = float(s.loc["lightgbm", (m, "mean")])
        metrics[f"cv_{m}_std"] = float(s.loc["lightgbm", (m, "std")])
        metrics[f"baseline_logreg_{m}"] = float(s.loc["logistic_regression", (m, "mean")])
    trees_per_fold = cv.folds.loc[cv.folds["model"] == "lightgbm", "trees"]
    trees = max(1, round(float(trees_per_fold.mean())))
    metrics["cv_mean_trees"] = float(trees_per_fold.mean())
    if odds_factor != 1.0:
        oof = cv.oof.dropna(subset=["lightgbm"])
        metrics["cv_top_decile_lift_population"] = population_lift(
            oof["label"].to_numpy(), oof["lightgbm"].to_numpy(), odds_factor
        )
    return metrics, trees


def static_params(data: StaticDataset, cv: CrossValidation, **run: Any) -> dict[str, Any]:
    """Run parameters of a static-table model: ``run`` (mode, paths, folds, seed...) first, then
    the table's shape, the protocol and the LightGBM settings (``lgb.*``)."""
    from churn.static_table.core import STATIC_LIGHTGBM

    return {
        **run,
        "rows": len(data.label),
        "n_features": data.features.shape[1],
        "n_categorical": len(data.categorical),
        "churn_rate": round(data.churn_rate, 5),
        "duplicates_dropped": data.duplicates_dropped,
        "protocol": cv.protocol,
        **{f"lgb.{k}": v for k, v in STATIC_LIGHTGBM.items()},
    }
