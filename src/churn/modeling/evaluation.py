"""Metrics for a churn model, as account teams use it: rank, cut the top K, and trust the number.

All functions are pure, take 1-d arrays (``y`` 0/1 outcomes, ``p`` scores or probabilities) and
never look at data beyond what they are given. Ranking metrics accept any score; the
probability metrics (log loss, Brier, ECE) need calibrated probabilities to mean anything.

Conventions, written down once:

- **Top K** takes the K highest scores, ties broken by position (a stable sort), and K is the
  team's *weekly* capacity: when an ``as_of`` array is given, the @K metrics are computed per
  snapshot date and averaged, because a list is cut every week, not once over a whole window.
- **Expected calibration error** uses ``n_bins`` *equal-mass* bins: rows sorted by ``p`` and split
  into bins of (nearly) equal count. With churn rates of a few percent, equal-width bins would
  put almost every row in the first bin and hide miscalibration where the list is cut.
  ECE = sum over bins of (bin share of rows) * |mean(y) - mean(p)| in the bin. Tied scores
  are split by position, so a constant prediction's bins are arbitrary equal slices of rows.
  ECE alone says little at low churn rates (a constant at the training churn rate scores
  nearly as well), so it is reported with the **calibration intercept and slope**
  (:func:`calibration_intercept_slope`).
- **Top-decile lift** = churn rate among the top ceil(n/10) scores / overall churn rate.
- **ARR captured at K** = ARR of the churners in the top K / ARR of all churners (missing ARR
  counts as 0). In ``evaluate`` the top K for this metric is ranked by expected ARR lost
  (score x ARR), the order of the weekly list (``scoring.priority = "revenue_at_risk"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

#: Metric names in the order reports show them; ``evaluate`` returns exactly these keys.
METRIC_NAMES: tuple[str, ...] = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "calibration_intercept",
    "calibration_slope",
    "top_decile_lift",
    "precision_at_k",
    "recall_at_k",
    "arr_captured_at_k",
    "churn_rate",
    "n_rows",
)


def _arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y and p must be 1-d arrays of one length, got {y.shape} and {p.shape}")
    return y, p


def _top_k_index(p: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores; ties go to the earlier row (stable)."""
    order = np.argsort(-p, kind="stable")
    return order[: min(k, len(p))]


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve; NaN when ``y`` has one class only."""
    y, p = _arrays(y, p)
    if len(np.unique(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, p))


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision); NaN without churners."""
    y, p = _arrays(y, p)
    if y.sum() == 0:
        return math.nan
    return float(average_precision_score(y, p))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probabilities."""
    y, p = _arrays(y, p)
    return float(np.mean((p - y) ** 2))


def logloss(y: np.ndarray, p: np.ndarray) -> float:
    """Binary log loss (natural log), probabilities clipped to [1e-15, 1 - 1e-15]."""
    y, p = _arrays(y, p)
    return float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0.0, 1.0]))


def reliability_curve(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Equal-mass reliability bins: mean predicted vs observed churn rate per bin.

    Returns
    -------
    DataFrame
        One row per non-empty bin: ``bin``, ``n``, ``mean_predicted``, ``observed_rate``,
        ``p_min``, ``p_max``.
    """
    y, p = _arrays(y, p)
    order = np.argsort(p, kind="stable")
    rows = []
    for b, idx in enumerate(np.array_split(order, n_bins)):
        if len(idx) == 0:
            continue
        rows.append(
            {
                "bin": b,
                "n": len(idx),
                "mean_predicted": float(p[idx].mean()),
                "observed_rate": float(y[idx].mean()),
                "p_min": float(p[idx].min()),
                "p_max": float(p[idx].max()),
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE over equal-mass bins (see the module docstring)."""
    curve = reliability_curve(y, p, n_bins)
    if curve.empty:
        return math.nan
    gap = (curve["observed_rate"] - curve["mean_predicted"]).abs()
    return float((gap * curve["n"]).sum() / curve["n"].sum())


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _newton_logistic(
    y: np.ndarray, X: np.ndarray, offset: np.ndarray, iterations: int = 50
) -> np.ndarray:
    """Unpenalised logistic regression of ``y`` on ``X`` with an ``offset`` (Newton-Raphson).

    Steps are capped at 5 (in logit units), so separable data gives a large finite answer
    instead of an overflow."""
    beta = np.zeros(X.shape[1])
    for _ in range(iterations):
        mu = expit(X @ beta + offset)
        grad = X.T @ (y - mu)
        hess = (X * (mu * (1 - mu))[:, None]).T @ X
        step = np.linalg.lstsq(hess + 1e-9 * np.eye(X.shape[1]), grad, rcond=None)[0]
        step *= min(1.0, 5.0 / max(np.max(np.abs(step)), 1e-300))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def calibration_intercept_slope(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration of ``p`` on outcomes ``y``: ``(intercept, slope)``.

    The definitions of Van Calster et al. (2019, "Calibration: the Achilles heel of predictive
    analytics"): the **slope** b of ``logit P(y=1) = a + b * logit(p)`` (1 is ideal; below 1 the
    probabilities are too extreme, above 1 too timid) and the **intercept** a of
    ``logit P(y=1) = a + logit(p)`` with the slope fixed at 1 (calibration in the large; 0 is
    ideal, positive when the probabilities are too low on average). ``p`` is clipped to
    [1e-6, 1 - 1e-6] first. NaN with one class only; the slope is NaN for a constant ``p``.
    """
    y, p = _arrays(y, p)
    if len(np.unique(y)) < 2:
        return math.nan, math.nan
    z = _logit(p)
    ones = np.ones((len(y), 1))
    intercept = _newton_logistic(y, ones, z)[0]
    if np.ptp(z) == 0:
        return float(intercept), math.nan
    slope = _newton_logistic(y, np.column_stack([ones, z]), np.zeros(len(y)))[1]
    return float(intercept), float(slope)


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    """Churn rate in the top 10% of scores over the overall churn rate."""
    y, p = _arrays(y, p)
    base = y.mean() if len(y) else 0.0
    if base == 0:
        return math.nan
    top = _top_k_index(p, math.ceil(len(p) / 10))
    return float(y[top].mean() / base)


def precision_at_k(y: np.ndarray, p: np.ndarray, k: int) -> float:
    """Share of churners among the top ``k`` scores."""
    y, p = _arrays(y, p)
    top = _top_k_index(p, k)
    return float(y[top].mean()) if len(top) else math.nan


def recall_at_k(y: np.ndarray, p: np.ndarray, k: int) -> float:
    """Share of all churners that are in the top ``k`` scores."""
    y, p = _arrays(y, p)
    if y.sum() == 0:
        return math.nan
    return float(y[_top_k_index(p, k)].sum() / y.sum())


def arr_captured_at_k(y: np.ndarray, p: np.ndarray, arr: np.ndarray, k: int) -> float:
    """ARR of churners in the top ``k`` over the ARR of all churners."""
    y, p = _arrays(y, p)
    arr = np.nan_to_num(np.asarray(arr, dtype=float), nan=0.0)
    lost = (y * arr).sum()
    if lost == 0:
        return math.nan
    top = _top_k_index(p, k)
    return float((y[top] * arr[top]).sum() / lost)


def gains_curve(y: np.ndarray, p: np.ndarray, points: int = 101) -> pd.DataFrame:
    """Cumulative gains: share of churners caught when contacting the top share of customers.

    Returns ``share_contacted`` (0..1) and ``share_captured`` (0..1) at ``points`` even steps.
    """
    y, p = _arrays(y, p)
    order = np.argsort(-p, kind="stable")
    total = y.sum()
    captured = np.concatenate([[0.0], np.cumsum(y[order])]) / (total if total else 1.0)
    share = np.linspace(0.0, 1.0, points)
    idx = np.round(share * len(y)).astype(int)
    return pd.DataFrame({"share_contacted": share, "share_captured": captured[idx]})


def _per_snapshot_mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def evaluate(
    y: np.ndarray,
    p: np.ndarray,
    *,
    arr: np.ndarray | None = None,
    as_of: np.ndarray | pd.Series | None = None,
    capacity_k: int = 100,
    n_bins: int = 10,
) -> dict[str, float]:
    """All headline metrics for one set of scores.

    Parameters
    ----------
    y, p
        Outcomes (0/1) and scores.
    arr
        ARR per row, for ``arr_captured_at_k``; NaN metric when not given.
    as_of
        Snapshot date per row: the @K metrics are computed per date and averaged.
    capacity_k
        Accounts the teams can work per week.
    n_bins
        Equal-mass bins for ECE.

    Returns
    -------
    dict
        Keys ``METRIC_NAMES``; NaN where a metric is undefined.
    """
    y, p = _arrays(y, p)
    arr_values = np.full(len(y), np.nan) if arr is None else np.asarray(arr, dtype=float)
    groups = (
        [np.arange(len(y))]
        if as_of is None
        else [np.flatnonzero(m) for m in _group_masks(np.asarray(as_of))]
    )
    at_k: dict[str, list[float]] = {"precision_at_k": [], "recall_at_k": [], "arr_captured": []}
    for idx in groups:
        at_k["precision_at_k"].append(precision_at_k(y[idx], p[idx], capacity_k))
        at_k["recall_at_k"].append(recall_at_k(y[idx], p[idx], capacity_k))
        at_k["arr_captured"].append(
            arr_captured_at_k(
                y[idx], p[idx] * np.nan_to_num(arr_values[idx]), arr_values[idx], capacity_k
            )
            if arr is not None
            else math.nan
        )
    intercept, slope = calibration_intercept_slope(y, p)
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "log_loss": logloss(y, p),
        "brier": brier(y, p),
        "ece": expected_calibration_error(y, p, n_bins),
        "calibration_intercept": intercept,
        "calibration_slope": slope,
        "top_decile_lift": top_decile_lift(y, p),
        "precision_at_k": _per_snapshot_mean(at_k["precision_at_k"]),
        "recall_at_k": _per_snapshot_mean(at_k["recall_at_k"]),
        "arr_captured_at_k": _per_snapshot_mean(at_k["arr_captured"]),
        "churn_rate": float(y.mean()) if len(y) else math.nan,
        "n_rows": float(len(y)),
    }


def _group_masks(keys: np.ndarray) -> list[np.ndarray]:
    return [keys == k for k in pd.unique(keys)]


def comparison_table(results: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Metrics side by side: one column per scorer (model, baselines, oracle), rows = metrics."""
    table = pd.DataFrame({name: pd.Series(m) for name, m in results.items()})
    order = [m for m in METRIC_NAMES if m in table.index]
    return table.loc[order + [m for m in table.index if m not in order]]
