"""The flag-table mode: a static table with a churn flag, cross-validated or held out.

Modules: ``core`` (prepare, fit, cross-validate), ``holdout`` (held-out rows, sampling
correction), ``tuning`` (LightGBM settings on inner folds), ``report`` (summaries, metrics).
"""

from __future__ import annotations

from churn.static_table.core import (
    STATIC_LIGHTGBM,
    CrossValidation,
    StaticDataset,
    StaticModel,
    cross_validate,
    fit_lightgbm,
    fit_static,
    load_static,
    no_activity_labels,
    prepare_static,
    visible_before,
)
from churn.static_table.holdout import (
    holdout_columns,
    odds_correct,
    population_lift,
    rate_mismatch,
    sampling_factor,
)
from churn.static_table.report import STATIC_METRICS, cv_metrics, describe_static, static_params
from churn.static_table.tuning import LIGHTGBM_DEFAULTS, StaticTuning, tune_static

__all__ = [
    "LIGHTGBM_DEFAULTS",
    "STATIC_LIGHTGBM",
    "STATIC_METRICS",
    "CrossValidation",
    "StaticDataset",
    "StaticModel",
    "StaticTuning",
    "cross_validate",
    "cv_metrics",
    "describe_static",
    "fit_lightgbm",
    "fit_static",
    "holdout_columns",
    "load_static",
    "no_activity_labels",
    "odds_correct",
    "population_lift",
    "prepare_static",
    "rate_mismatch",
    "sampling_factor",
    "static_params",
    "tune_static",
    "visible_before",
]
