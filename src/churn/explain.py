"""Reasons: why a customer is at risk, in plain English, from TreeSHAP contributions.

The model's contributions (``ChurnModel.contributions``: LightGBM's exact TreeSHAP values, one
column per feature plus ``bias``) are in **log-odds** of the uncalibrated model. They add up
(``bias + sum(contributions) = logit(raw probability)``) but they are not percentages, so this
module never shows them as such. Where a reason's size is shown it is converted honestly to
probability terms::

    effect_j = calibrate(sigmoid(total)) - calibrate(sigmoid(total - contribution_j))

i.e. the customer's calibrated probability as scored minus the calibrated probability with that
one feature's push removed (its contribution replaced by the average customer's, which is what a
zero SHAP value means). Effects of several features do not add up to the probability and, with
an isotonic calibrator, a small push can have no effect at all (a flat calibration step): both
are honest consequences of the non-linear link, and why the report labels them "points" of
probability, not shares of the risk.

Only features that RAISE risk for that customer (positive contribution) become reasons: an
account team asks "why is this one at risk", and "because their NPS is high" is no answer. The
sentence itself comes from ``churn.features.catalogue.render_reason`` using the customer's own feature
values, so it is a true statement about their data ("NPS fell from 9 to 4"), never a feature name.

Everything here is pure: frames in, new frames out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: Renders one reason: (feature name, the customer's feature row, direction +1/-1) -> sentence.
Renderer = Callable[[str, Mapping[str, Any], int], str]
#: Maps uncalibrated probabilities to calibrated ones (the model's calibrator).
Calibrate = Callable[[np.ndarray], np.ndarray]

BIAS = "bias"
RAISES_RISK = "raises risk"


def _identity(p: np.ndarray) -> np.ndarray:
    return p


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reason_columns(k: int) -> list[str]:
    """Column names written by :func:`top_reasons` for ``k`` reasons, in order."""
    cols: list[str] = []
    for i in range(1, k + 1):
        cols += [
            f"reason_{i}",
            f"reason_{i}_feature",
            f"reason_{i}_family",
            f"reason_{i}_direction",
            f"reason_{i}_effect",
        ]
    return cols + ["main_driver"]


def top_contributors(
    contributions: pd.DataFrame, k: int = 3
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per row, the ``k`` features with the largest POSITIVE contribution, largest first.

    Parameters
    ----------
    contributions
        TreeSHAP log-odds, one column per feature plus optionally ``bias`` (ignored).
    k
        How many to keep per row.

    Returns
    -------
    index : ndarray of int, shape (n_rows, k)
        Column positions into ``names``; -1 where the row has fewer than ``k`` risk-raising
        features.
    value : ndarray of float, shape (n_rows, k)
        The contributions (log-odds); NaN where index is -1.
    names : list of str
        Feature names the positions refer to.
    """
    names = [c for c in contributions.columns if c != BIAS]
    values = contributions[names].to_numpy(dtype=float)
    k_eff = min(k, len(names))
    # Features that lower risk (or do nothing) are never a reason to call a customer.
    masked = np.where(values > 0, values, -np.inf)
    # Stable sort on the negated values: ties resolve by feature order, so reruns are identical.
    order = np.argsort(-masked, axis=1, kind="stable")[:, :k_eff]
    picked = np.take_along_axis(masked, order, axis=1)
    index = np.where(np.isfinite(picked), order, -1)
    value = np.where(np.isfinite(picked), picked, np.nan)
    if k_eff < k:
        pad = k - k_eff
        index = np.hstack([index, np.full((len(values), pad), -1)])
        value = np.hstack([value, np.full((len(values), pad), np.nan)])
    return index, value, names


