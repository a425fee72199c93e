"""Model, calibration, training, evaluation, baselines and the promotion gate."""

from __future__ import annotations

from churn.modeling.baselines import (
    LogisticBaseline,
    health_rules_used,
    health_score,
    health_score_proba,
)
from churn.modeling.compare import (
    CHAMPION,
    LOGREG,
    MODEL,
    MODEL_RAW,
    ORACLE,
    RULE,
    Comparison,
    compare_on_test,
    comparison_figures,
    oracle_scores,
    rescore_champion,
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
from churn.modeling.promotion import ORACLE_LEAK_RATIO, decide_promotion, gate, judge
from churn.modeling.training import (
    backtest,
    backtest_summary,
    feature_columns,
    feature_importance,
    out_of_time_split,
    train_model,
    tune,
)

__all__ = [
    "CHAMPION",
    "Calibrator",
    "ChurnModel",
    "Comparison",
    "LOGREG",
    "LogisticBaseline",
    "MODEL",
    "MODEL_RAW",
    "ORACLE",
    "ORACLE_LEAK_RATIO",
    "RULE",
    "backtest",
    "backtest_summary",
    "compare_on_test",
    "comparison_figures",
    "comparison_table",
    "decide_promotion",
    "evaluate",
    "feature_columns",
    "feature_importance",
    "gains_curve",
    "gate",
    "health_rules_used",
    "health_score",
    "health_score_proba",
    "judge",
    "oracle_scores",
    "out_of_time_split",
    "pr_auc",
    "reliability_curve",
    "rescore_champion",
    "roc_auc",
    "top_decile_lift",
    "train_model",
    "tune",
]
