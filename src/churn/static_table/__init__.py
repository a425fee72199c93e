"""The flag-table mode: a static table with a churn flag, cross-validated or held out."""

from __future__ import annotations

from churn.static_table.core import (
    STATIC_LIGHTGBM,
    cross_validate,
    fit_lightgbm,
    fit_static,
    load_static,
    no_activity_labels,
    prepare_static,
    visible_before,
)

__all__ = [
    "STATIC_LIGHTGBM",
    "cross_validate",
    "fit_lightgbm",
    "fit_static",
    "load_static",
    "no_activity_labels",
    "prepare_static",
    "visible_before",
]