def top_reasons(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    families: Mapping[str, str],
    render: Renderer,
    *,
    k: int = 3,
    calibrate: Calibrate | None = None,
) -> pd.DataFrame:
    """The top ``k`` risk-raising reasons per customer, as plain-English sentences.

    Parameters
    ----------
    contributions
        TreeSHAP log-odds from ``ChurnModel.contributions`` (feature columns plus ``bias``),
        same index as ``features``.
    features
        The customers' feature values (the frame that was scored); each sentence is rendered
        from the customer's own row so it is a true statement about their data.
    families
        Feature name -> driver family ("product adoption", "service experience", "sentiment",
        "commercial"); features missing here get the family "other".
    render
        ``churn.features.catalogue.render_reason``: (name, row, direction) -> sentence.
    k
        Reasons per customer (``ScoringSettings.reasons_per_customer``).
    calibrate
        The model's calibrator, so effects are in calibrated-probability points. Identity if
        omitted.

    Returns
    -------
    DataFrame
        Same index as ``contributions``; columns :func:`reason_columns` (k): for each reason the
        sentence, the feature, its family, its direction ("raises risk") and its effect in
        probability points; ``main_driver`` is the family of the first reason (None when no
        feature raises the customer's risk).
    """
    if not contributions.index.equals(features.index):
        raise ValueError("contributions and features must share the same index (same rows)")
    index, _, names = top_contributors(contributions, k)
    n = len(contributions)
    out: dict[str, Any] = {}
    calibrate = calibrate or _identity

    # Effects only for the features actually picked: the full matrix would cost one calibrator
    # pass per feature for every customer.
    values = contributions[names].to_numpy(dtype=float)
    total = contributions.to_numpy(dtype=float).sum(axis=1)
    p = np.asarray(calibrate(_sigmoid(total)), dtype=float)
    records = features.to_dict("records") if n else []

    for i in range(k):
        idx = index[:, i]
        has = idx >= 0
        safe = np.where(has, idx, 0)
        contrib = np.take_along_axis(values, safe[:, None], axis=1)[:, 0] if n else np.array([])
        without = np.asarray(calibrate(_sigmoid(total - np.where(has, contrib, 0.0))), dtype=float)
        effect = np.where(has, p - without, np.nan)
        feat = np.array([names[j] if h else None for j, h in zip(safe, has, strict=True)], object)
        sentences = [
            render(f, records[r], +1) if f is not None else None for r, f in enumerate(feat)
        ]
        fam = [families.get(f, "other") if f is not None else None for f in feat]
        out[f"reason_{i + 1}"] = sentences
        out[f"reason_{i + 1}_feature"] = list(feat)
        out[f"reason_{i + 1}_family"] = fam
        out[f"reason_{i + 1}_direction"] = [RAISES_RISK if h else None for h in has]
        out[f"reason_{i + 1}_effect"] = effect
    out["main_driver"] = out["reason_1_family"] if k else [None] * n
    # Text columns stay object with None for empty slots (pandas 3 would infer str with NaN).
    columns = {
        c: pd.Series(v, index=contributions.index, dtype=float if c.endswith("_effect") else object)
        for c, v in out.items()
    }
    return pd.DataFrame(columns, index=contributions.index)[reason_columns(k)]


def global_drivers(contributions: pd.DataFrame) -> pd.Series:
    """Mean absolute contribution per feature (log-odds), largest first: the global drivers.

    Mean |SHAP| is the usual global importance for TreeSHAP; it is in log-odds, so it ranks
    features and is plotted as such, never as a percentage.
    """
    names = [c for c in contributions.columns if c != BIAS]
    if contributions.empty:
        return pd.Series(0.0, index=names, name="mean_abs_contribution")
    mean_abs = contributions[names].abs().mean(axis=0)
    # Sort by value, then by name, so ties never reorder between runs.
    frame = pd.DataFrame({"feature": mean_abs.index, "value": mean_abs.to_numpy()})
    frame = frame.sort_values(["value", "feature"], ascending=[False, True], kind="stable")
    return pd.Series(
        frame["value"].to_numpy(), index=frame["feature"].to_list(), name="mean_abs_contribution"
    )


def recommend_play(
    main_driver: pd.Series, playbook: Mapping[str, str], default_play: str
) -> pd.Series:
    """The recommended play for each customer, mapped from the main driver family.

    A family with no entry in the playbook, or a customer with no risk-raising feature, gets
    ``default_play``.
    """
    return pd.Series(
        [
            playbook.get(f, default_play) if isinstance(f, str) else default_play
            for f in main_driver
        ],
        index=main_driver.index,
        dtype=object,
        name="recommended_play",
    )
