"""Quality before labels: what the calibrated probabilities expect a week's list to achieve.

Confidence-based performance estimation (CBPE, as NannyML's): if the probabilities are
calibrated, customer ``i`` churns with probability ``p_i``, so every metric has an expected
value computable from the scores alone, weeks before the horizon passes. NannyML does not
support pandas 3, and the metrics needed here take a few lines each:

- expected precision of a set of customers (the list, or the top K by probability): the mean
  ``p`` over the set, since each listed customer is a churner with probability ``p``;
- expected recall of the set: ``sum p`` over the set divided by ``sum p`` over everyone;
- expected ROC AUC: the expected number of correctly ordered (churner, stayer) pairs over the
  expected number of such pairs, ``sum_{i != j} p_i (1 - p_j) [s_i > s_j]`` (ties half) over
  ``sum_{i != j} p_i (1 - p_j)``, with the ranking score ``s = p``. A ratio of expectations,
  not the expectation of the ratio: with a few hundred customers the difference is well
  below the bootstrap noise of the realised figure.

The estimates are only as good as the calibration: under drift that breaks calibration they
are wrong in the same direction as the model, which is why the realised figures sit beside
them once they mature.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def expected_roc_auc(p: np.ndarray | pd.Series) -> float:
    """Expected ROC AUC of ranking customers by their calibrated probabilities ``p``.

    NaN with fewer than two customers or when every ``p`` is 0 or every ``p`` is 1.
    """
    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p)]
    if len(p) < 2:
        return math.nan
    order = np.argsort(p, kind="stable")
    ps = p[order]
    q = 1.0 - ps
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    pos = np.add.reduceat(ps, starts)  # expected churners per distinct score
    neg = np.add.reduceat(q, starts)  # expected stayers per distinct score
    below = np.cumsum(neg) - neg  # expected stayers strictly below each score
    # Pairs within one tied group count half; a customer is never paired with itself.
    within = pos * neg - np.add.reduceat(ps * q, starts)
    good = float((pos * below).sum() + 0.5 * within.sum())
    pairs = float(ps.sum() * q.sum() - (ps * q).sum())
    return good / pairs if pairs > 0 else math.nan


def expected_precision_at_k(p: np.ndarray | pd.Series, k: int) -> float:
    """Expected precision of the ``k`` customers with the highest probabilities."""
    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p)]
    if len(p) == 0 or k <= 0:
        return math.nan
    top = np.sort(p)[::-1][: min(k, len(p))]
    return float(top.mean())


def expected_week(scores: pd.DataFrame, capacity_k: int) -> dict[str, float]:
    """The CBPE estimates of one scored week (a ``scores.parquet`` frame).

    Returns expected churn rate, churners, ARR lost, the list's precision and recall (the list
    as sent: ``listed``), precision@K by probability and ROC AUC.
    """
    p = scores["churn_probability"].to_numpy(dtype=float)
    listed = scores["listed"].to_numpy(dtype=bool)
    arr = pd.to_numeric(scores["arr"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    total = float(p.sum())
    return {
        "scored": float(len(p)),
        "listed": float(listed.sum()),
        "churn_rate": float(p.mean()) if len(p) else math.nan,
        "churners": total,
        "arr_lost": float((p * arr).sum()),
        "list_precision": float(p[listed].mean()) if listed.any() else math.nan,
        "list_recall": float(p[listed].sum() / total) if total > 0 else math.nan,
        "precision_at_k": expected_precision_at_k(p, capacity_k),
        "roc_auc": expected_roc_auc(p),
    }
