"""Monitoring: did the past lists come true, has the data moved, is the champion stale?

Pure functions over DataFrames and plain dicts (the shell, ``churn.pipelines.monitor``, reads
the week folders, builds labels and features, talks to MLflow and writes the files):

- ``estimate``: quality expected from the calibrated probabilities before labels (CBPE);
- ``realised``: a matured week's list against what happened, with customer-bootstrap intervals;
- ``drift``: PSI and missing shares per feature, training window against the week;
- ``summary``: one week's entry, score distribution, the champion's training end and age;
- ``recommend``: retrain or not, each crossed threshold in words;
- ``page``: ``monitor.json`` and ``monitor.html``.
"""

from __future__ import annotations

from churn.monitoring.drift import PSI_FLOOR, bin_shares, feature_drift, psi
from churn.monitoring.estimate import expected_precision_at_k, expected_roc_auc, expected_week
from churn.monitoring.page import render_json, render_page
from churn.monitoring.realised import realised_week
from churn.monitoring.recommend import recommend
from churn.monitoring.summary import (
    reference_dates,
    score_distribution,
    staleness,
    training_end,
    week_entry,
    window_bounds,
)

__all__ = [
    "PSI_FLOOR",
    "bin_shares",
    "expected_precision_at_k",
    "expected_roc_auc",
    "expected_week",
    "feature_drift",
    "psi",
    "realised_week",
    "recommend",
    "reference_dates",
    "render_json",
    "render_page",
    "score_distribution",
    "staleness",
    "training_end",
    "week_entry",
    "window_bounds",
]
