"""Model, calibration, training, evaluation, baselines and the promotion gate."""

from __future__ import annotations

from churn.modeling.baselines import (
    LogisticBaseline,
    health_rules_used,
    health_score,
    health_score_proba,
)
from churn.modeling.evaluation import (
    comparison_table,
    evaluate,
    gains_curve,
    pr_auc,
    reliability_curve,
    roc_auc,
    top_decile_lift,
)
from churn.modeling.model import Calibrator, ChurnModel
from churn.modeling.promotion import ORACLE_LEAK_RATIO, gate
from churn.modeling.training import (
    backtest,
    backtest_summary,
    feature_columns,
    out_of_time_split,
    train_model,
    tune,
)

__all__ = [
    "Calibrator",
    "ChurnModel",
    "LogisticBaseline",
    "ORACLE_LEAK_RATIO",
    "backtest",
    "backtest_summary",
    "comparison_table",
    "evaluate",
    "feature_columns",
    "gains_curve",
    "gate",
    "health_rules_used",
    "health_score",
    "health_score_proba",
    "out_of_time_split",
    "pr_auc",
    "reliability_curve",
    "roc_auc",
    "top_decile_lift",
    "train_model",
    "tune",
]
