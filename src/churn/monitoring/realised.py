"""Past lists against what happened: the week's list scored on the labels that matured since.

A week "matures" when its label window ``[as_of + lead, as_of + lead + horizon)`` has ended
before the extraction: then every scored customer is known to have churned or stayed (labels
from ``churn.labels.attach_labels``, the same code as training; a customer who left during the
lead time has no label and is left out).

Intervals are 95% percentile intervals of a customer-level bootstrap
(``churn.modeling.uncertainty``): every resample draws customers with replacement, so the
intervals stay honest when weeks are pooled and the same customer appears in several.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from churn.modeling.uncertainty import customer_weights, percentile_interval, resampled_metrics


def _ratio(w: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Weighted ``sum(num) / sum(den)`` per resample (rows of ``w``); NaN where 0/0."""
    top, bottom = w @ num, w @ den
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def _interval(boot: np.ndarray, point: float) -> dict[str, float]:
    iv = percentile_interval(boot, point)
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high}


def realised_week(
    scores: pd.DataFrame,
    labels: pd.Series,
    *,
    capacity_k: int,
    tiers: Sequence[tuple[str, float]],
    n_resamples: int = 500,
    seed: int = 0,
) -> dict[str, object]:
    """What one matured week's list achieved, with 95% customer-bootstrap intervals.

    Parameters
    ----------
    scores
        The week's ``scores.parquet`` (customer_id, churn_probability, arr, risk_tier, listed).
    labels
        0/1 outcome per row of ``scores`` (NaN: unknown, left out).
    capacity_k
        K of precision@K (the top K by probability, as in training's evaluation).
    tiers
        ``scoring.tiers``: (name, lower bound), for predicted vs realised churn per tier.
    n_resamples, seed
        Bootstrap size and seed (0 resamples: no intervals).

    Returns
    -------
    dict
        ``n``, ``churners``, ``churn_rate``, ``predicted_rate``, ``list_precision``,
        ``list_recall``, ``precision_at_k``, ``roc_auc`` (each ``{estimate, low, high}``),
        ``arr_lost_listed``, ``arr_lost_unlisted``, ``arr_lost_listed_share`` and ``tiers``.
    """
    known = np.isfinite(np.asarray(labels, dtype=float))
    rows = scores.loc[known].reset_index(drop=True)
    y = np.asarray(labels, dtype=float)[known]
    p = rows["churn_probability"].to_numpy(dtype=float)
    listed = rows["listed"].to_numpy(dtype=float)
    arr = pd.to_numeric(rows["arr"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    ones = np.ones(len(y))
    w = customer_weights(rows["customer_id"].to_numpy(), n_resamples, seed)
    point_w = ones[None, :]
    as_of = np.zeros(len(y))

    def both(num: np.ndarray, den: np.ndarray) -> dict[str, float]:
        return _interval(_ratio(w, num, den), float(_ratio(point_w, num, den)[0]))

    if n_resamples:
        ranked = resampled_metrics(y, {"m": p}, w, as_of=as_of, capacity_k=capacity_k)["m"]
    else:  # no intervals: percentile_interval of nothing is NaN
        ranked = {"precision_at_k": np.array([]), "roc_auc": np.array([])}
    point = resampled_metrics(y, {"m": p}, point_w, as_of=as_of, capacity_k=capacity_k)["m"]
    lost_listed = float((arr * y * listed).sum())
    lost_all = float((arr * y).sum())
    return {
        "n": len(y),
        "churners": int(y.sum()),
        "churn_rate": both(y, ones),
        "predicted_rate": float(p.mean()) if len(p) else math.nan,
        "list_precision": both(y * listed, listed),
        "list_recall": both(y * listed, y),
        "precision_at_k": _interval(ranked["precision_at_k"], float(point["precision_at_k"][0])),
        "roc_auc": _interval(ranked["roc_auc"], float(point["roc_auc"][0])),
        "arr_lost_listed": lost_listed,
        "arr_lost_unlisted": lost_all - lost_listed,
        "arr_lost_listed_share": both(arr * y * listed, arr * y),
        "tiers": _tiers(rows, y, p, w, tiers),
    }


def _tiers(
    rows: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray,
    tiers: Sequence[tuple[str, float]],
) -> list[dict[str, object]]:
    """Predicted (mean probability) against realised churn rate, per risk tier."""
    out = []
    tier = rows["risk_tier"].astype(str).to_numpy()
    for name, _ in tiers:
        inside = (tier == name).astype(float)
        n = int(inside.sum())
        rate = _interval(
            _ratio(w, y * inside, inside), float(y[inside > 0].mean()) if n else math.nan
        )
        out.append(
            {
                "tier": name,
                "n": n,
                "predicted": float(p[inside > 0].mean()) if n else math.nan,
                "realised": rate,
            }
        )
    return out
