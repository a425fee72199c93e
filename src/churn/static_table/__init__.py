"""The flag-table mode: a static table with a churn flag, cross-validated or held out."""

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
from churn.static_table.report import STATIC_METRICS, cv_metrics, describe_static, static_params

__all__ = [
    "STATIC_LIGHTGBM",
    "STATIC_METRICS",
    "CrossValidation",
    "StaticDataset",
    "StaticModel",
    "cross_validate",
    "cv_metrics",
    "describe_static",
    "fit_lightgbm",
    "fit_static",
    "load_static",
    "no_activity_labels",
    "prepare_static",
    "static_params",
    "visible_before",
]
